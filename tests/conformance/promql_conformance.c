/* promql_conformance.c - runs Prometheus 2.42's promql/testdata files (the shared
 * conformance corpus) against a series source; cases in promql_skip.txt may fail.
 * Built twice: against libs/promql's memsource, and (OSP_CONF_HEAD) against the store's
 * head and its PromQL source, so the store's selection code is what is tested.
 * `--expect-fail N FILE...` runs the given files and succeeds only when exactly N
 * cases fail (the runner's self-test: it must notice wrong answers). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osp_test.h"
#include "osp_mem.h"
#include "osp_time.h"
#include "promql.h"
#ifdef OSP_CONF_HEAD
#include "store_head.h"
#endif

/* The source under test: load samples, clear, and the PromQL view. */
#ifdef OSP_CONF_HEAD
/* Loads go to a memsource first (a repeated timestamp replaces the value, as in
 * Prometheus' test loader, while the head rejects such a conflict by design); before a
 * query the head is rebuilt from it with the head's own append path. */
typedef struct backend {
    osp_promql_memsource *ms;
    store_head *h;
    bool dirty;
} backend;
static backend *
backend_new(void)
{
    backend *b = osp_calloc(1, sizeof(*b));
    b->ms = osp_promql_memsource_new();
    b->h = store_head_new();
    return b;
}
static void
backend_free(backend *b)
{
    if (b == NULL)
        return;
    osp_promql_memsource_free(b->ms);
    store_head_free(b->h);
    osp_free(b);
}
static int
backend_add(backend **b, const osp_labels *ls, int64_t t, double v)
{
    (*b)->dirty = true;
    return osp_promql_memsource_add((*b)->ms, ls, t, v);
}
static void
backend_clear(backend **b)
{
    osp_promql_memsource_clear((*b)->ms);
    (*b)->dirty = true;
}
static void
head_rebuild(backend *b)
{
    store_head_free(b->h);
    b->h = store_head_new();
    osp_arena *a = osp_arena_new(0);
    osp_matcher m;
    osp_errinfo ei;
    assert_int_equal(osp_matcher_init(&m, OSP_MATCH_RE, "__name__", ".*", a, &ei), 0);
    osp_promql_series_set set = {0};
    osp_promql_source src = osp_promql_memsource_source(b->ms);
    assert_int_equal(src.select(src.ctx, &m, 1, INT64_MIN, INT64_MAX, &set, a), 0);
    osp_labels sorted;
    osp_labels_init(&sorted);
    for (size_t i = 0; i < set.n; i++) {
        const osp_promql_series *s = set.v[i];
        osp_labels_reset(&sorted);
        for (size_t j = 0; j < s->nlabels; j++)
            osp_labels_addc(&sorted, s->labels[j].name, s->labels[j].value);
        osp_labels_sort(&sorted);
        uint32_t ref;
        assert_int_equal(
            store_head_get_or_create(b->h, (uint64_t)store_head_id(&sorted), &sorted, &ref, NULL),
            0);
        for (size_t j = 0; j < s->npts; j++)
            assert_int_equal(store_head_append(b->h, ref, s->pts[j].t, s->pts[j].v, 0),
                             STORE_APPEND_OK);
    }
    osp_labels_fini(&sorted);
    osp_arena_free(a);
    b->dirty = false;
}
static osp_promql_source
backend_source(backend *b)
{
    if (b->dirty)
        head_rebuild(b);
    return store_head_source(b->h);
}
#define BACKEND_NAME "store head"
#else
typedef osp_promql_memsource backend;
static backend *
backend_new(void)
{
    return osp_promql_memsource_new();
}
static void
backend_free(backend *b)
{
    osp_promql_memsource_free(b);
}
static int
backend_add(backend **b, const osp_labels *ls, int64_t t, double v)
{
    return osp_promql_memsource_add(*b, ls, t, v);
}
static void
backend_clear(backend **b)
{
    osp_promql_memsource_clear(*b);
}
static osp_promql_source
backend_source(backend *b)
{
    return osp_promql_memsource_source(b);
}
#define BACKEND_NAME "memsource"
#endif

static const char *const files[] = {
    "aggregators.test", "at_modifier.test", "collision.test",      "functions.test",
    "histograms.test",  "literals.test",    "operators.test",      "selectors.test",
    "staleness.test",   "subquery.test",    "trig_functions.test",
};

typedef struct counts {
    int passed, failed, skipped, skipped_passing;
} counts;

static char *skiplist;

static bool
is_skipped(const char *file, int line)
{
    char key[256];
    snprintf(key, sizeof key, "%s:%d ", file, line);
    for (const char *p = skiplist; p && (p = strstr(p, key)) != NULL; p++)
        if (p == skiplist || p[-1] == '\n')
            return true;
    return false;
}

static char *
trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Split "selector rest": the selector ends at the last '}' or the first blank. */
static char *
split_selector(char *s)
{
    char *brace = strchr(s, '{');
    char *end;
    if (brace != NULL) {
        end = strrchr(s, '}');
        if (end == NULL)
            return NULL;
        end++;
    } else {
        end = s;
        while (*end && !isspace((unsigned char)*end))
            end++;
    }
    if (*end == '\0')
        return end;
    *end = '\0';
    return trim(end + 1);
}

static int
parse_labels(const char *sel, osp_labels *ls, osp_arena *a)
{
    osp_labels_reset(ls);
    if (strcmp(sel, "{}") == 0)
        return 0;
    osp_matcher *ms;
    size_t n;
    osp_errinfo ei;
    if (osp_matchers_parse(sel, strlen(sel), &ms, &n, a, &ei) != 0) {
        fprintf(stderr, "bad series %s: %s\n", sel, ei.msg);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        osp_labels_addc(ls, ms[i].name, ms[i].value);
    osp_labels_sort(ls);
    return 0;
}

static bool
parse_val(const char *s, double *v)
{
    if (strcmp(s, "stale") == 0) {
        *v = osp_promql_stale_nan();
        return true;
    }
    return osp_parse_double(osp_str_c(s), v) == 0;
}

static int
load_values(backend **ms, const osp_labels *ls, char *vals, int64_t step)
{
    int64_t t = 0;
    for (char *tokp = strtok(vals, " \t"); tokp; tokp = strtok(NULL, " \t")) {
        char *x = strchr(tokp, 'x');
        if (tokp[0] == '_') {
            t += step * (x ? atoll(x + 1) : 1);
            continue;
        }
        if (x == NULL) {
            double v;
            if (!parse_val(tokp, &v))
                return -1;
            backend_add(ms, ls, t, v);
            t += step;
            continue;
        }
        *x = '\0';
        long long n = atoll(x + 1);
        char *op = NULL;
        for (char *p = tokp + 1; *p; p++)
            if ((*p == '+' || *p == '-') && p[-1] != 'e' && p[-1] != 'E')
                op = p;
        if (op == NULL) {
            double v;
            if (!parse_val(tokp, &v))
                return -1;
            for (long long i = 0; i <= n; i++, t += step)
                backend_add(ms, ls, t, v);
            continue;
        }
        char sign = *op;
        *op = '\0';
        double a, b;
        if (!parse_val(tokp, &a) || !parse_val(op + 1, &b))
            return -1;
        if (sign == '-')
            b = -b;
        for (long long i = 0; i <= n; i++, t += step)
            backend_add(ms, ls, t, a + b * (double)i);
    }
    return 0;
}

static bool
feq(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (a == b)
        return true;
    return fabs(a - b) <= 1e-6 * fmax(fabs(a), fabs(b)) || fabs(a - b) < 1e-12;
}

typedef struct expect {
    osp_labels l;
    double v;
    bool used;
} expect;

static bool
series_labels_eq(const osp_promql_series *s, const osp_labels *l)
{
    if (s->nlabels != l->n)
        return false;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(s->labels[i].name, l->v[i].name) != 0 ||
            strcmp(s->labels[i].value, l->v[i].value) != 0)
            return false;
    return true;
}

static bool
compare(const osp_promql_result *r, expect *ex, size_t nex, bool scalar_expected, bool ordered,
        osp_buf *why)
{
    if (scalar_expected) {
        if (r->type != OSP_PROMQL_SCALAR) {
            osp_buf_puts(why, "expected scalar");
            return false;
        }
        if (!feq(r->scalar, ex[0].v)) {
            osp_buf_printf(why, "scalar %.17g != %.17g", r->scalar, ex[0].v);
            return false;
        }
        return true;
    }
    if (r->type != OSP_PROMQL_VECTOR) {
        if (r->type == OSP_PROMQL_SCALAR)
            osp_buf_printf(why, "got scalar %g, expected vector", r->scalar);
        else
            osp_buf_puts(why, "got non-vector result");
        return false;
    }
    if (r->nseries != nex) {
        osp_buf_printf(why, "got %zu series, expected %zu", r->nseries, nex);
        return false;
    }
    for (size_t i = 0; i < r->nseries; i++) {
        const osp_promql_series *s = &r->series[i];
        bool ok = false;
        for (size_t j = ordered ? i : 0; j < (ordered ? i + 1 : nex); j++) {
            if (ex[j].used || !series_labels_eq(s, &ex[j].l))
                continue;
            if (!feq(s->pts[0].v, ex[j].v)) {
                osp_buf_printf(why, "value %.17g != expected %.17g for series %zu", s->pts[0].v,
                               ex[j].v, i);
                return false;
            }
            ex[j].used = true;
            ok = true;
            break;
        }
        if (!ok) {
            osp_labels tmp = {s->labels, s->nlabels, s->nlabels};
            osp_buf_puts(why, "unexpected series ");
            osp_labels_format(&tmp, why);
            return false;
        }
    }
    return true;
}

/* run_file: every eval of one .test file; path is absolute, file the name reported. */
static void
run_file(const char *path, const char *file, counts *ct)
{
    size_t len;
    char *text = osp_test_slurp(path, &len);
    if (text == NULL)
        fail_msg("cannot read %s", path);
    backend *ms = backend_new();
    osp_arena *a = osp_arena_new(0);
    osp_labels ls;
    osp_labels_init(&ls);
    size_t nlines = 0;
    char **lines = NULL;
    for (char *p = text; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        lines = osp_reallocarray(lines, nlines + 1, sizeof(char *));
        lines[nlines++] = p;
        p = nl ? nl + 1 : NULL;
    }
    for (size_t i = 0; i < nlines; i++) {
        char *line = trim(lines[i]);
        if (*line == '\0' || *line == '#')
            continue;
        if (strncmp(line, "clear", 5) == 0) {
            backend_clear(&ms);
            continue;
        }
        if (strncmp(line, "load ", 5) == 0) {
            int64_t step;
            if (osp_parse_duration(osp_str_c(trim(line + 5)), &step) != 0)
                fail_msg("%s:%zu: bad load step", file, i + 1);
            while (i + 1 < nlines && (lines[i + 1][0] == ' ' || lines[i + 1][0] == '\t') &&
                   *trim(lines[i + 1]) != '\0') {
                char *sl = trim(lines[++i]);
                char *vals = split_selector(sl);
                if (vals == NULL || parse_labels(sl, &ls, a) != 0 ||
                    load_values(&ms, &ls, vals, step) != 0)
                    fail_msg("%s:%zu: bad load line", file, i + 1);
            }
            continue;
        }
        if (strncmp(line, "eval", 4) != 0)
            fail_msg("%s:%zu: unknown command: %s", file, i + 1, line);
        int evline = (int)i + 1;
        bool ordered = strncmp(line, "eval_ordered", 12) == 0;
        bool should_fail = strncmp(line, "eval_fail", 9) == 0;
        char *at = strstr(line, " at ");
        char *q = at ? strchr(at + 4, ' ') : NULL;
        if (q == NULL)
            fail_msg("%s:%d: bad eval", file, evline);
        *q++ = '\0';
        int64_t t;
        if (osp_parse_duration(osp_str_c(at + 4), &t) != 0)
            fail_msg("%s:%d: bad eval time", file, evline);
        size_t cap = 16, nex = 0;
        expect *ex = osp_calloc(cap, sizeof(*ex));
        bool scalar_expected = false;
        while (i + 1 < nlines && (lines[i + 1][0] == ' ' || lines[i + 1][0] == '\t') &&
               *trim(lines[i + 1]) != '\0') {
            char *el = trim(lines[++i]);
            if (nex == cap) {
                ex = osp_reallocarray(ex, cap * 2, sizeof(*ex));
                memset(ex + cap, 0, cap * sizeof(*ex));
                cap *= 2;
            }
            osp_labels_init(&ex[nex].l);
            double v;
            if (parse_val(el, &v)) {
                scalar_expected = true;
                ex[nex++].v = v;
                continue;
            }
            char *vs = split_selector(el);
            if (vs == NULL || parse_labels(el, &ex[nex].l, a) != 0 || !parse_val(vs, &v))
                fail_msg("%s:%zu: bad expected line", file, i + 1);
            ex[nex++].v = v;
        }
        osp_promql_expr *e = NULL;
        osp_promql_result *r = NULL;
        osp_errinfo ei = {0};
        osp_buf why;
        osp_buf_init(&why);
        osp_promql_source src = backend_source(ms);
        int rc = osp_promql_parse(q, strlen(q), &e, &ei);
        if (rc == 0)
            rc = osp_promql_eval_instant(e, &src, t, NULL, &r, &ei);
        bool ok;
        if (should_fail) {
            ok = rc != 0;
            if (!ok)
                osp_buf_puts(&why, "expected failure");
        } else if (rc != 0) {
            ok = false;
            osp_buf_printf(&why, "error: %s", ei.msg);
        } else {
            ok = compare(r, ex, nex, scalar_expected, ordered, &why);
        }
        bool skip = is_skipped(file, evline);
        if (ok && !skip)
            ct->passed++;
        else if (skip) {
            ct->skipped++;
            if (ok) {
                ct->skipped_passing++;
                printf("SKIPPED BUT PASSES %s:%d\n", file, evline);
            }
        } else {
            ct->failed++;
            printf("FAIL %s:%d %s: %s\n", file, evline, q, osp_buf_cstr(&why));
        }
        osp_buf_fini(&why);
        osp_promql_result_free(r);
        osp_promql_expr_free(e);
        for (size_t k = 0; k < cap; k++)
            osp_labels_fini(&ex[k].l);
        osp_free(ex);
    }
    osp_free(lines);
    osp_labels_fini(&ls);
    osp_arena_free(a);
    backend_free(ms);
    free(text);
}

static void
test_corpus(void **state)
{
    (void)state;
    char *sp = osp_test_path("tests/conformance/promql_skip.txt");
    size_t n;
    skiplist = osp_test_slurp(sp, &n);
    free(sp);
    counts ct = {0};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "shared/conformance/promql/%s", files[i]);
        char *path = osp_test_path(rel);
        run_file(path, files[i], &ct);
        free(path);
    }
    printf("promql conformance (%s): %d passed, %d failed, %d skipped (%d of them pass now)\n",
           BACKEND_NAME, ct.passed, ct.failed, ct.skipped, ct.skipped_passing);
    free(skiplist);
    assert_int_equal(ct.failed, 0);
}

static int self_expected = -1;
static char **self_files;
static int self_nfiles;

/* test_self: run the given files; exactly self_expected cases must fail. */
static void
test_self(void **state)
{
    (void)state;
    counts ct = {0};
    for (int i = 0; i < self_nfiles; i++) {
        const char *base = strrchr(self_files[i], '/');
        run_file(self_files[i], base ? base + 1 : self_files[i], &ct);
    }
    printf("runner self-test (%s): %d passed, %d failed (expected %d failures)\n", BACKEND_NAME,
           ct.passed, ct.failed, self_expected);
    assert_int_equal(ct.failed, self_expected);
    assert_true(ct.passed > 0);
}

int
main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "--expect-fail") == 0) {
        self_expected = atoi(argv[2]);
        self_files = argv + 3;
        self_nfiles = argc - 3;
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_self)};
        return cmocka_run_group_tests(tests, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_corpus)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
