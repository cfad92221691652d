/* alert_tmpl.h - the subset of Go text/template that Prometheus rule files and
 * Alertmanager notification fields use: {{ pipeline }}, if/else if/else,
 * range (with $i, $e :=), with, variables ($x := / =), define/template within
 * one text (and in libraries: see alert_tmpl_env.libs), comments, trim markers,
 * the KV method .Remove, and the functions of Prometheus' and
 * Alertmanager's templates (humanize*, printf, index, len, eq..., toUpper,
 * join, match, reReplaceAll, query/first/label/value...). Parsed once at load
 * (errors name line:col), executed per evaluation into a buffer. */
#ifndef ALERT_TMPL_H
#define ALERT_TMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_arena.h"
#include "osp_buf.h"
#include "osp_err.h"
#include "osp_labels.h"

/* ---- values ---- */

typedef enum alert_tval_kind {
    ALERT_TV_NIL = 0,
    ALERT_TV_STR,
    ALERT_TV_NUM, /* float64 */
    ALERT_TV_INT, /* int (literals, len, range index) */
    ALERT_TV_BOOL,
    ALERT_TV_LIST,
    ALERT_TV_MAP, /* keys/items; see flags */
} alert_tval_kind;

enum {
    ALERT_TV_KV = 1,     /* Alertmanager's KV: .SortedPairs .Names .Values */
    ALERT_TV_STRUCT = 2, /* a struct: an unknown field is an execution error */
    ALERT_TV_ALERTS = 4, /* a list of alerts: .Firing .Resolved */
    ALERT_TV_PAIRS = 8,  /* KV.SortedPairs: a list of {Name, Value}: .Names .Values */
};

/* A template value. Strings and arrays are borrowed (usually from the
 * execution arena); values are never changed once built. */
typedef struct alert_tval {
    alert_tval_kind kind;
    unsigned flags;
    const char *s;
    double num;
    int64_t i;
    bool b;
    size_t n;
    const char *const *keys;        /* MAP: n keys */
    const struct alert_tval *items; /* LIST, MAP: n values */
} alert_tval;

alert_tval alert_tval_str(const char *s);
alert_tval alert_tval_num(double v);
/* alert_tval_labels: a map of ls (copied into a) with flags. */
alert_tval alert_tval_labels(const osp_labels *ls, unsigned flags, osp_arena *a);
/* alert_tval_struct: a struct of n fields (names and values copied into a). */
alert_tval alert_tval_struct(const char *const *names, const alert_tval *vals, size_t n,
                             osp_arena *a);

/* ---- templates ---- */

typedef struct alert_tmpl alert_tmpl;

/* alert_tmpl_parse: parse src[0..len) (name is used in messages, e.g.
 * "__alert_HighLatency"). Unknown functions, unbalanced blocks and syntax
 * errors are OSP_EPARSE with ei->line/col (1-based, within src) and a message.
 * *out only on success; free with alert_tmpl_free. Any thread. */
int alert_tmpl_parse(const char *name, const char *src, size_t len, alert_tmpl **out,
                     osp_errinfo *ei);
void alert_tmpl_free(alert_tmpl *t); /* NULL-safe */

/* alert_tmpl_defines: true when t defines a template named name. */
bool alert_tmpl_defines(const alert_tmpl *t, const char *name);

/* alert_tmpl_plain: true when the text has no action (it renders as itself). */
bool alert_tmpl_plain(const alert_tmpl *t);

/* The query function of templates ({{ query "expr" }}): a list of samples,
 * each a struct {Labels: map, Value: num}, into *out (memory from a).
 * Returns 0 or an error (message in ei). May block (the caller's thread). */
typedef int (*alert_tmpl_query_fn)(void *ctx, const char *expr, osp_arena *a, alert_tval *out,
                                   osp_errinfo *ei);

/* Execution environment. */
typedef struct alert_tmpl_env {
    alert_tval dot;          /* the data ("."); also "$" */
    const char *const *vars; /* predefined variables without '$' ("labels", "value", ...) */
    const alert_tval *vals;
    size_t nvars;
    const char *external_url;  /* externalURL / pathPrefix functions; may be NULL */
    alert_tmpl_query_fn query; /* NULL: query fails with "query is not available" */
    void *query_ctx;
    osp_arena *arena; /* scratch for the execution (caller resets) */
    /* Template libraries: {{ template "name" }} looks in the executed
     * template's own defines, then in libs[0..nlibs) in order (user files
     * before the built-in defaults, so users can override them). */
    const alert_tmpl *const *libs;
    size_t nlibs;
} alert_tmpl_env;

/* alert_tmpl_exec: run t, appending the text to out. On an execution error
 * the text written so far stays in out, and OSP_EINVAL is returned with the
 * message in ei (Prometheus then uses "<error expanding template: msg>").
 * Reentrant: t is only read. */
int alert_tmpl_exec(const alert_tmpl *t, const alert_tmpl_env *env, osp_buf *out, osp_errinfo *ei);

/* ---- Prometheus' humanize family (also used by the unit tests) ---- */
void alert_humanize(osp_buf *out, double v);
void alert_humanize1024(osp_buf *out, double v);
void alert_humanize_duration(osp_buf *out, double v);
void alert_humanize_percentage(osp_buf *out, double v);
/* alert_fmt_go_float: Go's %v of a float64 (shortest digits; exponent form
 * when the exponent is < -4 or >= 6... of the shortest form: "1e+06", "0.5",
 * "123456", "NaN", "+Inf"). */
void alert_fmt_go_float(osp_buf *out, double v);
/* alert_fmt_g4: Go's %.4g ("NaN", "+Inf", "-Inf" for the special values). */
void alert_fmt_g4(osp_buf *out, double v);

#endif
