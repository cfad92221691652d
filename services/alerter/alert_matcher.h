/* alert_matcher.h - Alertmanager label matchers: the `matchers` string syntax
 * (UTF-8 and classic forms, braces optional), the old match/match_re maps, and
 * matching against a label set. Regexes are fully anchored (PromQL's matcher). */
#ifndef ALERT_MATCHER_H
#define ALERT_MATCHER_H

#include <stdbool.h>
#include <stddef.h>

#include "osp_arena.h"
#include "osp_buf.h"
#include "osp_err.h"
#include "osp_labels.h"
#include "promql.h"

/* A list of matchers, all of which must match. Caller storage: init/fini. */
typedef struct alert_matchers {
    osp_matcher *v;
    size_t n, cap;
    osp_arena *arena; /* owns names, values and compiled regexes */
} alert_matchers;

void alert_matchers_init(alert_matchers *m);
void alert_matchers_fini(alert_matchers *m);

/* alert_matchers_add: append one matcher (copied; regex compiled). Errors:
 * OSP_EINVAL for an invalid label name, OSP_EPARSE for a bad regex (ei). */
int alert_matchers_add(alert_matchers *m, osp_match_type t, const char *name, const char *value,
                       osp_errinfo *ei);

/* alert_matchers_parse: parse s (e.g. `severity="critical"`, `{a=~"x|y", b!=c}`,
 * `foo=`) and append its matchers. Errors: OSP_EPARSE with the column in ei. */
int alert_matchers_parse(alert_matchers *m, const char *s, osp_errinfo *ei);

/* alert_matchers_match: true when every matcher matches ls (absent label = ""). */
bool alert_matchers_match(const alert_matchers *m, const osp_labels *ls);

/* alert_matchers_format: `{a="b",c=~"d"}` appended to out. */
void alert_matchers_format(const alert_matchers *m, osp_buf *out);

/* alert_match_op: "=", "!=", "=~", "!~". */
const char *alert_match_op(osp_match_type t);

#endif
