/* alert_rules.h - Prometheus rule files: groups (name, interval, limit,
 * query_offset, labels) of alerting rules (alert, expr, for, keep_firing_for,
 * labels, annotations) and recording rules (record, expr, labels), validated
 * like `promtool check rules`: unknown keys, bad durations, names, PromQL and
 * templates are errors naming file:line:col, group and rule. */
#ifndef ALERT_RULES_H
#define ALERT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert_tmpl.h"
#include "osp_err.h"
#include "osp_labels.h"

typedef struct alert_rule {
    bool alerting;
    char *name; /* alert name, or the record's metric name */
    char *expr;
    int64_t for_ms, keep_firing_ms;
    osp_labels labels;        /* in file order (values may be templates) */
    alert_tmpl **label_tmpls; /* alerting: one per label */
    osp_labels annotations;   /* alerting only */
    alert_tmpl **ann_tmpls;
    int line; /* position of the rule in its file */
} alert_rule;

typedef struct alert_group {
    char *name;
    char *file;
    int64_t interval_ms;
    int64_t query_offset_ms;
    int64_t limit;     /* 0 = none */
    osp_labels labels; /* group labels (rule labels override) */
    alert_rule *rules;
    size_t nrules;
} alert_group;

typedef struct alert_ruleset {
    alert_group *groups;
    size_t ngroups;
    size_t nrules;
    size_t nfiles;
} alert_ruleset;

/* alert_rules_load: expand the globs (no match is not an error, as in
 * Prometheus; a name without glob characters must exist), load every file
 * into a new set; groups without interval get default_interval_ms. Errors:
 * OSP_EIO (unreadable file), OSP_EPARSE/OSP_EINVAL with file, line, col and a
 * message naming the group and rule in ei. *out only on success. */
int alert_rules_load(const char *const *globs, size_t n, int64_t default_interval_ms,
                     alert_ruleset **out, osp_errinfo *ei);

/* alert_rules_load_file: one file appended to rs (for --check-rules). */
int alert_rules_load_file(alert_ruleset *rs, const char *path, int64_t default_interval_ms,
                          osp_errinfo *ei);

alert_ruleset *alert_ruleset_new(void);
void alert_ruleset_free(alert_ruleset *rs); /* NULL-safe */

#endif
