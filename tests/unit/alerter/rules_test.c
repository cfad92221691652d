/* rules_test.c - the template subset (rendering table, parse errors), rule
 * file validation with positions, and the alert lifecycle (pending -> firing
 * after `for`, keep_firing_for, resolved, restore of activeAt) with a fake
 * clock and fake query results. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_eval.h"
#include "alert_rules.h"
#include "alert_tmpl.h"
#include "osp_mem.h"
#include "osp_test.h"

static void
render(const char *src, const char *want)
{
    alert_tmpl *t = NULL;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    int rc = alert_tmpl_parse("t", src, strlen(src), &t, &ei);
    if (rc)
        fail_msg("parse %s: %s", src, ei.msg);
    osp_arena *a = osp_arena_new(0);
    osp_labels ls;
    osp_labels_init(&ls);
    osp_labels_addc(&ls, "instance", "host1:9100");
    osp_labels_addc(&ls, "job", "node");
    static const char *const names[] = {"labels", "value"};
    alert_tval vals[2] = {alert_tval_labels(&ls, 0, a), alert_tval_num(1234567.0)};
    alert_tmpl_env env = {
        .dot = alert_tval_struct((const char *const[]){"Labels", "Value"}, vals, 2, a),
        .vars = names,
        .vals = vals,
        .nvars = 2,
        .arena = a};
    osp_buf out;
    osp_buf_init(&out);
    rc = alert_tmpl_exec(t, &env, &out, &ei);
    if (rc)
        fail_msg("exec %s: %s", src, ei.msg);
    if (strcmp(osp_buf_cstr(&out), want) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", src, osp_buf_cstr(&out), want);
    osp_buf_fini(&out);
    osp_labels_fini(&ls);
    osp_arena_free(a);
    alert_tmpl_free(t);
}

static void
test_templates(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"plain text", "plain text"},
        {"{{ $labels.instance }} down", "host1:9100 down"},
        {"{{ .Labels.job }}/{{ $labels.missing }}.", "node/."},
        {"{{ $value }}", "1.234567e+06"},
        {"{{ $value | humanize }}", "1.235M"},
        {"{{ humanize 0.00123 }}", "1.23m"},
        {"{{ 1536 | humanize1024 }}", "1.5ki"},
        {"{{ humanizeDuration 3661 }}", "1h 1m 1s"},
        {"{{ humanizeDuration 90061 }}", "1d 1h 1m 1s"},
        {"{{ humanizeDuration 1.5 }}", "1.5s"},
        {"{{ humanizeDuration 0.25 }}", "250ms"},
        {"{{ humanizePercentage 0.1234 }}", "12.34%"},
        {"{{ printf \"%.2f\" $value }}", "1234567.00"},
        {"{{ printf \"%s=%d\" \"a\" 3 }}", "a=3"},
        {"{{ if gt $value 1000.0 }}big{{ else }}small{{ end }}", "big"},
        {"{{ if eq $labels.job \"x\" }}x{{ else if eq $labels.job \"node\" }}n{{ end }}", "n"},
        {"{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
         "instance=host1:9100;job=node;"},
        {"{{- \"a\" -}}  \n {{- \"b\" }}", "ab"},
        {"{{ $x := \"v\" }}{{ $x }}{{/* c */}}", "v"},
        {"{{ toUpper $labels.job }} {{ len $labels }} {{ index $labels \"job\" }}", "NODE 2 node"},
        {"{{ $labels.instance | stripPort }}", "host1"},
        {"{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}", "host1"},
        {"{{ define \"x\" }}[{{ . }}]{{ end }}{{ template \"x\" \"y\" }}", "[y]"},
        {"{{ with $labels.job }}{{ . }}{{ end }}", "node"},
        {"{{ and 1 0 }} {{ or 0 \"z\" }} {{ not true }}", "0 z false"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        render(cases[i][0], cases[i][1]);
}

static void
test_template_errors(void **state)
{
    (void)state;
    static const struct {
        const char *src;
        int line, col;
        const char *msg;
    } cases[] = {
        {"{{ nosuch 1 }}", 1, 4, "function \"nosuch\" not defined"},
        {"a\n{{ if 1 }}x", 0, 0, "missing {{end}}"},
        {"{{ end }}", 1, 1, "unexpected {{end}}"},
        {"{{ \"x }}", 1, 1, "unclosed action"},
        {"x {{ .a", 1, 3, "unclosed action"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        alert_tmpl *t = NULL;
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        assert_int_equal(alert_tmpl_parse("t", cases[i].src, strlen(cases[i].src), &t, &ei),
                         OSP_EPARSE);
        if (strstr(ei.msg, cases[i].msg) == NULL)
            fail_msg("%s: message \"%s\"", cases[i].src, ei.msg);
        if (cases[i].line) {
            assert_int_equal(ei.line, cases[i].line);
            assert_int_equal(ei.col, cases[i].col);
        }
    }
}

static char *
write_tmp(const char *text)
{
    static char *last; /* callers keep the path for the one call */
    free(last);
    last = osp_test_write(NULL, "r.yml", text);
    assert_non_null(last);
    return last;
}

static void
test_rule_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        int line, col;
        const char *msg;
    } cases[] = {
        {"groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up ==\n", 5, 11,
         "group \"g\", rule 1 (alert \"A\"): could not parse expression"},
        {"groups:\n- name: g\n  rules:\n  - record: r\n    expr: up\n    for: 1m\n", 6, 10,
         "invalid field 'for' in recording rule"},
        {"groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    bogus: 1\n", 6, 5,
         "field bogus not found in type rulefmt.Rule"},
        {"groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    for: 5x\n", 6, 10,
         "not a valid duration"},
        {"groups:\n- name: g\n  rules:\n  - record: 'bad name'\n    expr: up\n", 4, 13,
         "invalid recording rule name"},
        {"groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    annotations:\n"
         "      s: '{{ nope }}'\n",
         7, 10, "template: __alert_A:1:4: function \"nope\" not defined"},
        {"groups:\n- name: g\n- name: g\n", 3, 3, "groupname: \"g\" is repeated"},
        {"groups:\n- name: g\n  rules:\n  - expr: up\n", 4, 5, "one of 'record' or 'alert'"},
        {"groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x[5m]\n", 5, 11,
         "invalid expression type \"range vector\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        alert_ruleset *rs = alert_ruleset_new();
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        const char *p = write_tmp(cases[i].yaml);
        assert_int_not_equal(alert_rules_load_file(rs, p, 60000, &ei), 0);
        if (strstr(ei.msg, cases[i].msg) == NULL)
            fail_msg("case %zu: message \"%s\"", i, ei.msg);
        assert_string_equal(ei.file, p);
        if (ei.line != cases[i].line || ei.col != cases[i].col)
            fail_msg("case %zu: at %d:%d, want %d:%d (%s)", i, ei.line, ei.col, cases[i].line,
                     cases[i].col, ei.msg);
        alert_ruleset_free(rs);
    }
}

/* ---- lifecycle with fake query results ---- */

typedef struct fake {
    double value; /* NAN: empty result */
    size_t nsent, nfiring, nresolved;
    int64_t last_starts, last_ends;
    char last_summary[128];
    size_t nsamples, nstale;
} fake;

static int
fq(void *ctx, const char *expr, int64_t t, alert_qresult *out, osp_errinfo *ei)
{
    fake *f = ctx;
    memset(out, 0, sizeof(*out));
    if (isnan(f->value))
        return 0;
    out->v = osp_calloc(1, sizeof(*out->v));
    out->n = 1;
    osp_labels_init(&out->v[0].labels);
    osp_labels_addc(&out->v[0].labels, "__name__", "temp");
    osp_labels_addc(&out->v[0].labels, "instance", "h1");
    out->v[0].v = f->value;
    return 0;
}

static void
fsample(void *ctx, const osp_labels *ls, int64_t t, double v)
{
    fake *f = ctx;
    f->nsamples++;
    if (isnan(v))
        f->nstale++;
}

static void
fsend(void *ctx, alert_alert *a)
{
    fake *f = ctx;
    f->nsent++;
    if (a->ends_ms > 0 && a->ends_ms <= a->updated_ms)
        f->nresolved++;
    else
        f->nfiring++;
    f->last_starts = a->starts_ms;
    f->last_ends = a->ends_ms;
    snprintf(f->last_summary, sizeof(f->last_summary), "%s",
             osp_labels_get(&a->annotations, "summary"));
}

static void
test_lifecycle(void **state)
{
    (void)state;
    const char *p = write_tmp("groups:\n- name: g\n  interval: 10s\n  rules:\n  - alert: Hot\n"
                              "    expr: temp > 5\n    for: 30s\n    keep_firing_for: 20s\n"
                              "    annotations:\n      summary: '{{ $labels.instance }} "
                              "{{ $value }}'\n");
    alert_ruleset *rs = alert_ruleset_new();
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_equal(alert_rules_load_file(rs, p, 60000, &ei), 0);
    fake f = {.value = NAN};
    alert_eval_env env = {
        .query = fq, .sample = fsample, .send = fsend, .ctx = &f, .resend_delay_ms = 60000};
    alert_group_eval *ge = alert_group_eval_new(&rs->groups[0], NULL);
    int64_t t = 1000000000;
    alert_group_eval_run(ge, t, &env);
    assert_int_equal(ge->rules[0].n, 0);
    f.value = 7;
    alert_group_eval_run(ge, t += 10000, &env); /* pending, activeAt = t */
    int64_t active = t;
    assert_int_equal(ge->rules[0].inst[0].state, ALERT_PENDING);
    alert_group_eval_run(ge, t += 10000, &env);
    alert_group_eval_run(ge, t += 10000, &env);
    assert_int_equal(ge->rules[0].inst[0].state, ALERT_PENDING); /* 20 s < 30 s */
    assert_int_equal(f.nsent, 0);                                /* pending is never sent */
    alert_group_eval_run(ge, t += 10000, &env);
    assert_int_equal(ge->rules[0].inst[0].state, ALERT_FIRING);
    assert_int_equal(f.nfiring, 1);
    assert_int_equal(f.last_starts, t);
    assert_int_equal(f.last_ends, t + 4 * 60000); /* ValidUntil = 4 x max(interval, resend) */
    assert_string_equal(f.last_summary, "h1 7");
    alert_group_eval_run(ge, t += 10000, &env); /* within resend delay: not sent again */
    assert_int_equal(f.nsent, 1);
    f.value = NAN; /* gone: keep_firing_for 20 s */
    alert_group_eval_run(ge, t += 10000, &env);
    alert_group_eval_run(ge, t += 10000, &env);
    assert_int_equal(ge->rules[0].inst[0].state, ALERT_FIRING);
    alert_group_eval_run(ge, t += 10000, &env);
    assert_int_equal(ge->rules[0].inst[0].state, ALERT_INACTIVE);
    assert_int_equal(f.nresolved, 1); /* resolved is sent at once */
    assert_true(f.nstale >= 2);       /* ALERTS and ALERTS_FOR_STATE went stale */
    /* 15 minutes later the resolved alert is forgotten */
    alert_group_eval_run(ge, t += 16 * 60000, &env);
    assert_int_equal(ge->rules[0].n, 0);
    /* restore: a restarted evaluator resumes `for` from the stored activeAt */
    alert_group_eval *ge2 = alert_group_eval_new(&rs->groups[0], NULL);
    osp_labels ls;
    osp_labels_init(&ls);
    osp_labels_addc(&ls, "alertname", "Hot");
    osp_labels_addc(&ls, "instance", "h1");
    osp_labels_sort(&ls);
    alert_group_eval_restore(ge2, "Hot", osp_labels_hash(&ls), t - 25000);
    f.value = 9;
    alert_group_eval_run(ge2, t, &env);
    assert_int_equal(ge2->rules[0].inst[0].active_at, t - 25000);
    alert_group_eval_run(ge2, t += 10000, &env);
    assert_int_equal(ge2->rules[0].inst[0].state, ALERT_FIRING); /* 35 s >= 30 s */
    (void)active;
    osp_labels_fini(&ls);
    alert_group_eval_free(ge2);
    alert_group_eval_free(ge);
    alert_ruleset_free(rs);
}

/* Go's strconv.FormatFloat(v, 'e', -1, 64), the "value" of /api/v1/alerts. */
static void
test_go_e(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *want;
    } cases[] = {{1, "1e+00"},   {42, "4.2e+01"},     {1500, "1.5e+03"},
                 {0, "0e+00"},   {-0.25, "-2.5e-01"}, {1e-7, "1e-07"},
                 {0.1, "1e-01"}, {1e100, "1e+100"},   {123456789, "1.23456789e+08"},
                 {NAN, "NaN"},   {INFINITY, "+Inf"},  {-INFINITY, "-Inf"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        osp_buf b;
        osp_buf_init(&b);
        alert_fmt_go_e(cases[i].v, &b);
        if (strcmp(osp_buf_cstr(&b), cases[i].want) != 0)
            fail_msg("%g: got %s want %s", cases[i].v, osp_buf_cstr(&b), cases[i].want);
        osp_buf_fini(&b);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_templates),       cmocka_unit_test(test_go_e),
        cmocka_unit_test(test_template_errors), cmocka_unit_test(test_rule_errors),
        cmocka_unit_test(test_lifecycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
