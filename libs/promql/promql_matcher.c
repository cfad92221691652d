/* promql_matcher.c - label matchers (PCRE2, fully anchored, dot matches newline like
 * Prometheus' (?s)) and the staleness-marker helpers. */
#include "promql_int.h"

#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

double
osp_promql_stale_nan(void)
{
    uint64_t b = OSP_PROMQL_STALE_BITS;
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

bool
osp_promql_is_stale(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b == OSP_PROMQL_STALE_BITS;
}

static void
free_code(void *p)
{
    pcre2_code_free((pcre2_code *)p);
}

int
osp_matcher_init(osp_matcher *m, osp_match_type type, const char *name, const char *val,
                 osp_arena *a, osp_errinfo *ei)
{
    void *re = NULL;
    if (type == OSP_MATCH_RE || type == OSP_MATCH_NRE) {
        size_t vn = strlen(val);
        char *pat = osp_arena_alloc(a, vn + 16);
        memcpy(pat, "^(?:", 4);
        memcpy(pat + 4, val, vn);
        memcpy(pat + 4 + vn, ")$", 3);
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *code =
            pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                          PCRE2_DOTALL | PCRE2_UTF | PCRE2_DOLLAR_ENDONLY, &ec, &eo, NULL);
        if (code == NULL) {
            /* retry without UTF for patterns that are not valid UTF-8 */
            code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                                 PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY, &ec, &eo, NULL);
        }
        if (code == NULL) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return osp_errinfo_set(ei, OSP_EPARSE, 0, 0, "error parsing regexp: %s: `%s`",
                                   (const char *)msg, val);
        }
        pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
        osp_arena_defer(a, free_code, code);
        re = code;
    }
    m->type = type;
    m->name = osp_arena_strndup(a, name, strlen(name));
    m->value = osp_arena_strndup(a, val, strlen(val));
    m->re = re;
    return 0;
}

static bool
re_match(const osp_matcher *m, const char *val)
{
    pcre2_code *code = m->re;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = pcre2_match(code, (PCRE2_SPTR)val, strlen(val), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

bool
osp_matcher_matches(const osp_matcher *m, const char *val)
{
    switch (m->type) {
    case OSP_MATCH_EQ: return strcmp(m->value, val) == 0;
    case OSP_MATCH_NEQ: return strcmp(m->value, val) != 0;
    case OSP_MATCH_RE: return re_match(m, val);
    case OSP_MATCH_NRE: return !re_match(m, val);
    }
    return false;
}

bool
osp_matcher_matches_empty(const osp_matcher *m)
{
    return osp_matcher_matches(m, "");
}

int
osp_matchers_parse(const char *sel, size_t n, osp_matcher **out, size_t *nout, osp_arena *a,
                   osp_errinfo *ei)
{
    return promql_parse_selector_only(sel, n, a, out, nout, ei);
}
