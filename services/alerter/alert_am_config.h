/* alert_am_config.h - the alertmanager.yml subset the alerter reads: global,
 * route tree, receivers (webhook, slack, email; Slack and e-mail fields are Go
 * templates parsed at load), inhibit_rules, templates files. A loaded
 * config is immutable and reference counted: the loop swaps it on reload while
 * notification jobs on the notifier thread still hold the old one. */
#ifndef ALERT_AM_CONFIG_H
#define ALERT_AM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert_matcher.h"
#include "alert_tmpl.h"
#include "conf.h"
#include "osp_err.h"

typedef struct alert_http_auth {
    char *basic_user, *basic_pass; /* secret */
    char *bearer;                  /* secret (authorization credentials or bearer_token) */
    bool insecure_skip_verify;
    char *ca_file;
} alert_http_auth;

typedef struct alert_webhook_cfg {
    char *url; /* secret-ish: may carry tokens; logged only as host */
    bool send_resolved;
    int max_alerts;
    int64_t timeout_ms;
    alert_http_auth http;
} alert_webhook_cfg;

/* The templated fields of a Slack config, in alert_slack_cfg.tmpl. */
typedef enum alert_slack_field {
    ALERT_SLACK_CHANNEL = 0,
    ALERT_SLACK_USERNAME,
    ALERT_SLACK_ICON_EMOJI,
    ALERT_SLACK_ICON_URL,
    ALERT_SLACK_TITLE,
    ALERT_SLACK_TITLE_LINK,
    ALERT_SLACK_PRETEXT,
    ALERT_SLACK_TEXT,
    ALERT_SLACK_FALLBACK,
    ALERT_SLACK_COLOR,
    ALERT_SLACK_FOOTER,
    ALERT_SLACK_CALLBACK_ID,
    ALERT_SLACK_IMAGE_URL,
    ALERT_SLACK_THUMB_URL,
    ALERT_SLACK_NFIELDS
} alert_slack_field;

/* alert_slack_field_key: the YAML key of f ("title"). */
const char *alert_slack_field_key(alert_slack_field f);

typedef struct alert_slack_cfg {
    char *api_url;
    bool send_resolved;
    /* Go templates of the fields (the configured text, else Alertmanager's
     * default, e.g. {{ template "slack.default.title" . }}); never NULL */
    alert_tmpl *tmpl[ALERT_SLACK_NFIELDS];
    bool link_names;
    int64_t timeout_ms;
    alert_http_auth http;
} alert_slack_cfg;

typedef struct alert_email_cfg {
    bool send_resolved;
    char *to, *from, *smarthost, *hello;
    char *auth_username, *auth_password, *auth_identity;
    bool require_tls;
    int force_implicit_tls; /* -1 unset (implicit iff port 465), 0, 1 */
    bool insecure_skip_verify;
    char *ca_file;
    /* html: the configured template or {{ template "email.default.html" . }};
     * text: NULL unless configured */
    alert_tmpl *html, *text;
    osp_labels headers;        /* Subject (default email.default.subject), To, From, ... */
    alert_tmpl **header_tmpls; /* one per header, templates of the values */
} alert_email_cfg;

typedef struct alert_receiver {
    char *name;
    alert_webhook_cfg *webhooks;
    size_t nwebhooks;
    alert_slack_cfg *slacks;
    size_t nslacks;
    alert_email_cfg *emails;
    size_t nemails;
} alert_receiver;

typedef struct alert_route {
    alert_matchers matchers;
    char *receiver;
    size_t receiver_idx;
    char **group_by;
    size_t ngroup_by;
    bool group_by_all; /* group_by: ['...'] */
    int64_t group_wait_ms, group_interval_ms, repeat_interval_ms;
    bool cont;
    char *key; /* "{}/{service=\"tts\"}" - the route part of group keys */
    size_t id; /* index in depth-first order */
    struct alert_route *routes;
    size_t nroutes;
} alert_route;

typedef struct alert_inhibit_rule {
    alert_matchers source, target;
    char **equal;
    size_t nequal;
} alert_inhibit_rule;

typedef struct alert_am_config {
    int refs;       /* private, atomic */
    char *path;     /* NULL when built without a file */
    char *original; /* file text for /api/v2/status */
    int64_t resolve_timeout_ms;
    alert_route root;
    size_t nroutes_total;
    alert_receiver *receivers;
    size_t nreceivers;
    alert_inhibit_rule *inhibits;
    size_t ninhibits;
    /* template libraries for {{ template "x" }}: the `templates:` files (the
     * last file first, so later definitions win), then the defaults */
    alert_tmpl **tmpl_libs;
    size_t ntmpl_libs;
} alert_am_config;

/* alert_am_config_load: read and validate path (NULL: the built-in config of a
 * plain API-only alerter: one root route to receiver "default" without
 * integrations). Errors: OSP_EIO, OSP_EPARSE, OSP_EINVAL with file:line:col,
 * key and message in ei (e.g. `undefined receiver "x" used in route`). *out
 * (one reference) only on success. Any thread. */
int alert_am_config_load(const char *path, alert_am_config **out, osp_errinfo *ei);

/* alert_am_config_ref / _unref: atomic; the last unref frees; unref NULL-safe. */
alert_am_config *alert_am_config_ref(alert_am_config *c);
void alert_am_config_unref(alert_am_config *c);

/* alert_am_config_find_receiver: receiver by name or NULL. */
const alert_receiver *alert_am_config_find_receiver(const alert_am_config *c, const char *name);

/* alert_route_match: the routes that take an alert with labels ls, in
 * Alertmanager order (depth first, first matching child wins unless continue).
 * Writes up to max pointers into out; returns the count (at least 1 for the
 * root). Any thread (the config is immutable). */
size_t alert_route_match(const alert_route *root, const osp_labels *ls, const alert_route **out,
                         size_t max);

/* alert_route_group_labels: the labels of ls that r groups by (all of them for
 * '...'), sorted, into out (reset first). */
void alert_route_group_labels(const alert_route *r, const osp_labels *ls, osp_labels *out);

#endif
