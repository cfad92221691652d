/* expfmt.h - Prometheus text exposition (0.0.4, with the quoted names of 1.0.0)
 * and OpenMetrics 1.0 text: a streaming, line-tolerant parser and a writer. */
#ifndef OSP_EXPFMT_H
#define OSP_EXPFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_buf.h"
#include "osp_labels.h"

/* Which grammar the input follows. */
typedef enum osp_expfmt_dialect {
    OSP_EXPFMT_TEXT,        /* text/plain; version=0.0.4 (and 1.0.0) */
    OSP_EXPFMT_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
} osp_expfmt_dialect;

/* osp_expfmt_dialect_from_content_type: the dialect for a response
 * Content-Type: OSP_EXPFMT_OPENMETRICS when its media type (before any ';',
 * case-insensitive, blanks trimmed) is application/openmetrics-text, else
 * OSP_EXPFMT_TEXT (also for NULL, empty or unknown types). Pure; any thread. */
osp_expfmt_dialect osp_expfmt_dialect_from_content_type(const char *content_type);

/* Metric family type from a TYPE line. Both dialects accept every name below;
 * OSP_EXPFMT_TYPE_NONE means no TYPE line applies. */
typedef enum osp_expfmt_type {
    OSP_EXPFMT_TYPE_NONE = 0,
    OSP_EXPFMT_TYPE_COUNTER,
    OSP_EXPFMT_TYPE_GAUGE,
    OSP_EXPFMT_TYPE_HISTOGRAM,
    OSP_EXPFMT_TYPE_GAUGEHISTOGRAM,
    OSP_EXPFMT_TYPE_STATESET,
    OSP_EXPFMT_TYPE_INFO,
    OSP_EXPFMT_TYPE_SUMMARY,
    OSP_EXPFMT_TYPE_UNTYPED, /* text "untyped" */
    OSP_EXPFMT_TYPE_UNKNOWN, /* OpenMetrics "unknown" */
} osp_expfmt_type;

/* osp_expfmt_type_name: lowercase name of t as written in TYPE lines ("" for
 * NONE); static string, never NULL. */
const char *osp_expfmt_type_name(osp_expfmt_type t);

/* One label of a parsed sample. Views are valid only during the callback. */
typedef struct osp_expfmt_label {
    osp_str name;
    osp_str value; /* unescaped; never empty (empty values are dropped) */
} osp_expfmt_label;

/* One sample line, as handed to osp_expfmt_handler.sample. Every view and the
 * labels array are borrowed and valid only during the callback; copy what
 * must outlive it. Labels are in input order (not sorted), never contain
 * __name__ nor empty values, have no duplicate names; `le` and `quantile`
 * values that parse as floats are in canonical form ("1" -> "1.0"). */
typedef struct osp_expfmt_sample {
    osp_str name;                   /* metric (sample) name, e.g. foo_bucket */
    const osp_expfmt_label *labels; /* nlabels entries */
    size_t nlabels;
    double value;
    bool has_ts;
    int64_t ts_ms;        /* ms since epoch; OpenMetrics seconds are rounded to ms */
    osp_expfmt_type type; /* type of the family the name belongs to, or NONE */
    int line;             /* 1-based line number */
} osp_expfmt_sample;

/* The metadata of one family: all HELP/TYPE/UNIT lines of a contiguous
 * metadata block for the same name, delivered once when the block ends (at
 * the next sample, the next metadata line for another name, or the end of
 * input). Views valid only during the callback. */
typedef struct osp_expfmt_meta {
    osp_str name;         /* family name as written in the metadata lines */
    osp_expfmt_type type; /* NONE when there was no TYPE line */
    osp_str type_str;     /* the type as written; empty when no TYPE line */
    bool has_help;        /* false when no HELP line (or an empty OM HELP) */
    osp_str help;         /* unescaped per dialect */
    osp_str unit;         /* OpenMetrics UNIT; empty when absent */
    int line;             /* line of the first metadata line of the block */
} osp_expfmt_meta;

/* A rejected line. The line is skipped and parsing goes on. */
typedef struct osp_expfmt_error {
    int line;          /* 1-based; for a missing # EOF: number of lines + 1 */
    int col;           /* 1-based byte column in the line, 0 when not about a byte */
    const char *msg;   /* e.g. `expected label value, got "abc"`; valid during the callback */
    osp_str line_text; /* the offending line without its line ending (may be empty) */
} osp_expfmt_error;

/* Callbacks of one parse. Any callback may be NULL (then ignored). A non-zero
 * return from sample or meta stops the parse, which returns that value. The
 * callbacks run on the caller's thread, inside osp_expfmt_parse. */
typedef struct osp_expfmt_handler {
    void *ctx;
    int (*sample)(void *ctx, const osp_expfmt_sample *s);
    int (*meta)(void *ctx, const osp_expfmt_meta *m);
    void (*error)(void *ctx, const osp_expfmt_error *e);
} osp_expfmt_handler;

/* Counters of one parse (caller storage; osp_expfmt_parse zeroes it first). */
typedef struct osp_expfmt_stats {
    size_t lines;   /* lines seen, blank and comment lines included */
    size_t samples; /* samples delivered */
    size_t metas;   /* metadata blocks delivered */
    size_t errors;  /* errors reported (rejected lines, missing/trailing # EOF) */
} osp_expfmt_stats;

/* osp_expfmt_parse: parse buf[0..len) (need not be NUL-terminated) as dialect
 * d, calling h's callbacks in input order. A bad line is reported through
 * h->error with line, column and reason, then skipped: all good lines are
 * delivered (Osprey keeps what parses). In OpenMetrics a missing `# EOF` is
 * reported (samples are kept) and data after `# EOF` is reported once and
 * ignored. \r\n line endings and a missing final newline are tolerated.
 * buf is borrowed; nothing is retained after return. No allocation per
 * sample: a few scratch buffers per call, grown as needed. stats may be NULL.
 * Returns 0 when the input was read to its end (even with line errors; see
 * stats->errors), OSP_EINVAL when h is NULL or buf is NULL with len > 0, or
 * the non-zero value a sample/meta callback returned. Reentrant. */
int osp_expfmt_parse(osp_expfmt_dialect d, const char *buf, size_t len, const osp_expfmt_handler *h,
                     osp_expfmt_stats *stats);

/* osp_expfmt_format_float_label: canonical text of v as a label value
 * (`le`, `quantile`): Go 'g' shortest form with ".0" appended when it has no
 * '.' or exponent ("1.0", "0.5", "1e-05", "100000.0", "1e+06"), "+Inf",
 * "-Inf", "NaN". out must hold 32 bytes; returns the length. */
int osp_expfmt_format_float_label(char *out, double v);

/* osp_expfmt_write_help: append `# HELP name help\n` to b, escaping `\` and
 * newline in help as text 0.0.4 requires. name must be a valid metric name
 * (not checked); help may be NULL (empty). Never fails (OOM aborts). */
void osp_expfmt_write_help(osp_buf *b, const char *name, const char *help);

/* osp_expfmt_write_type: append `# TYPE name type\n` to b (type e.g.
 * "counter"; not checked). Never fails. */
void osp_expfmt_write_type(osp_buf *b, const char *name, const char *type);

/* osp_expfmt_write_sample: append one text 0.0.4 sample line
 * `name{a="x",...} value [ts_ms]\n` to b. labels may be NULL; they are
 * written in their order, skipping __name__ and empty values, values escaped
 * (`\\`, `\"`, `\n`); no braces when no label is left. The value is written
 * with osp_fmt_double_expfmt (shortest round-trip, NaN, +Inf, -Inf). A name
 * or label name outside the legacy charset is written quoted, as text 1.0.0
 * does (`{"a.b",x="1"} 2`). Strings must be valid UTF-8 (not checked). Never
 * fails. */
void osp_expfmt_write_sample(osp_buf *b, const char *name, const osp_labels *labels, double value,
                             bool has_ts, int64_t ts_ms);

/* osp_expfmt_write_parsed: like osp_expfmt_write_sample for a sample as the
 * parser delivers it (views), e.g. to re-expose or to copy a scrape. */
void osp_expfmt_write_parsed(osp_buf *b, const osp_expfmt_sample *s);

#endif
