/* promql.h - PromQL (Prometheus 2.42 semantics): label matchers, parser, printer and an
 * evaluator over an abstract series source that the store implements. Nothing here knows
 * about PostgreSQL; the in-memory source serves tests and the conformance corpus. */
#ifndef OSP_PROMQL_H
#define OSP_PROMQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_arena.h"
#include "osp_buf.h"
#include "osp_err.h"
#include "osp_labels.h"

/* Error codes returned by this library and what the HTTP layer answers with them:
 *   OSP_EPARSE    bad query text or type error found before evaluation -> 400 bad_data
 *   OSP_EINVAL    evaluation error (e.g. duplicate label sets, bad function argument)
 *                 -> 422 execution
 *   OSP_ELIMIT    opts.max_samples exceeded -> 422 execution
 *   OSP_ETIMEDOUT opts.timeout_ms passed -> 503 timeout
 *   anything else is what the source's select returned (e.g. OSP_EUNAVAIL) -> 500/503.
 * The message (Prometheus wording) is in osp_errinfo.msg; col is set for parse errors. */

/* ---- staleness ---------------------------------------------------------------------- */

/* OSP_PROMQL_STALE_BITS: bit pattern of Prometheus' StaleNaN, the staleness marker. */
#define OSP_PROMQL_STALE_BITS 0x7ff0000000000002ULL

/* osp_promql_stale_nan: the staleness-marker double (a NaN with OSP_PROMQL_STALE_BITS). */
double osp_promql_stale_nan(void);

/* osp_promql_is_stale: true when v has exactly the staleness-marker bit pattern (an
 * ordinary NaN is a value, not a marker). */
bool osp_promql_is_stale(double v);

/* ---- label matchers ----------------------------------------------------------------- */

typedef enum osp_match_type {
    OSP_MATCH_EQ,  /* =  */
    OSP_MATCH_NEQ, /* != */
    OSP_MATCH_RE,  /* =~ fully anchored, '.' matches newline (Prometheus adds (?s)) */
    OSP_MATCH_NRE, /* !~ */
} osp_match_type;

/* One label matcher. name and value are NUL-terminated and owned by whoever built the
 * matcher (the arena for osp_matchers_parse / osp_matcher_init). re is private. */
typedef struct osp_matcher {
    osp_match_type type;
    const char *name;
    const char *value;
    void *re; /* private: compiled regex for RE/NRE, NULL otherwise */
} osp_matcher;

/* osp_matcher_init: fill m with a copy of name/value in arena a, compiling the regex for
 * RE/NRE (its free is registered with osp_arena_defer). Returns 0, or OSP_EPARSE with a
 * message in ei for a bad regex. Any thread. */
int osp_matcher_init(osp_matcher *m, osp_match_type type, const char *name, const char *value,
                     osp_arena *a, osp_errinfo *ei);

/* osp_matcher_matches: does a label whose value is `value` satisfy m? Pass "" for a
 * label the series lacks (so `x=""` and `x!~".+"` select series without x). Reentrant. */
bool osp_matcher_matches(const osp_matcher *m, const char *value);

/* osp_matcher_matches_empty: osp_matcher_matches(m, ""); lets a source know that a
 * matcher also selects series lacking the label. */
bool osp_matcher_matches_empty(const osp_matcher *m);

/* osp_matchers_parse: parse one series selector sel[0..n) such as `up{job="x"}`,
 * `{__name__=~"a.*"}` or `up` into an arena array *out of *nout matchers (a metric name
 * becomes `__name__="..."` first). At least one matcher must not match "" (Prometheus'
 * "vector selector must contain at least one non-empty matcher"). Returns 0 or
 * OSP_EPARSE (ei: column and message). Outputs written only on success. Any thread. */
int osp_matchers_parse(const char *sel, size_t n, osp_matcher **out, size_t *nout, osp_arena *a,
                       osp_errinfo *ei);

/* ---- parse / print ------------------------------------------------------------------ */

/* Opaque parsed expression (a tree owned by the caller). */
typedef struct osp_promql_expr osp_promql_expr;

/* Value types of expressions and results. */
typedef enum osp_promql_vtype {
    OSP_PROMQL_SCALAR,
    OSP_PROMQL_STRING,
    OSP_PROMQL_VECTOR, /* instant vector */
    OSP_PROMQL_MATRIX, /* range vector */
} osp_promql_vtype;

/* osp_promql_parse: parse q[0..n) into a new expression *out (caller frees with
 * osp_promql_expr_free), type-checked like Prometheus. Returns 0 or OSP_EPARSE with ei
 * holding line/col and a message such as "1:5: parse error: unexpected <EOF>".
 * Any thread. */
int osp_promql_parse(const char *q, size_t n, osp_promql_expr **out, osp_errinfo *ei);

/* osp_promql_expr_free: free an expression; NULL-safe. */
void osp_promql_expr_free(osp_promql_expr *e);

/* osp_promql_expr_type: the value type e evaluates to. A range query accepts only SCALAR
 * and VECTOR. */
osp_promql_vtype osp_promql_expr_type(const osp_promql_expr *e);

/* osp_promql_format: append e's canonical single-line form to out (what Prometheus'
 * /api/v1/format_query prints for a one-line query, e.g. `sum by (job) (rate(x[5m]))`).
 * Re-parsing the output yields the same tree. */
void osp_promql_format(const osp_promql_expr *e, osp_buf *out);

/* ---- series source ------------------------------------------------------------------ */

/* One sample. t is unix ms. */
typedef struct osp_promql_point {
    int64_t t;
    double v;
} osp_promql_point;

/* A series: sorted labels (including __name__ when it has one) and points in time
 * order. Everything is owned by the arena it was built in. */
typedef struct osp_promql_series {
    osp_label *labels; /* strings owned by the arena, sorted by name */
    size_t nlabels;
    osp_promql_point *pts;
    size_t npts;
    size_t cap;     /* private */
    bool no_stale;  /* private: set by the evaluator when pts holds no staleness marker */
    size_t hint[2]; /* private: the evaluator's search positions from the previous step */
} osp_promql_series;

/* The series a select produced; fields are read-only for sources (use the helpers). */
typedef struct osp_promql_series_set {
    osp_promql_series **v;
    size_t n;
    size_t cap;
} osp_promql_series_set;

/* osp_promql_series_set_add: append a new empty series with a copy of labels (sorted
 * here if needed) to set; memory from a. Returns the series, never NULL. */
osp_promql_series *osp_promql_series_set_add(osp_promql_series_set *set, osp_arena *a,
                                             const osp_labels *labels);

/* osp_promql_series_set_add_raw: like osp_promql_series_set_add with nl name/value pairs
 * (borrowed, copied into a; sorted here if needed). */
osp_promql_series *osp_promql_series_set_add_raw(osp_promql_series_set *set, osp_arena *a,
                                                 const osp_label *labels, size_t nl);

/* osp_promql_series_push: append one sample (t must not decrease; stale markers are
 * pushed as they are). Memory from a (amortised doubling, no malloc per sample). */
void osp_promql_series_push(osp_promql_series *s, osp_arena *a, int64_t t_ms, double v);

/* osp_promql_series_push_many: append n samples from parallel arrays. */
void osp_promql_series_push_many(osp_promql_series *s, osp_arena *a, const int64_t *t_ms,
                                 const double *v, size_t n);

/* osp_promql_series_adopt: give the series s, which has no points yet, the n points pts
 * (time order, allocated from the arena s lives in), without copying them. */
void osp_promql_series_adopt(osp_promql_series *s, osp_promql_point *pts, size_t n);

/* The source the evaluator reads. select appends to out every series matching all nm
 * matchers (a matcher that matches "" also accepts series lacking the label), each with
 * its sorted labels and its samples with mint_ms <= t <= maxt_ms in time order,
 * staleness markers included; a series with no sample in range may be omitted. All
 * memory comes from a (the query's arena). Returns 0 or an osp_err code, which the
 * evaluation returns unchanged. Called on the evaluating thread, several times per query;
 * must be safe to call from several query threads at once if queries run in parallel. */
typedef struct osp_promql_source {
    void *ctx;
    int (*select)(void *ctx, const osp_matcher *ms, size_t nm, int64_t mint_ms, int64_t maxt_ms,
                  osp_promql_series_set *out, osp_arena *a);
} osp_promql_source;

/* In-memory source for tests and the conformance runner. Not thread-safe for writes;
 * concurrent selects without writes are fine. */
typedef struct osp_promql_memsource osp_promql_memsource;

/* osp_promql_memsource_new / _free: create an empty store; _free is NULL-safe. */
osp_promql_memsource *osp_promql_memsource_new(void);
void osp_promql_memsource_free(osp_promql_memsource *ms);

/* osp_promql_memsource_clear: drop every series. */
void osp_promql_memsource_clear(osp_promql_memsource *ms);

/* osp_promql_memsource_add: add sample (t_ms, v) to the series with these labels
 * (borrowed; order does not matter; empty values are dropped), creating it. Samples
 * must arrive in time order per series; one at an existing timestamp replaces it.
 * Returns 0 or OSP_EINVAL when t_ms is older than the series' newest sample. */
int osp_promql_memsource_add(osp_promql_memsource *ms, const osp_labels *labels, int64_t t_ms,
                             double v);

/* osp_promql_memsource_source: the source view of ms (valid while ms lives). */
osp_promql_source osp_promql_memsource_source(osp_promql_memsource *ms);

/* ---- evaluation --------------------------------------------------------------------- */

/* Per-query options; zero fields take the defaults. */
typedef struct osp_promql_opts {
    int64_t lookback_ms; /* 0 -> 5 minutes */
    int64_t timeout_ms;  /* 0 -> no timeout */
    size_t max_samples;  /* samples held at once; 0 -> 50 000 000 */
} osp_promql_opts;

/* A result. For SCALAR/STRING: t_ms and scalar/str. For VECTOR: series each with exactly
 * one point. For MATRIX: series with their points, sorted by labels. Everything hangs
 * off the result's private arena. */
typedef struct osp_promql_result {
    osp_promql_vtype type;
    int64_t t_ms;
    double scalar;
    const char *str;
    osp_promql_series *series; /* array of nseries */
    size_t nseries;
    osp_arena *arena; /* private */
} osp_promql_result;

/* osp_promql_eval_instant: evaluate e at t_ms reading src. opts may be NULL. On success
 * *out is a new result (free with osp_promql_result_free). Errors: see the list at the
 * top (OSP_EINVAL execution, OSP_ELIMIT, OSP_ETIMEDOUT, source errors). Reentrant: one
 * query per thread, e and src only read. */
int osp_promql_eval_instant(const osp_promql_expr *e, const osp_promql_source *src, int64_t t_ms,
                            const osp_promql_opts *opts, osp_promql_result **out, osp_errinfo *ei);

/* osp_promql_eval_range: evaluate e at start_ms, start_ms+step_ms, ... <= end_ms; the
 * result is always MATRIX (scalars become one series with no labels). e must be SCALAR or
 * VECTOR typed, else OSP_EPARSE ("invalid expression type ..."); step_ms <= 0 or
 * end < start is OSP_EPARSE. Other errors as osp_promql_eval_instant. Reentrant. */
int osp_promql_eval_range(const osp_promql_expr *e, const osp_promql_source *src, int64_t start_ms,
                          int64_t end_ms, int64_t step_ms, const osp_promql_opts *opts,
                          osp_promql_result **out, osp_errinfo *ei);

/* osp_promql_result_free: free r and everything it points to; NULL-safe. */
void osp_promql_result_free(osp_promql_result *r);

/* osp_promql_result_json: append exactly Prometheus' `data` object for r, e.g.
 * {"resultType":"vector","result":[{"metric":{...},"value":[1435781451.781,"1"]}]}
 * (timestamps: seconds with up to 3 decimals; values: strings, "NaN", "+Inf", "-Inf"). */
void osp_promql_result_json(const osp_promql_result *r, osp_buf *out);

/* osp_promql_fmt_ts: append t_ms as Prometheus writes a JSON timestamp (4, 1.5, 1.781). */
void osp_promql_fmt_ts(osp_buf *out, int64_t t_ms);

/* osp_promql_fmt_ts_c: the same into out (at least 32 bytes, NUL-terminated); returns the
 * length. Reentrant. */
int osp_promql_fmt_ts_c(char *out, int64_t t_ms);

#endif
