/* alert_am_config.c - alertmanager.yml loading and validation. Unknown keys
 * are errors (like Alertmanager); receivers of integrations Osprey does not
 * implement are rejected by name, so a config never half-works silently. */
#include "alert_am_config.h"

#include <assert.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_notify.h"
#include "log.h"
#include "osp_mem.h"

typedef struct globals {
    int64_t resolve_timeout_ms;
    const char *smtp_from, *smtp_smarthost, *smtp_hello, *smtp_user, *smtp_pass, *smtp_identity;
    bool smtp_require_tls;
    const char *slack_api_url;
    const osp_yaml_node *http_config;
} globals;

static int
check_keys(const osp_yaml_node *map, const char *what, const char *const *keys, osp_errinfo *ei)
{
    if (map == NULL || map->type == OSP_YAML_NULL)
        return 0;
    if (map->type != OSP_YAML_MAP)
        return osp_yaml_err(ei, map, what, OSP_EINVAL, "%s must be a mapping", what);
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->pairs[i].key->str;
        bool ok = false;
        for (size_t j = 0; keys[j] && !ok; j++)
            ok = strcmp(keys[j], k) == 0;
        if (!ok)
            return osp_yaml_err(ei, map->pairs[i].key, k, OSP_EINVAL,
                                "field %s not found in %s (or not supported by osprey-alerter)", k,
                                what);
    }
    return 0;
}

static const osp_yaml_node *
get(const osp_yaml_node *m, const char *k)
{
    const osp_yaml_node *n = osp_yaml_map_get(m, k);
    return n && n->type == OSP_YAML_NULL ? NULL : n;
}

static int
get_str(const osp_yaml_node *m, const char *k, const char *def, char **out, osp_errinfo *ei)
{
    const osp_yaml_node *n = get(m, k);
    if (n == NULL) {
        *out = def ? osp_strdup(def) : NULL;
        return 0;
    }
    if (n->type != OSP_YAML_SCALAR)
        return osp_yaml_err(ei, n, k, OSP_EINVAL, "%s must be a string", k);
    *out = osp_strndup(n->str, n->len);
    return 0;
}

/* x_file variants: read the file's content (trailing newline trimmed). */
static int
get_str_or_file(const osp_yaml_node *m, const char *k, const char *def, char **out, osp_errinfo *ei)
{
    char fk[64];
    snprintf(fk, sizeof(fk), "%s_file", k);
    const osp_yaml_node *f = get(m, fk);
    if (f == NULL)
        return get_str(m, k, def, out, ei);
    if (get(m, k) != NULL)
        return osp_yaml_err(ei, f, fk, OSP_EINVAL, "at most one of %s and %s must be set", k, fk);
    FILE *fp = fopen(f->str, "rb");
    if (fp == NULL)
        return osp_yaml_err(ei, f, fk, OSP_EIO, "cannot read %s", f->str);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    *out = osp_strndup(buf, n);
    return 0;
}

static int
get_bool(const osp_yaml_node *m, const char *k, bool def, bool *out, osp_errinfo *ei)
{
    const osp_yaml_node *n = get(m, k);
    if (n == NULL) {
        *out = def;
        return 0;
    }
    return osp_yaml_bool(n, out, ei);
}

static int
get_dur(const osp_yaml_node *m, const char *k, int64_t def, int64_t *out, osp_errinfo *ei)
{
    const osp_yaml_node *n = get(m, k);
    if (n == NULL) {
        *out = def;
        return 0;
    }
    return osp_yaml_duration(n, out, ei);
}

static char **
strlist(const osp_yaml_node *seq, size_t *n)
{
    *n = seq ? seq->n : 0;
    char **v = osp_calloc(*n ? *n : 1, sizeof(char *));
    for (size_t i = 0; i < *n; i++)
        v[i] = osp_strndup(seq->items[i]->str, seq->items[i]->len);
    return v;
}

static int
check_strseq(const osp_yaml_node *n, const char *k, osp_errinfo *ei)
{
    if (n == NULL)
        return 0;
    if (n->type != OSP_YAML_SEQ)
        return osp_yaml_err(ei, n, k, OSP_EINVAL, "%s must be a list of strings", k);
    for (size_t i = 0; i < n->n; i++)
        if (n->items[i]->type != OSP_YAML_SCALAR)
            return osp_yaml_err(ei, n->items[i], k, OSP_EINVAL, "%s must be a list of strings", k);
    return 0;
}

/* matchers + match + match_re into m. */
static int
load_matchers(const osp_yaml_node *map, const char *mk, const char *eqk, const char *rek,
              alert_matchers *m, osp_errinfo *ei)
{
    int rc;
    const osp_yaml_node *n = get(map, mk);
    if ((rc = check_strseq(n, mk, ei)))
        return rc;
    for (size_t i = 0; n && i < n->n; i++) {
        osp_errinfo e2;
        osp_errinfo_clear(&e2);
        if ((rc = alert_matchers_parse(m, n->items[i]->str, &e2)))
            return osp_yaml_err(ei, n->items[i], mk, rc, "%s", e2.msg);
    }
    for (int pass = 0; pass < 2; pass++) {
        const char *k = pass ? rek : eqk;
        const osp_yaml_node *mm = get(map, k);
        if (mm == NULL)
            continue;
        if (mm->type != OSP_YAML_MAP)
            return osp_yaml_err(ei, mm, k, OSP_EINVAL, "%s must be a mapping", k);
        for (size_t i = 0; i < mm->n; i++) {
            osp_errinfo e2;
            osp_errinfo_clear(&e2);
            if ((rc = alert_matchers_add(m, pass ? OSP_MATCH_RE : OSP_MATCH_EQ,
                                         mm->pairs[i].key->str, mm->pairs[i].value->str, &e2)))
                return osp_yaml_err(ei, mm->pairs[i].key, k, rc, "%s", e2.msg);
        }
    }
    return 0;
}

static int
load_http(const osp_yaml_node *n, alert_http_auth *h, osp_errinfo *ei)
{
    static const char *const keys[] = {"basic_auth",        "authorization", "bearer_token",
                                       "bearer_token_file", "tls_config",    "follow_redirects",
                                       "enable_http2",      "proxy_url",     NULL};
    int rc;
    if (n == NULL)
        return 0;
    if ((rc = check_keys(n, "http_config", keys, ei)))
        return rc;
    const osp_yaml_node *b = get(n, "basic_auth");
    if (b) {
        static const char *const bk[] = {"username", "password", "password_file", NULL};
        if ((rc = check_keys(b, "basic_auth", bk, ei)) ||
            (rc = get_str(b, "username", "", &h->basic_user, ei)) ||
            (rc = get_str_or_file(b, "password", "", &h->basic_pass, ei)))
            return rc;
    }
    const osp_yaml_node *a = get(n, "authorization");
    if (a) {
        static const char *const ak[] = {"type", "credentials", "credentials_file", NULL};
        char *type = NULL;
        if ((rc = check_keys(a, "authorization", ak, ei)) ||
            (rc = get_str(a, "type", "Bearer", &type, ei)))
            return rc;
        bool bearer = strcmp(type, "Bearer") == 0;
        osp_free(type);
        if (!bearer)
            return osp_yaml_err(ei, a, "type", OSP_EINVAL,
                                "only the Bearer authorization type is supported");
        if ((rc = get_str_or_file(a, "credentials", NULL, &h->bearer, ei)))
            return rc;
    } else if (get(n, "bearer_token") || get(n, "bearer_token_file")) {
        if ((rc = get_str_or_file(n, "bearer_token", NULL, &h->bearer, ei)))
            return rc;
    }
    const osp_yaml_node *t = get(n, "tls_config");
    if (t) {
        static const char *const tk[] = {"insecure_skip_verify", "ca_file", "server_name", NULL};
        if ((rc = check_keys(t, "tls_config", tk, ei)) ||
            (rc = get_bool(t, "insecure_skip_verify", false, &h->insecure_skip_verify, ei)) ||
            (rc = get_str(t, "ca_file", NULL, &h->ca_file, ei)))
            return rc;
    }
    return 0;
}

static void
http_fini(alert_http_auth *h)
{
    osp_free(h->basic_user);
    osp_free(h->basic_pass);
    osp_free(h->bearer);
    osp_free(h->ca_file);
}

/* Go templates in notification fields are not implemented: refuse them by
 * name instead of sending the template text. */
static int
no_templates(const osp_yaml_node *n, const char *const *keys, osp_errinfo *ei)
{
    for (size_t i = 0; keys[i]; i++) {
        const osp_yaml_node *v = get(n, keys[i]);
        if (v && v->type == OSP_YAML_SCALAR && strstr(v->str, "{{"))
            return osp_yaml_err(ei, v, keys[i], OSP_EINVAL,
                                "Go templates in %s are not supported by osprey-alerter yet; "
                                "use plain text or leave it unset for the default",
                                keys[i]);
    }
    return 0;
}

static int
load_webhook(const osp_yaml_node *n, const globals *g, alert_webhook_cfg *w, osp_errinfo *ei)
{
    static const char *const keys[] = {"send_resolved", "url",     "url_file", "http_config",
                                       "max_alerts",    "timeout", NULL};
    int rc;
    int64_t ma = 0;
    if ((rc = check_keys(n, "webhook_config", keys, ei)) ||
        (rc = get_bool(n, "send_resolved", true, &w->send_resolved, ei)) ||
        (rc = get_str_or_file(n, "url", NULL, &w->url, ei)) ||
        (rc = get_dur(n, "timeout", 0, &w->timeout_ms, ei)) ||
        (rc = load_http(get(n, "http_config") ? get(n, "http_config") : g->http_config, &w->http,
                        ei)))
        return rc;
    if (get(n, "max_alerts") && (rc = osp_yaml_int64(get(n, "max_alerts"), &ma, ei)))
        return rc;
    if (ma < 0 || ma > 1000000)
        return osp_yaml_err(ei, get(n, "max_alerts"), "max_alerts", OSP_EINVAL,
                            "max_alerts must be between 0 and 1000000");
    w->max_alerts = (int)ma;
    if (w->url == NULL || !*w->url)
        return osp_yaml_err(ei, n, "url", OSP_EINVAL, "one of url or url_file must be configured");
    if (strncmp(w->url, "http://", 7) != 0 && strncmp(w->url, "https://", 8) != 0)
        return osp_yaml_err(ei, get(n, "url"), "url", OSP_EINVAL,
                            "unsupported scheme for webhook url (http or https)");
    return 0;
}

static const char *const slack_keys[ALERT_SLACK_NFIELDS] = {
    "channel", "username", "icon_emoji", "icon_url", "title",       "title_link", "pretext",
    "text",    "fallback", "color",      "footer",   "callback_id", "image_url",  "thumb_url"};

/* Alertmanager's DefaultSlackConfig. */
static const char *const slack_defaults[ALERT_SLACK_NFIELDS] = {
    "",
    "{{ template \"slack.default.username\" . }}",
    "{{ template \"slack.default.iconemoji\" . }}",
    "{{ template \"slack.default.iconurl\" . }}",
    "{{ template \"slack.default.title\" . }}",
    "{{ template \"slack.default.titlelink\" . }}",
    "{{ template \"slack.default.pretext\" . }}",
    "{{ template \"slack.default.text\" . }}",
    "{{ template \"slack.default.fallback\" . }}",
    "{{ if eq .Status \"firing\" }}danger{{ else }}good{{ end }}",
    "{{ template \"slack.default.footer\" . }}",
    "{{ template \"slack.default.callbackid\" . }}",
    "",
    ""};

const char *
alert_slack_field_key(alert_slack_field f)
{
    return (unsigned)f < ALERT_SLACK_NFIELDS ? slack_keys[f] : "?";
}

/* parse_tmpl: the template in node v (a scalar) or, without v, the default
 * text def. A syntax error names the YAML position of the template's line
 * and column (exact for plain and quoted one-line values). */
static int
parse_tmpl(const osp_yaml_node *v, const char *what, const char *key, const char *def,
           alert_tmpl **out, osp_errinfo *ei)
{
    if (v && v->type != OSP_YAML_SCALAR)
        return osp_yaml_err(ei, v, key, OSP_EINVAL, "%s must be a string", key);
    const char *src = v ? v->str : def;
    char name[160];
    snprintf(name, sizeof(name), "%s.%s", what, key);
    osp_errinfo te;
    osp_errinfo_clear(&te);
    if (alert_tmpl_parse(name, src, strlen(src), out, &te) == 0)
        return 0;
    int rc = osp_yaml_err(ei, v, key, OSP_EINVAL, "invalid template in %s %s: %d:%d: %s", what, key,
                          te.line, te.col, te.msg);
    if (ei && v && te.line > 0) {
        ei->line = v->line + te.line - 1;
        ei->col = te.line == 1 ? v->col + te.col - 1 + (v->plain ? 0 : 1) : te.col;
    }
    return rc;
}

static int
load_slack(const osp_yaml_node *n, const globals *g, alert_slack_cfg *s, osp_errinfo *ei)
{
    static const char *const keys[] = {
        "send_resolved", "api_url",   "api_url_file", "http_config", "channel",     "username",
        "icon_emoji",    "icon_url",  "link_names",   "title",       "title_link",  "pretext",
        "text",          "fallback",  "color",        "footer",      "callback_id", "image_url",
        "thumb_url",     "mrkdwn_in", "short_fields", "timeout",     NULL};
    int rc;
    if ((rc = check_keys(n, "slack_config", keys, ei)) ||
        (rc = get_bool(n, "send_resolved", false, &s->send_resolved, ei)) ||
        (rc = get_str_or_file(n, "api_url", g->slack_api_url, &s->api_url, ei)) ||
        (rc = get_bool(n, "link_names", false, &s->link_names, ei)) ||
        (rc = get_dur(n, "timeout", 0, &s->timeout_ms, ei)) ||
        (rc = load_http(get(n, "http_config") ? get(n, "http_config") : g->http_config, &s->http,
                        ei)))
        return rc;
    for (size_t f = 0; f < ALERT_SLACK_NFIELDS; f++)
        if ((rc = parse_tmpl(get(n, slack_keys[f]), "slack_config", slack_keys[f],
                             slack_defaults[f], &s->tmpl[f], ei)))
            return rc;
    if (s->api_url == NULL || !*s->api_url)
        return osp_yaml_err(ei, n, "api_url", OSP_EINVAL,
                            "no global Slack API URL set either inline or in a file");
    return 0;
}

static int
load_email(const osp_yaml_node *n, const globals *g, alert_email_cfg *e, osp_errinfo *ei)
{
    static const char *const keys[] = {"send_resolved",
                                       "to",
                                       "from",
                                       "smarthost",
                                       "hello",
                                       "auth_username",
                                       "auth_password",
                                       "auth_password_file",
                                       "auth_secret",
                                       "auth_secret_file",
                                       "auth_identity",
                                       "require_tls",
                                       "force_implicit_tls",
                                       "tls_config",
                                       "html",
                                       "text",
                                       "headers",
                                       NULL};
    int rc;
    osp_labels_init(&e->headers);
    if ((rc = check_keys(n, "email_config", keys, ei)) ||
        (rc = get_bool(n, "send_resolved", false, &e->send_resolved, ei)) ||
        (rc = get_str(n, "to", NULL, &e->to, ei)) ||
        (rc = get_str(n, "from", g->smtp_from, &e->from, ei)) ||
        (rc = get_str(n, "smarthost", g->smtp_smarthost, &e->smarthost, ei)) ||
        (rc = get_str(n, "hello", g->smtp_hello ? g->smtp_hello : "localhost", &e->hello, ei)) ||
        (rc = get_str(n, "auth_username", g->smtp_user, &e->auth_username, ei)) ||
        (rc = get_str_or_file(n, "auth_password", g->smtp_pass, &e->auth_password, ei)) ||
        (rc = get_str(n, "auth_identity", g->smtp_identity, &e->auth_identity, ei)) ||
        (rc = get_bool(n, "require_tls", g->smtp_require_tls, &e->require_tls, ei)) ||
        (rc = parse_tmpl(get(n, "html"), "email_config", "html",
                         "{{ template \"email.default.html\" . }}", &e->html, ei)) ||
        (get(n, "text") &&
         (rc = parse_tmpl(get(n, "text"), "email_config", "text", "", &e->text, ei))))
        return rc;
    if (get(n, "auth_secret") || get(n, "auth_secret_file"))
        return osp_yaml_err(
            ei, get(n, "auth_secret") ? get(n, "auth_secret") : get(n, "auth_secret_file"),
            "auth_secret", OSP_EINVAL,
            "CRAM-MD5 (auth_secret) is not supported; use auth_password");
    e->force_implicit_tls = -1;
    if (get(n, "force_implicit_tls")) {
        bool b;
        if ((rc = osp_yaml_bool(get(n, "force_implicit_tls"), &b, ei)))
            return rc;
        e->force_implicit_tls = b;
    }
    const osp_yaml_node *t = get(n, "tls_config");
    if (t) {
        static const char *const tk[] = {"insecure_skip_verify", "ca_file", "server_name", NULL};
        if ((rc = check_keys(t, "tls_config", tk, ei)) ||
            (rc = get_bool(t, "insecure_skip_verify", false, &e->insecure_skip_verify, ei)) ||
            (rc = get_str(t, "ca_file", NULL, &e->ca_file, ei)))
            return rc;
    }
    static const char *const tk[] = {"to", "from", NULL};
    if ((rc = no_templates(n, tk, ei)))
        return rc;
    const osp_yaml_node *h = get(n, "headers");
    if (h && h->type != OSP_YAML_MAP)
        return osp_yaml_err(ei, h, "headers", OSP_EINVAL, "headers must be a mapping");
    size_t nh = (h ? h->n : 0) + 3;
    e->header_tmpls = osp_calloc(nh, sizeof(*e->header_tmpls));
    for (size_t i = 0; h && i < h->n; i++) {
        const osp_yaml_node *v = h->pairs[i].value;
        osp_labels_addc(&e->headers, h->pairs[i].key->str, v->str ? v->str : "");
        if ((rc = parse_tmpl(v, "email_config headers", h->pairs[i].key->str, "",
                             &e->header_tmpls[e->headers.n - 1], ei)))
            return rc;
    }
    /* Alertmanager fills Subject, To and From when the headers lack them */
    const char *fill[][2] = {{"Subject", "{{ template \"email.default.subject\" . }}"},
                             {"To", e->to ? e->to : ""},
                             {"From", e->from ? e->from : ""}};
    for (size_t i = 0; i < 3; i++) {
        if (osp_labels_get(&e->headers, fill[i][0]))
            continue;
        osp_labels_addc(&e->headers, fill[i][0], fill[i][1]);
        if ((rc = parse_tmpl(NULL, "email_config headers", fill[i][0], fill[i][1],
                             &e->header_tmpls[e->headers.n - 1], ei)))
            return rc;
    }
    if (e->to == NULL || !*e->to)
        return osp_yaml_err(ei, n, "to", OSP_EINVAL, "missing to address in email config");
    if (e->from == NULL || !*e->from)
        return osp_yaml_err(ei, n, "from", OSP_EINVAL,
                            "no global SMTP from set; from must be configured");
    if (e->smarthost == NULL || !strchr(e->smarthost, ':'))
        return osp_yaml_err(ei, n, "smarthost", OSP_EINVAL,
                            "no SMTP smarthost (host:port) set globally or in the email config");
    return 0;
}

#define LOAD_LIST(node, key, arr, cnt, fn)                                                         \
    do {                                                                                           \
        const osp_yaml_node *l_ = get(node, key);                                                  \
        if (l_ == NULL)                                                                            \
            break;                                                                                 \
        if (l_->type != OSP_YAML_SEQ)                                                              \
            return osp_yaml_err(ei, l_, key, OSP_EINVAL, "%s must be a list", key);                \
        arr = osp_calloc(l_->n ? l_->n : 1, sizeof(*arr));                                         \
        for (size_t i_ = 0; i_ < l_->n; i_++) {                                                    \
            cnt++;                                                                                 \
            if ((rc = fn(l_->items[i_], g, &arr[i_], ei)))                                         \
                return rc;                                                                         \
        }                                                                                          \
    } while (0)

static int
load_receiver(const osp_yaml_node *n, const globals *g, alert_receiver *r, osp_errinfo *ei)
{
    static const char *const unsupported[] = {"pagerduty_configs",  "opsgenie_configs",
                                              "victorops_configs",  "pushover_configs",
                                              "wechat_configs",     "sns_configs",
                                              "telegram_configs",   "webex_configs",
                                              "discord_configs",    "msteams_configs",
                                              "msteamsv2_configs",  "jira_configs",
                                              "rocketchat_configs", NULL};
    int rc;
    for (size_t i = 0; unsupported[i]; i++)
        if (osp_yaml_map_get(n, unsupported[i]))
            return osp_yaml_err(ei, osp_yaml_map_get(n, unsupported[i]), unsupported[i], OSP_EINVAL,
                                "%s are not supported by osprey-alerter (webhook_configs, "
                                "slack_configs and email_configs are)",
                                unsupported[i]);
    static const char *const keys[] = {"name", "webhook_configs", "slack_configs", "email_configs",
                                       NULL};
    if ((rc = check_keys(n, "receiver", keys, ei)) || (rc = get_str(n, "name", NULL, &r->name, ei)))
        return rc;
    if (r->name == NULL || !*r->name)
        return osp_yaml_err(ei, n, "name", OSP_EINVAL, "missing name in receiver");
    LOAD_LIST(n, "webhook_configs", r->webhooks, r->nwebhooks, load_webhook);
    LOAD_LIST(n, "slack_configs", r->slacks, r->nslacks, load_slack);
    LOAD_LIST(n, "email_configs", r->emails, r->nemails, load_email);
    return 0;
}

static int
load_route(const osp_yaml_node *n, const alert_route *parent, alert_route *r, size_t *next_id,
           osp_errinfo *ei)
{
    static const char *const keys[] = {"receiver",
                                       "group_by",
                                       "group_wait",
                                       "group_interval",
                                       "repeat_interval",
                                       "continue",
                                       "matchers",
                                       "match",
                                       "match_re",
                                       "routes",
                                       "mute_time_intervals",
                                       "active_time_intervals",
                                       NULL};
    int rc;
    alert_matchers_init(&r->matchers);
    r->id = (*next_id)++;
    if ((rc = check_keys(n, "route", keys, ei)))
        return rc;
    const char *tk = get(n, "mute_time_intervals")     ? "mute_time_intervals"
                     : get(n, "active_time_intervals") ? "active_time_intervals"
                                                       : NULL;
    if (tk)
        return osp_yaml_err(ei, get(n, tk), tk, OSP_EINVAL,
                            "%s are not supported by osprey-alerter yet", tk);
    if ((rc = get_str(n, "receiver", parent ? parent->receiver : NULL, &r->receiver, ei)) ||
        (rc = get_dur(n, "group_wait", parent ? parent->group_wait_ms : 30000, &r->group_wait_ms,
                      ei)) ||
        (rc = get_dur(n, "group_interval", parent ? parent->group_interval_ms : 300000,
                      &r->group_interval_ms, ei)) ||
        (rc = get_dur(n, "repeat_interval", parent ? parent->repeat_interval_ms : 4 * 3600000,
                      &r->repeat_interval_ms, ei)) ||
        (rc = get_bool(n, "continue", false, &r->cont, ei)) ||
        (rc = load_matchers(n, "matchers", "match", "match_re", &r->matchers, ei)))
        return rc;
    if (parent == NULL && (r->receiver == NULL || !*r->receiver))
        return osp_yaml_err(ei, n, "receiver", OSP_EINVAL, "root route must specify a receiver");
    if (parent == NULL && r->matchers.n)
        return osp_yaml_err(ei, n, "matchers", OSP_EINVAL, "root route must not have any matchers");
    if (parent == NULL && r->cont)
        return osp_yaml_err(ei, n, "continue", OSP_EINVAL, "cannot have continue in root route");
    if (r->group_interval_ms <= 0)
        return osp_yaml_err(ei, get(n, "group_interval"), "group_interval", OSP_EINVAL,
                            "group_interval cannot be zero");
    if (r->repeat_interval_ms <= 0)
        return osp_yaml_err(ei, get(n, "repeat_interval"), "repeat_interval", OSP_EINVAL,
                            "repeat_interval cannot be zero");
    const osp_yaml_node *gb = get(n, "group_by");
    if ((rc = check_strseq(gb, "group_by", ei)))
        return rc;
    if (gb) {
        r->group_by = strlist(gb, &r->ngroup_by);
        for (size_t i = 0; i < r->ngroup_by; i++) {
            if (strcmp(r->group_by[i], "...") == 0) {
                if (r->ngroup_by != 1)
                    return osp_yaml_err(ei, gb, "group_by", OSP_EINVAL,
                                        "cannot have wildcard group_by (`...`) and other labels "
                                        "at the same time");
                r->group_by_all = true;
            } else if (!osp_label_name_valid(r->group_by[i], strlen(r->group_by[i]))) {
                return osp_yaml_err(ei, gb->items[i], "group_by", OSP_EINVAL,
                                    "invalid label name \"%s\" in group_by list", r->group_by[i]);
            }
        }
    } else if (parent) {
        r->group_by_all = parent->group_by_all;
        r->ngroup_by = parent->ngroup_by;
        r->group_by = osp_calloc(r->ngroup_by ? r->ngroup_by : 1, sizeof(char *));
        for (size_t i = 0; i < r->ngroup_by; i++)
            r->group_by[i] = osp_strdup(parent->group_by[i]);
    } else {
        r->group_by = osp_calloc(1, sizeof(char *));
    }
    osp_buf key;
    osp_buf_init(&key);
    if (parent) {
        osp_buf_puts(&key, parent->key);
        osp_buf_putc(&key, '/');
    }
    alert_matchers_format(&r->matchers, &key);
    r->key = osp_buf_steal(&key, NULL);
    const osp_yaml_node *ch = get(n, "routes");
    if (ch) {
        if (ch->type != OSP_YAML_SEQ)
            return osp_yaml_err(ei, ch, "routes", OSP_EINVAL, "routes must be a list");
        r->routes = osp_calloc(ch->n ? ch->n : 1, sizeof(*r->routes));
        for (size_t i = 0; i < ch->n; i++) {
            r->nroutes++;
            if ((rc = load_route(ch->items[i], r, &r->routes[i], next_id, ei)))
                return rc;
        }
    }
    return 0;
}

static void
route_fini(alert_route *r)
{
    alert_matchers_fini(&r->matchers);
    osp_free(r->receiver);
    for (size_t i = 0; i < r->ngroup_by; i++)
        osp_free(r->group_by[i]);
    osp_free(r->group_by);
    osp_free(r->key);
    for (size_t i = 0; i < r->nroutes; i++)
        route_fini(&r->routes[i]);
    osp_free(r->routes);
}

static int
resolve_receivers(alert_am_config *c, alert_route *r, const osp_yaml_node *n, osp_errinfo *ei)
{
    size_t i;
    for (i = 0; i < c->nreceivers; i++)
        if (strcmp(c->receivers[i].name, r->receiver) == 0)
            break;
    if (i == c->nreceivers)
        return osp_yaml_err(ei, get(n, "receiver") ? get(n, "receiver") : n, "receiver", OSP_EINVAL,
                            "undefined receiver \"%s\" used in route", r->receiver);
    r->receiver_idx = i;
    const osp_yaml_node *ch = get(n, "routes");
    for (size_t k = 0; k < r->nroutes; k++) {
        int rc = resolve_receivers(c, &r->routes[k], ch->items[k], ei);
        if (rc)
            return rc;
    }
    return 0;
}

static int
load_inhibit(const osp_yaml_node *n, const globals *g, alert_inhibit_rule *r, osp_errinfo *ei)
{
    static const char *const keys[] = {"source_matchers",
                                       "target_matchers",
                                       "source_match",
                                       "source_match_re",
                                       "target_match",
                                       "target_match_re",
                                       "equal",
                                       "name",
                                       NULL};
    int rc;
    alert_matchers_init(&r->source);
    alert_matchers_init(&r->target);
    if ((rc = check_keys(n, "inhibit_rule", keys, ei)) ||
        (rc = load_matchers(n, "source_matchers", "source_match", "source_match_re", &r->source,
                            ei)) ||
        (rc = load_matchers(n, "target_matchers", "target_match", "target_match_re", &r->target,
                            ei)) ||
        (rc = check_strseq(get(n, "equal"), "equal", ei)))
        return rc;
    r->equal = strlist(get(n, "equal"), &r->nequal);
    return 0;
}

static int
load_globals(const osp_yaml_node *n, globals *g, osp_errinfo *ei)
{
    static const char *const keys[] = {"resolve_timeout",         "smtp_from",
                                       "smtp_smarthost",          "smtp_hello",
                                       "smtp_auth_username",      "smtp_auth_password",
                                       "smtp_auth_password_file", "smtp_auth_identity",
                                       "smtp_auth_secret",        "smtp_require_tls",
                                       "smtp_tls_config",         "slack_api_url",
                                       "slack_api_url_file",      "http_config",
                                       "pagerduty_url",           "opsgenie_api_url",
                                       "opsgenie_api_key",        "victorops_api_url",
                                       "wechat_api_url",          "telegram_api_url",
                                       "webex_api_url",           NULL};
    int rc;
    memset(g, 0, sizeof(*g));
    g->smtp_require_tls = true;
    g->resolve_timeout_ms = 300000;
    if (n == NULL)
        return 0;
    if ((rc = check_keys(n, "global", keys, ei)) ||
        (rc = get_dur(n, "resolve_timeout", 300000, &g->resolve_timeout_ms, ei)) ||
        (rc = get_bool(n, "smtp_require_tls", true, &g->smtp_require_tls, ei)))
        return rc;
    const osp_yaml_node *v;
#define GS(field, key)                                                                             \
    if ((v = get(n, key)) != NULL)                                                                 \
    g->field = v->str
    GS(smtp_from, "smtp_from");
    GS(smtp_smarthost, "smtp_smarthost");
    GS(smtp_hello, "smtp_hello");
    GS(smtp_user, "smtp_auth_username");
    GS(smtp_pass, "smtp_auth_password");
    GS(smtp_identity, "smtp_auth_identity");
    GS(slack_api_url, "slack_api_url");
#undef GS
    g->http_config = get(n, "http_config");
    return 0;
}

/* add_lib: parse one template library (a templates file or the defaults). */
static int
add_lib(alert_am_config *c, const char *name, const char *src, size_t len, osp_errinfo *ei)
{
    alert_tmpl *t;
    osp_errinfo te;
    osp_errinfo_clear(&te);
    if (alert_tmpl_parse(name, src, len, &t, &te) != 0) {
        if (ei)
            snprintf(ei->file, sizeof(ei->file), "%s", name);
        return osp_errinfo_set(ei, OSP_EPARSE, te.line, te.col, "template: %s", te.msg);
    }
    c->tmpl_libs = osp_reallocarray(c->tmpl_libs, c->ntmpl_libs + 1, sizeof(*c->tmpl_libs));
    c->tmpl_libs[c->ntmpl_libs++] = t;
    return 0;
}

/* load_templates: the `templates:` globs (relative to the config file's
 * directory, as in Alertmanager), last file first, then the defaults. */
static int
load_templates(alert_am_config *c, const osp_yaml_node *tl, const char *cfg_path, osp_errinfo *ei)
{
    int rc = 0;
    if (tl && tl->type != OSP_YAML_SEQ)
        return osp_yaml_err(ei, tl, "templates", OSP_EINVAL, "templates must be a list");
    char **files = NULL;
    size_t nfiles = 0;
    for (size_t i = 0; tl && i < tl->n; i++) {
        const osp_yaml_node *g = tl->items[i];
        if (g->type != OSP_YAML_SCALAR)
            return osp_yaml_err(ei, g, "templates", OSP_EINVAL, "templates must be strings");
        char pat[4096];
        const char *slash = cfg_path ? strrchr(cfg_path, '/') : NULL;
        if (g->str[0] != '/' && slash)
            snprintf(pat, sizeof(pat), "%.*s/%s", (int)(slash - cfg_path), cfg_path, g->str);
        else
            snprintf(pat, sizeof(pat), "%s", g->str);
        glob_t gl;
        int grc = glob(pat, 0, NULL, &gl);
        if (grc != 0 && grc != GLOB_NOMATCH) {
            rc = osp_yaml_err(ei, g, "templates", OSP_EIO, "cannot expand %s", pat);
            goto out;
        }
        for (size_t k = 0; grc == 0 && k < gl.gl_pathc; k++) {
            files = osp_reallocarray(files, nfiles + 1, sizeof(*files));
            files[nfiles++] = osp_strdup(gl.gl_pathv[k]);
        }
        if (grc == 0)
            globfree(&gl);
    }
    rc = 0;
    for (size_t i = nfiles; rc == 0 && i-- > 0;) {
        FILE *fp = fopen(files[i], "rb");
        if (fp == NULL) {
            rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "cannot read template file %s", files[i]);
            break;
        }
        osp_buf b;
        osp_buf_init(&b);
        char tmp[4096];
        size_t n;
        while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
            osp_buf_append(&b, tmp, n);
        fclose(fp);
        rc = add_lib(c, files[i], b.data ? b.data : "", b.len, ei);
        osp_buf_fini(&b);
    }
    if (rc == 0)
        rc = add_lib(c, "default.tmpl", alert_default_templates, strlen(alert_default_templates),
                     ei);
out:
    for (size_t i = 0; i < nfiles; i++)
        osp_free(files[i]);
    osp_free(files);
    return rc;
}

static alert_am_config *
builtin(void)
{
    alert_am_config *c = osp_calloc(1, sizeof(*c));
    c->refs = 1;
    c->resolve_timeout_ms = 300000;
    c->original = osp_strdup("route:\n  receiver: default\nreceivers:\n  - name: default\n");
    c->receivers = osp_calloc(1, sizeof(*c->receivers));
    c->nreceivers = 1;
    c->receivers[0].name = osp_strdup("default");
    alert_matchers_init(&c->root.matchers);
    c->root.receiver = osp_strdup("default");
    c->root.group_by = osp_calloc(1, sizeof(char *));
    c->root.group_wait_ms = 30000;
    c->root.group_interval_ms = 300000;
    c->root.repeat_interval_ms = 4 * 3600000;
    c->root.key = osp_strdup("{}");
    c->nroutes_total = 1;
    int rc = load_templates(c, NULL, NULL, NULL);
    assert(rc == 0); /* the built-in defaults parse */
    (void)rc;
    return c;
}

int
alert_am_config_load(const char *path, alert_am_config **out, osp_errinfo *ei)
{
    if (path == NULL || !*path) {
        *out = builtin();
        return 0;
    }
    osp_yaml_doc *doc = NULL;
    alert_am_config *c = osp_calloc(1, sizeof(*c));
    c->refs = 1;
    c->path = osp_strdup(path);
    int rc = osp_yaml_load_file(path, &doc, ei);
    if (rc)
        goto fail;
    const osp_yaml_node *root = osp_yaml_root(doc);
    static const char *const keys[] = {
        "global",    "route",          "receivers",           "inhibit_rules",
        "templates", "time_intervals", "mute_time_intervals", NULL};
    globals g;
    if ((rc = check_keys(root, "config", keys, ei)) ||
        (rc = load_globals(get(root, "global"), &g, ei)))
        goto fail;
    c->resolve_timeout_ms = g.resolve_timeout_ms;
    if ((rc = load_templates(c, get(root, "templates"), path, ei)))
        goto fail;
    const osp_yaml_node *rl = get(root, "receivers");
    if (rl && rl->type != OSP_YAML_SEQ) {
        rc = osp_yaml_err(ei, rl, "receivers", OSP_EINVAL, "receivers must be a list");
        goto fail;
    }
    c->receivers = osp_calloc(rl && rl->n ? rl->n : 1, sizeof(*c->receivers));
    for (size_t i = 0; rl && i < rl->n; i++) {
        c->nreceivers++;
        if ((rc = load_receiver(rl->items[i], &g, &c->receivers[i], ei)))
            goto fail;
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->receivers[j].name, c->receivers[i].name) == 0) {
                rc = osp_yaml_err(ei, rl->items[i], "name", OSP_EINVAL,
                                  "notification config name \"%s\" is not unique",
                                  c->receivers[i].name);
                goto fail;
            }
    }
    const osp_yaml_node *rt = get(root, "route");
    if (rt == NULL) {
        rc = osp_yaml_err(ei, NULL, "route", OSP_EINVAL, "no routes provided");
        goto fail;
    }
    size_t ids = 0;
    if ((rc = load_route(rt, NULL, &c->root, &ids, ei)) ||
        (rc = resolve_receivers(c, &c->root, rt, ei)))
        goto fail;
    c->nroutes_total = ids;
    const osp_yaml_node *il = get(root, "inhibit_rules");
    if (il && il->type != OSP_YAML_SEQ) {
        rc = osp_yaml_err(ei, il, "inhibit_rules", OSP_EINVAL, "inhibit_rules must be a list");
        goto fail;
    }
    c->inhibits = osp_calloc(il && il->n ? il->n : 1, sizeof(*c->inhibits));
    for (size_t i = 0; il && i < il->n; i++) {
        c->ninhibits++;
        if ((rc = load_inhibit(il->items[i], &g, &c->inhibits[i], ei)))
            goto fail;
    }
    FILE *fp = fopen(path, "rb");
    if (fp) {
        osp_buf b;
        osp_buf_init(&b);
        char tmp[4096];
        size_t n;
        while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
            osp_buf_append(&b, tmp, n);
        fclose(fp);
        c->original = osp_buf_steal(&b, NULL);
    }
    osp_yaml_free(doc);
    *out = c;
    return 0;
fail:
    if (ei && !ei->file[0])
        snprintf(ei->file, sizeof(ei->file), "%s", path);
    osp_yaml_free(doc);
    alert_am_config_unref(c);
    return rc ? rc : OSP_EINVAL;
}

alert_am_config *
alert_am_config_ref(alert_am_config *c)
{
    __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
    return c;
}

static void
receiver_fini(alert_receiver *r)
{
    osp_free(r->name);
    for (size_t i = 0; i < r->nwebhooks; i++) {
        osp_free(r->webhooks[i].url);
        http_fini(&r->webhooks[i].http);
    }
    osp_free(r->webhooks);
    for (size_t i = 0; i < r->nslacks; i++) {
        alert_slack_cfg *s = &r->slacks[i];
        osp_free(s->api_url);
        for (size_t k = 0; k < ALERT_SLACK_NFIELDS; k++)
            alert_tmpl_free(s->tmpl[k]);
        http_fini(&s->http);
    }
    osp_free(r->slacks);
    for (size_t i = 0; i < r->nemails; i++) {
        alert_email_cfg *e = &r->emails[i];
        char *strs[] = {e->to,
                        e->from,
                        e->smarthost,
                        e->hello,
                        e->auth_username,
                        e->auth_password,
                        e->auth_identity,
                        e->ca_file};
        for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
            osp_free(strs[k]);
        alert_tmpl_free(e->html);
        alert_tmpl_free(e->text);
        for (size_t k = 0; e->header_tmpls && k < e->headers.n; k++)
            alert_tmpl_free(e->header_tmpls[k]);
        osp_free(e->header_tmpls);
        osp_labels_fini(&e->headers);
    }
    osp_free(r->emails);
}

void
alert_am_config_unref(alert_am_config *c)
{
    if (c == NULL || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    route_fini(&c->root);
    for (size_t i = 0; i < c->nreceivers; i++)
        receiver_fini(&c->receivers[i]);
    osp_free(c->receivers);
    for (size_t i = 0; i < c->ninhibits; i++) {
        alert_matchers_fini(&c->inhibits[i].source);
        alert_matchers_fini(&c->inhibits[i].target);
        for (size_t k = 0; k < c->inhibits[i].nequal; k++)
            osp_free(c->inhibits[i].equal[k]);
        osp_free(c->inhibits[i].equal);
    }
    osp_free(c->inhibits);
    for (size_t i = 0; i < c->ntmpl_libs; i++)
        alert_tmpl_free(c->tmpl_libs[i]);
    osp_free(c->tmpl_libs);
    osp_free(c->path);
    osp_free(c->original);
    osp_free(c);
}

const alert_receiver *
alert_am_config_find_receiver(const alert_am_config *c, const char *name)
{
    for (size_t i = 0; i < c->nreceivers; i++)
        if (strcmp(c->receivers[i].name, name) == 0)
            return &c->receivers[i];
    return NULL;
}

/* Alertmanager's Route.Match: a matching node tries its children in order;
 * the first match wins unless it has continue; no matching child -> itself. */
static size_t
match_rec(const alert_route *r, const osp_labels *ls, const alert_route **out, size_t n, size_t max)
{
    if (!alert_matchers_match(&r->matchers, ls))
        return n;
    size_t before = n;
    for (size_t i = 0; i < r->nroutes; i++) {
        size_t k = match_rec(&r->routes[i], ls, out, n, max);
        bool matched = k > n;
        n = k;
        if (matched && !r->routes[i].cont)
            break;
    }
    if (n == before && n < max)
        out[n++] = r;
    return n;
}

size_t
alert_route_match(const alert_route *root, const osp_labels *ls, const alert_route **out,
                  size_t max)
{
    return match_rec(root, ls, out, 0, max);
}

void
alert_route_group_labels(const alert_route *r, const osp_labels *ls, osp_labels *out)
{
    osp_labels_reset(out);
    if (r->group_by_all) {
        osp_labels_copy(out, ls);
        return;
    }
    for (size_t i = 0; i < r->ngroup_by; i++) {
        const char *v = osp_labels_get(ls, r->group_by[i]);
        if (v != NULL && *v)
            osp_labels_addc(out, r->group_by[i], v);
    }
    osp_labels_sort(out);
}
