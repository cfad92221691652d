/* notify_tmpl_test.c - templates in notifications: Alertmanager's notification
 * data (.Receiver .Status .Alerts.Firing ... KV methods), the default.tmpl
 * definitions (__subject, slack.default.*, __text_alert_list), the Slack and
 * e-mail payloads rendered from configured and default templates, and
 * `templates:` files with positions in their errors. */
#include <stdio.h>
#include <string.h>

#include "alert.h"
#include "alert_am_config.h"
#include "alert_notify.h"
#include "osp_mem.h"
#include "osp_test.h"

static char *
write_file(const char *dir, const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static alert_alert *
mk_alert(const char *inst, const char *sev, int64_t ends_ms)
{
    alert_alert *a = alert_alert_new();
    osp_labels_addc(&a->labels, "alertname", "DiskFull");
    osp_labels_addc(&a->labels, "service", "db");
    osp_labels_addc(&a->labels, "instance", inst);
    osp_labels_addc(&a->labels, "severity", sev);
    osp_labels_addc(&a->annotations, "summary", "disk <full>");
    a->starts_ms = 1700000000000;
    a->ends_ms = ends_ms;
    a->generator_url = osp_strdup("http://prom/graph");
    alert_alert_seal(a);
    return a;
}

/* A job for receiver rcv of cfg with the alerts, and its data (common labels
 * computed the way the notifier does). */
typedef struct fixture {
    alert_notify_job job;
    alert_notify_data d;
} fixture;

static void
fixture_init(fixture *f, alert_am_config *cfg, const char *rcv, alert_int_kind kind,
             alert_alert **alerts, size_t n)
{
    memset(f, 0, sizeof(*f));
    f->job.cfg = cfg;
    f->job.rcv = alert_am_config_find_receiver(cfg, rcv);
    assert_non_null(f->job.rcv);
    f->job.kind = kind;
    f->job.now_ms = 1700000100000;
    f->job.external_url = "http://am:9093";
    osp_labels_init(&f->job.group_labels);
    osp_labels_addc(&f->job.group_labels, "alertname", "DiskFull");
    f->d.job = &f->job;
    f->d.alerts = alerts;
    f->d.n = n;
    osp_labels_init(&f->d.common_labels);
    osp_labels_init(&f->d.common_annotations);
    for (size_t i = 0; i < n; i++) {
        if (alert_notify_alert_firing(&f->d, alerts[i]))
            f->d.nfiring++;
        else
            f->d.nresolved++;
    }
    /* common labels: pairs equal in every alert */
    for (size_t k = 0; k < alerts[0]->labels.n; k++) {
        const char *nm = alerts[0]->labels.v[k].name, *v = alerts[0]->labels.v[k].value;
        bool all = true;
        for (size_t i = 1; i < n; i++) {
            const char *o = osp_labels_get(&alerts[i]->labels, nm);
            all &= o && strcmp(o, v) == 0;
        }
        if (all)
            osp_labels_addc(&f->d.common_labels, nm, v);
    }
    osp_labels_copy(&f->d.common_annotations, &alerts[0]->annotations);
}

static void
fixture_fini(fixture *f)
{
    osp_labels_fini(&f->job.group_labels);
    osp_labels_fini(&f->d.common_labels);
    osp_labels_fini(&f->d.common_annotations);
}

static void
render(fixture *f, const char *src, const char *want)
{
    alert_tmpl *t;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_equal(alert_tmpl_parse("t", src, strlen(src), &t, &ei), 0);
    alert_notify_tctx c;
    alert_notify_tctx_init(&c, &f->d);
    osp_buf out;
    osp_buf_init(&out);
    int rc = alert_notify_tctx_exec(&c, t, &out, &ei);
    if (rc || strcmp(osp_buf_cstr(&out), want) != 0)
        fail_msg("%s\n got: [%s] (%s)\n want: [%s]", src, osp_buf_cstr(&out), ei.msg, want);
    osp_buf_fini(&out);
    alert_notify_tctx_fini(&c);
    alert_tmpl_free(t);
}

static void
test_data_and_defaults(void **state)
{
    (void)state;
    alert_am_config *cfg;
    osp_errinfo ei;
    assert_int_equal(alert_am_config_load(NULL, &cfg, &ei), 0);
    alert_alert *al[3] = {mk_alert("a", "critical", 0), mk_alert("b", "critical", 0),
                          mk_alert("c", "critical", 1700000050000)};
    fixture f;
    fixture_init(&f, cfg, "default", ALERT_INT_WEBHOOK, al, 3);
    static const struct {
        const char *src, *want;
    } cases[] = {
        {"{{ .Receiver }} {{ .Status }} {{ .ExternalURL }}", "default firing http://am:9093"},
        {"{{ len .Alerts }} {{ len .Alerts.Firing }} {{ len .Alerts.Resolved }}", "3 2 1"},
        {"{{ range .Alerts.Resolved }}{{ .Labels.instance }} {{ .Status }} {{ .EndsAt }}{{ end }}",
         "c resolved 2023-11-14 22:14:10 +0000 UTC"},
        {"{{ (index .Alerts 0).StartsAt }}|{{ (index .Alerts 0).EndsAt }}",
         "2023-11-14 22:13:20 +0000 UTC|0001-01-01 00:00:00 +0000 UTC"},
        {"{{ (index .Alerts 0).GeneratorURL }} {{ len (index .Alerts 0).Fingerprint }}",
         "http://prom/graph 16"},
        {"{{ .CommonLabels.SortedPairs.Names | join \",\" }}", "alertname,service,severity"},
        {"{{ .CommonLabels.Names | join \",\" }}={{ .CommonLabels.Values | join \",\" }}",
         "alertname,service,severity=DiskFull,db,critical"},
        {"{{ range .GroupLabels.SortedPairs }}{{ .Name }}={{ .Value }}{{ end }}",
         "alertname=DiskFull"},
        {"{{ (.CommonLabels.Remove .GroupLabels.Names).Values | join \" \" }}", "db critical"},
        {"{{ with .CommonLabels.Remove (stringSlice \"service\" \"alertname\") }}{{ .Names }}{{ "
         "end }}",
         "[severity]"},
        {"{{ .CommonAnnotations.summary }}", "disk <full>"},
        {"{{ template \"__subject\" . }}", "[FIRING:2] DiskFull (db critical)"},
        {"{{ template \"email.default.subject\" . }}", "[FIRING:2] DiskFull (db critical)"},
        {"{{ template \"slack.default.title\" . }}", "[FIRING:2] DiskFull (db critical)"},
        {"{{ template \"slack.default.username\" . }}", "Alertmanager"},
        {"{{ template \"slack.default.titlelink\" . }}",
         "http://am:9093/#/alerts?receiver=default"},
        {"{{ template \"__alertmanagerURL\" . }}", "http://am:9093/#/alerts?receiver=default"},
        {"{{ template \"slack.default.fallback\" . }}",
         "[FIRING:2] DiskFull (db critical) | http://am:9093/#/alerts?receiver=default"},
        {"{{ template \"slack.default.text\" . }}", ""},
        {"{{ template \"__text_alert_list\" .Alerts.Resolved }}",
         "Labels:\n - alertname = DiskFull\n - instance = c\n - service = db\n"
         " - severity = critical\nAnnotations:\n - summary = disk <full>\n"
         "Source: http://prom/graph\n"},
        {"{{ .Missing }}", ""}, /* an error: checked below */
    };
    for (size_t i = 0; i + 1 < sizeof(cases) / sizeof(cases[0]); i++)
        render(&f, cases[i].src, cases[i].want);
    /* a struct has no field Missing: an execution error, as in Go */
    alert_tmpl *t;
    assert_int_equal(alert_tmpl_parse("t", "{{ .Missing }}", 14, &t, &ei), 0);
    alert_notify_tctx c;
    alert_notify_tctx_init(&c, &f.d);
    osp_buf out;
    osp_buf_init(&out);
    assert_int_not_equal(alert_notify_tctx_exec(&c, t, &out, &ei), 0);
    assert_non_null(strstr(ei.msg, "Missing"));
    assert_int_not_equal(alert_tmpl_parse("t", "{{ .A.Remove .B | x }}", 22, &t, &ei),
                         0); /* unknown function */
    osp_buf_fini(&out);
    alert_notify_tctx_fini(&c);
    alert_tmpl_free(t);
    fixture_fini(&f);

    /* all resolved, no labels besides the group's: Alertmanager's subject
     * keeps its space before the (absent) parenthesis */
    alert_alert *r1 = alert_alert_new();
    osp_labels_addc(&r1->labels, "alertname", "DiskFull");
    r1->starts_ms = 1;
    r1->ends_ms = 2;
    alert_alert_seal(r1);
    fixture_init(&f, cfg, "default", ALERT_INT_WEBHOOK, &r1, 1);
    render(&f, "{{ template \"__subject\" . }}", "[RESOLVED] DiskFull ");
    fixture_fini(&f);
    alert_alert_unref(r1);
    for (size_t i = 0; i < 3; i++)
        alert_alert_unref(al[i]);
    alert_am_config_unref(cfg);
}

static void
test_payloads(void **state)
{
    (void)state;
    char *dir = osp_test_tmpdir("notifytmpl");
    write_file(dir, "a.tmpl",
               "{{ define \"my.title\" }}A {{ .CommonLabels.severity }}{{ end }}"
               "{{ define \"my.text\" }}from a{{ end }}");
    /* a later file overrides an earlier definition, as in Alertmanager */
    write_file(dir, "b.tmpl", "{{ define \"my.text\" }}from b{{ end }}");
    const char *path = write_file(
        dir, "am.yml",
        "templates: ['*.tmpl']\n"
        "route: {receiver: r}\n"
        "receivers:\n"
        "  - name: r.x\n"
        "    slack_configs:\n"
        "      - api_url: http://s/\n"
        "  - name: r\n"
        "    slack_configs:\n"
        "      - api_url: http://s/\n"
        "        title: '{{ template \"my.title\" . }}'\n"
        "        text: '{{ template \"my.text\" . }}'\n"
        "        channel: '#{{ .CommonLabels.service }}'\n"
        "    email_configs:\n"
        "      - to: a@b.c\n"
        "        from: x@y.z\n"
        "        smarthost: h:25\n"
        "        text: '{{ len .Alerts }} alerts'\n"
        "        headers: {Subject: 'S {{ .Status }}', X-A: '{{ .GroupLabels.alertname }}'}\n");
    alert_am_config *cfg;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    if (alert_am_config_load(path, &cfg, &ei) != 0)
        fail_msg("%s:%d:%d: %s", ei.file, ei.line, ei.col, ei.msg);
    alert_alert *al[1] = {mk_alert("a", "critical", 0)};
    fixture f;
    fixture_init(&f, cfg, "r", ALERT_INT_SLACK, al, 1);
    osp_buf out;
    osp_buf_init(&out);
    assert_int_equal(alert_render_slack(&f.d, &out, &ei), 0);
    const char *s = osp_buf_cstr(&out);
    assert_non_null(strstr(s, "\"title\":\"A critical\""));
    assert_non_null(strstr(s, "\"text\":\"from b\""));
    assert_non_null(strstr(s, "\"channel\":\"#db\""));
    assert_non_null(strstr(s, "\"color\":\"danger\""));
    assert_non_null(strstr(s, "\"username\":\"Alertmanager\""));
    /* slack.default.fallback uses the default title, not the configured one */
    assert_non_null(strstr(s, "\"fallback\":\"[FIRING:1] DiskFull (a db critical) | "
                              "http://am:9093/#/alerts?receiver=r\""));
    assert_null(strstr(s, "icon_emoji"));
    osp_buf_reset(&out);
    f.job.kind = ALERT_INT_EMAIL;
    assert_int_equal(alert_render_email(&f.d, &out, &ei), 0);
    s = osp_buf_cstr(&out);
    const char *hdrs = "Subject: S firing\r\nFrom: x@y.z\r\nTo: a@b.c\r\nX-A: DiskFull\r\n";
    assert_true(strncmp(s, hdrs, strlen(hdrs)) == 0);
    assert_non_null(strstr(s, "text/plain; charset=UTF-8\r\n\r\n1 alerts\r\n"));
    assert_non_null(strstr(s, "disk &lt;full&gt;")); /* email.default.html escapes */
    fixture_fini(&f);

    /* defaults: the Slack receiver r.x; .Receiver is regex-quoted as in Alertmanager */
    fixture_init(&f, cfg, "r.x", ALERT_INT_SLACK, al, 1);
    osp_buf_reset(&out);
    assert_int_equal(alert_render_slack(&f.d, &out, &ei), 0);
    s = osp_buf_cstr(&out);
    assert_non_null(strstr(s, "\"title\":\"[FIRING:1] DiskFull (a db critical)\""));
    assert_non_null(strstr(s, "\"title_link\":\"http://am:9093/#/alerts?receiver=r%5C.x\""));
    assert_null(strstr(s, "\"channel\""));
    assert_null(strstr(s, "\"pretext\":"));
    fixture_fini(&f);
    osp_buf_fini(&out);
    alert_alert_unref(al[0]);
    alert_am_config_unref(cfg);

    /* an execution error fails the notification */
    path = write_file(
        dir, "am2.yml",
        "route: {receiver: r}\n"
        "receivers:\n"
        "  - name: r\n"
        "    slack_configs: [{api_url: 'http://s/', title: '{{ template \"nope\" . }}'}]\n");
    assert_int_equal(alert_am_config_load(path, &cfg, &ei), 0);
    al[0] = mk_alert("a", "critical", 0);
    fixture_init(&f, cfg, "r", ALERT_INT_SLACK, al, 1);
    osp_buf_init(&out);
    assert_int_not_equal(alert_render_slack(&f.d, &out, &ei), 0);
    assert_non_null(strstr(ei.msg, "no such template \"nope\""));
    osp_buf_fini(&out);
    fixture_fini(&f);
    alert_alert_unref(al[0]);
    alert_am_config_unref(cfg);

    /* syntax errors name the position in alertmanager.yml or the templates file */
    path = write_file(dir, "am3.yml",
                      "route: {receiver: r}\n"
                      "receivers:\n"
                      "  - name: r\n"
                      "    email_configs:\n"
                      "      - {to: a@b.c, from: x@y.z, smarthost: 'h:25',\n"
                      "         headers: {Subject: 'ok {{ .Status'}}\n");
    osp_errinfo_clear(&ei);
    assert_int_not_equal(alert_am_config_load(path, &cfg, &ei), 0);
    assert_int_equal(ei.line, 6);
    assert_non_null(strstr(ei.msg, "Subject"));
    write_file(dir, "c.tmpl", "{{ define \"x\" }}\n\n  {{ end }}{{ end }}\n");
    osp_errinfo_clear(&ei);
    assert_int_not_equal(alert_am_config_load(write_file(dir, "am4.yml",
                                                         "templates: ['c.tmpl']\n"
                                                         "route: {receiver: r}\n"
                                                         "receivers: [{name: r}]\n"),
                                              &cfg, &ei),
                         0);
    assert_non_null(strstr(ei.file, "c.tmpl"));
    assert_int_equal(ei.line, 3);
    osp_test_rmtree(dir);
    osp_free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_and_defaults),
        cmocka_unit_test(test_payloads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
