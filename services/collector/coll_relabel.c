/* coll_relabel.c - relabeling with Prometheus semantics: regexes anchored as
 * ^(?s:re)$, Go-style $1 / ${1} / $name expansion, missing source labels are "". */
#include "coll_relabel.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "osp_buf.h"
#include "osp_mem.h"

static const char *const action_names[] = {
    "replace",   "keep",      "drop",      "hashmod",   "labelmap",  "labeldrop",
    "labelkeep", "lowercase", "uppercase", "keepequal", "dropequal",
};

int
coll_relabel_action_parse(const char *s, coll_relabel_action *out)
{
    for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
        if (strcasecmp(s, action_names[i]) == 0) {
            *out = (coll_relabel_action)i;
            return 0;
        }
    }
    return OSP_EINVAL;
}

static int
compile(coll_relabel *r, osp_errinfo *ei)
{
    osp_buf pat;
    osp_buf_init(&pat);
    osp_buf_printf(&pat, "^(?s:%s)$", r->regex);
    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat.data, pat.len,
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &errcode, &erroff, NULL);
    osp_buf_fini(&pat);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof(msg));
        return osp_errinfo_set(ei, OSP_EINVAL, ei ? ei->line : 0, ei ? ei->col : 0,
                               "invalid regex \"%s\": %s", r->regex, (const char *)msg);
    }
    r->re = re;
    return 0;
}

static int
validate(coll_relabel *r, osp_errinfo *ei)
{
    int line = ei ? ei->line : 0, col = ei ? ei->col : 0;
    bool needs_target = r->action == COLL_RL_REPLACE || r->action == COLL_RL_HASHMOD ||
                        r->action == COLL_RL_LOWERCASE || r->action == COLL_RL_UPPERCASE ||
                        r->action == COLL_RL_KEEPEQUAL || r->action == COLL_RL_DROPEQUAL;
    if (needs_target && (!r->target_label || !*r->target_label))
        return osp_errinfo_set(ei, OSP_EINVAL, line, col,
                               "relabel action %s requires 'target_label'",
                               action_names[r->action]);
    if (r->action == COLL_RL_HASHMOD && r->modulus == 0)
        return osp_errinfo_set(ei, OSP_EINVAL, line, col,
                               "relabel action hashmod requires non-zero 'modulus'");
    return compile(r, ei);
}

int
coll_relabel_init(coll_relabel *r, coll_relabel_action action, const char *const *sources,
                  size_t nsource, const char *regex, const char *target, const char *replacement,
                  uint64_t modulus, osp_errinfo *ei)
{
    memset(r, 0, sizeof(*r));
    r->action = action;
    r->nsource = nsource;
    r->source_labels = nsource ? osp_calloc(nsource, sizeof(char *)) : NULL;
    for (size_t i = 0; i < nsource; i++)
        r->source_labels[i] = osp_strdup(sources[i]);
    r->separator = osp_strdup(";");
    r->regex = osp_strdup(regex ? regex : "(.*)");
    r->target_label = target ? osp_strdup(target) : NULL;
    r->replacement = osp_strdup(replacement ? replacement : "$1");
    r->modulus = modulus;
    return validate(r, ei);
}

static int
scalar(const osp_yaml_node *v, const char *key, char **out, osp_errinfo *ei)
{
    if (v->type == OSP_YAML_NULL) {
        osp_free(*out);
        *out = osp_strdup("");
        return 0;
    }
    if (v->type != OSP_YAML_SCALAR)
        return osp_yaml_err(ei, v, key, OSP_EINVAL, "expected a string, got a %s",
                            osp_yaml_type_name(v->type));
    osp_free(*out);
    *out = osp_strndup(v->str, v->len);
    return 0;
}

int
coll_relabel_parse(const osp_yaml_node *map, coll_relabel *r, osp_errinfo *ei)
{
    memset(r, 0, sizeof(*r));
    r->separator = osp_strdup(";");
    r->regex = osp_strdup("(.*)");
    r->replacement = osp_strdup("$1");
    if (!map || map->type != OSP_YAML_MAP)
        return osp_yaml_err(ei, map, NULL, OSP_EINVAL, "relabel config must be a mapping");
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->pairs[i].key->str;
        const osp_yaml_node *v = map->pairs[i].value;
        int rc = 0;
        if (strcmp(k, "source_labels") == 0) {
            if (v->type == OSP_YAML_NULL)
                continue;
            if (v->type != OSP_YAML_SEQ)
                return osp_yaml_err(ei, v, k, OSP_EINVAL, "expected a list of label names");
            r->source_labels = osp_calloc(v->n ? v->n : 1, sizeof(char *));
            for (size_t j = 0; j < v->n; j++) {
                if (v->items[j]->type != OSP_YAML_SCALAR)
                    return osp_yaml_err(ei, v->items[j], k, OSP_EINVAL, "expected a label name");
                r->source_labels[r->nsource++] = osp_strdup(v->items[j]->str);
            }
        } else if (strcmp(k, "separator") == 0) {
            rc = scalar(v, k, &r->separator, ei);
        } else if (strcmp(k, "regex") == 0) {
            rc = scalar(v, k, &r->regex, ei);
        } else if (strcmp(k, "target_label") == 0) {
            rc = scalar(v, k, &r->target_label, ei);
        } else if (strcmp(k, "replacement") == 0) {
            rc = scalar(v, k, &r->replacement, ei);
        } else if (strcmp(k, "modulus") == 0) {
            int64_t m = 0;
            rc = osp_yaml_int64(v, &m, ei);
            if (rc == 0 && m < 0)
                return osp_yaml_err(ei, v, k, OSP_EINVAL, "modulus must not be negative");
            r->modulus = (uint64_t)m;
        } else if (strcmp(k, "action") == 0) {
            if (v->type != OSP_YAML_SCALAR || coll_relabel_action_parse(v->str, &r->action) != 0)
                return osp_yaml_err(ei, v, k, OSP_EINVAL, "unknown relabel action \"%s\"",
                                    v->str ? v->str : "");
        } else {
            return osp_yaml_err(ei, map->pairs[i].key, k, OSP_EINVAL, "unknown key \"%s\"", k);
        }
        if (rc)
            return rc;
    }
    if (ei) {
        ei->line = map->line;
        ei->col = map->col;
        snprintf(ei->file, sizeof(ei->file), "%s", map->file ? map->file : "");
    }
    return validate(r, ei);
}

void
coll_relabel_fini(coll_relabel *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nsource; i++)
        osp_free(r->source_labels[i]);
    osp_free(r->source_labels);
    osp_free(r->separator);
    osp_free(r->regex);
    osp_free(r->target_label);
    osp_free(r->replacement);
    pcre2_code_free(r->re);
    memset(r, 0, sizeof(*r));
}

static bool
match(const coll_relabel *r, const char *s, pcre2_match_data *md)
{
    return pcre2_match(r->re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL) >= 0;
}

static bool
is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* expand: Go's regexp.Expand of tmpl with the groups of the last match of s. */
static void
expand(const coll_relabel *r, const char *tmpl, const char *s, pcre2_match_data *md, osp_buf *out)
{
    osp_buf_reset(out);
    osp_buf_puts(out, "");
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t npairs = pcre2_get_ovector_count(md);
    for (const char *p = tmpl; *p;) {
        if (*p != '$') {
            osp_buf_putc(out, *p++);
            continue;
        }
        if (p[1] == '$') {
            osp_buf_putc(out, '$');
            p += 2;
            continue;
        }
        const char *name = p + 1, *end;
        bool brace = *name == '{';
        if (brace)
            name++;
        end = name;
        while (is_name_char(*end))
            end++;
        if (end == name || (brace && *end != '}')) {
            osp_buf_putc(out, '$'); /* malformed: the '$' is literal text */
            p++;
            continue;
        }
        size_t nlen = (size_t)(end - name);
        p = brace ? end + 1 : end;
        int num = -1;
        bool digits = true;
        for (size_t i = 0; i < nlen; i++)
            digits = digits && isdigit((unsigned char)name[i]);
        if (digits) {
            num = nlen < 6 ? atoi(name) : -1;
        } else {
            char buf[128];
            if (nlen < sizeof(buf)) {
                memcpy(buf, name, nlen);
                buf[nlen] = 0;
                num = pcre2_substring_number_from_name(r->re, (PCRE2_SPTR)buf);
            }
        }
        if (num >= 0 && (uint32_t)num < npairs && ov[2 * num] != PCRE2_UNSET)
            osp_buf_append(out, s + ov[2 * num], ov[2 * num + 1] - ov[2 * num]);
    }
}

static void
join_sources(const coll_relabel *r, const osp_labels *ls, osp_buf *val)
{
    osp_buf_reset(val);
    osp_buf_puts(val, "");
    for (size_t i = 0; i < r->nsource; i++) {
        if (i)
            osp_buf_puts(val, r->separator);
        const char *v = osp_labels_get(ls, r->source_labels[i]);
        osp_buf_puts(val, v ? v : "");
    }
}

static bool
apply_one(const coll_relabel *r, osp_labels *ls, pcre2_match_data *md, osp_buf *val, osp_buf *a,
          osp_buf *b)
{
    join_sources(r, ls, val);
    const char *v = osp_buf_cstr(val);
    switch (r->action) {
    case COLL_RL_REPLACE:
        if (!match(r, v, md))
            break;
        expand(r, r->target_label, v, md, a);
        expand(r, r->replacement, v, md, b);
        if (!osp_label_name_valid(osp_buf_cstr(a), a->len))
            break;
        osp_labels_set(ls, osp_buf_cstr(a), osp_buf_cstr(b));
        break;
    case COLL_RL_KEEP: return match(r, v, md);
    case COLL_RL_DROP: return !match(r, v, md);
    case COLL_RL_HASHMOD: {
        uint8_t d[16];
        coll_md5(v, val->len, d);
        uint64_t h = 0;
        for (int i = 8; i < 16; i++)
            h = h << 8 | d[i];
        char num[32];
        snprintf(num, sizeof(num), "%llu", (unsigned long long)(h % r->modulus));
        osp_labels_set(ls, r->target_label, num);
        break;
    }
    case COLL_RL_LOWERCASE:
    case COLL_RL_UPPERCASE: {
        osp_buf_reset(a);
        for (size_t i = 0; i < val->len; i++) {
            unsigned char c = (unsigned char)v[i];
            osp_buf_putc(a, (char)(r->action == COLL_RL_LOWERCASE ? tolower(c) : toupper(c)));
        }
        osp_labels_set(ls, r->target_label, osp_buf_cstr(a));
        break;
    }
    case COLL_RL_KEEPEQUAL:
    case COLL_RL_DROPEQUAL: {
        const char *t = osp_labels_get(ls, r->target_label);
        bool eq = strcmp(v, t ? t : "") == 0;
        return r->action == COLL_RL_KEEPEQUAL ? eq : !eq;
    }
    case COLL_RL_LABELMAP: {
        size_t n = ls->n; /* Set may append; only the original labels are mapped */
        for (size_t i = 0; i < n; i++) {
            if (!match(r, ls->v[i].name, md))
                continue;
            expand(r, r->replacement, ls->v[i].name, md, a);
            if (!osp_label_name_valid(osp_buf_cstr(a), a->len))
                continue;
            osp_buf_reset(b);
            osp_buf_puts(b, ls->v[i].value);
            osp_labels_set(ls, osp_buf_cstr(a), osp_buf_cstr(b));
        }
        break;
    }
    case COLL_RL_LABELDROP:
    case COLL_RL_LABELKEEP:
        for (size_t i = 0; i < ls->n;) {
            bool m = match(r, ls->v[i].name, md);
            if (m == (r->action == COLL_RL_LABELDROP)) {
                osp_labels_del(ls, ls->v[i].name);
                continue; /* del moves a later label into i, or shifts; recheck i */
            }
            i++;
        }
        break;
    }
    return true;
}

bool
coll_relabel_apply(const coll_relabel *rules, size_t n, osp_labels *ls)
{
    if (n == 0)
        return true;
    pcre2_match_data *md = pcre2_match_data_create(32, NULL);
    osp_buf val, a, b;
    osp_buf_init(&val);
    osp_buf_init(&a);
    osp_buf_init(&b);
    bool keep = true;
    for (size_t i = 0; i < n && keep; i++)
        keep = apply_one(&rules[i], ls, md, &val, &a, &b);
    osp_buf_fini(&val);
    osp_buf_fini(&a);
    osp_buf_fini(&b);
    pcre2_match_data_free(md);
    return keep;
}
