/* alert_json.h - a small strict JSON parser (RFC 8259) for the alerter's API
 * bodies (alerts, silences): a read-only tree in a caller's arena, errors with
 * line and column. No JSON library ships with Osprey; this is the only parser. */
#ifndef ALERT_JSON_H
#define ALERT_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "osp_arena.h"
#include "osp_err.h"

typedef enum alert_json_type {
    ALERT_JSON_NULL = 0,
    ALERT_JSON_BOOL,
    ALERT_JSON_NUM,
    ALERT_JSON_STR,
    ALERT_JSON_ARR,
    ALERT_JSON_OBJ,
} alert_json_type;

/* A node; everything lives in the arena given to alert_json_parse. */
typedef struct alert_json {
    alert_json_type type;
    int line, col; /* 1-based position of the value's first byte */
    bool b;
    double num;
    const char *str; /* STR: decoded, NUL-terminated (may contain \u0000 -> rejected) */
    size_t len;
    size_t n;                  /* ARR items / OBJ members */
    struct alert_json **items; /* ARR items; OBJ member values */
    const char **keys;         /* OBJ member names (decoded, NUL-terminated) */
} alert_json;

/* alert_json_parse: parse s[0..n) as one JSON value (whitespace around it only).
 * Strings must be valid UTF-8 without NUL; nesting depth at most 64; duplicate
 * object keys are rejected. *out (arena memory) is written only on success.
 * Errors: OSP_EPARSE with ei line/col and a message. Any thread. */
int alert_json_parse(const char *s, size_t n, osp_arena *a, alert_json **out, osp_errinfo *ei);

/* alert_json_get: the value of key in an OBJ (NULL when absent or obj is not an OBJ). */
const alert_json *alert_json_get(const alert_json *obj, const char *key);

/* alert_json_type_name: "null", "boolean", "number", "string", "array", "object". */
const char *alert_json_type_name(alert_json_type t);

#endif
