/* conf.h - YAML configuration: a position-carrying document tree on libyaml,
 * schema tables that apply it to C structs (defaults < file < flags), help and
 * dump generated from the tables, and the command line shared by all daemons. */
#ifndef OSP_CONF_H
#define OSP_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "osp_buf.h"
#include "osp_err.h"

/* ---- YAML documents ---------------------------------------------------- */

typedef struct osp_yaml_doc osp_yaml_doc;
typedef struct osp_yaml_node osp_yaml_node;

typedef enum osp_yaml_type {
    OSP_YAML_NULL = 0, /* empty value, ~, null/Null/NULL (plain) */
    OSP_YAML_SCALAR,
    OSP_YAML_SEQ,
    OSP_YAML_MAP,
} osp_yaml_type;

typedef struct osp_yaml_pair {
    const osp_yaml_node *key; /* a scalar (complex keys are rejected by the loader) */
    const osp_yaml_node *value;
} osp_yaml_pair;

/* A node: read-only, owned by its document. Aliases are resolved: an alias
 * points at its anchor's node (a node may be reached more than once). */
struct osp_yaml_node {
    osp_yaml_type type;
    int line;         /* 1-based position of the node's start */
    int col;          /* 1-based */
    const char *file; /* the document's name, for error messages */
    const char *str;  /* scalar text, NUL-terminated (also for NULL nodes: "", "~", "null"); NULL
                         otherwise */
    size_t len;       /* scalar length (may contain NULs from escapes) */
    bool plain;       /* scalar was unquoted (so 'true' != "true" for strict callers) */
    size_t n;         /* SEQ: items; MAP: pairs */
    const osp_yaml_node *const *items; /* SEQ */
    const osp_yaml_pair *pairs;        /* MAP, in document order */
};

/* osp_yaml_load_file: parse the first YAML document of path (JSON is YAML too,
 * so file_sd JSON loads here). Limits: 64 MiB file, nesting depth 256, 1M nodes
 * after alias expansion (billion laughs). Merge keys (<<) are applied.
 * Errors: OSP_EIO (cannot read; ei->file/msg), OSP_EPARSE (syntax, unknown
 * alias, non-scalar key, limits; ei has file, line, col, msg). *out only on
 * success; free with osp_yaml_free. Any thread. */
int osp_yaml_load_file(const char *path, osp_yaml_doc **out, osp_errinfo *ei);
/* osp_yaml_load_buf: same from memory; name is used in errors and node->file. */
int osp_yaml_load_buf(const char *buf, size_t len, const char *name, osp_yaml_doc **out,
                      osp_errinfo *ei);
/* osp_yaml_free: free the document and all its nodes; NULL-safe. */
void osp_yaml_free(osp_yaml_doc *doc);
/* osp_yaml_root: the root node (a NULL node for an empty document); never NULL. */
const osp_yaml_node *osp_yaml_root(const osp_yaml_doc *doc);
/* osp_yaml_map_get: value of the first pair whose key equals key, or NULL
 * (also when map is NULL or not a MAP). */
const osp_yaml_node *osp_yaml_map_get(const osp_yaml_node *map, const char *key);
/* osp_yaml_seq_at / osp_yaml_map_at: bounds-checked item i / pair i, NULL past the end. */
const osp_yaml_node *osp_yaml_seq_at(const osp_yaml_node *seq, size_t i);
const osp_yaml_pair *osp_yaml_map_at(const osp_yaml_node *map, size_t i);
/* osp_yaml_type_name: "null", "scalar", "sequence", "mapping". */
const char *osp_yaml_type_name(osp_yaml_type t);
/* osp_yaml_err: set ei->file/line/col from node (NULL node: file kept, no line/col) and the
 * formatted message; key (may be NULL) goes to ei->key. Returns code, so
 * `return osp_yaml_err(ei, node, "job_name", OSP_EINVAL, "must be set")`. */
int osp_yaml_err(osp_errinfo *ei, const osp_yaml_node *node, const char *key, int code,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Scalar conversions with Prometheus/Go yaml semantics; each returns 0 or
 * OSP_EINVAL with "invalid <what> \"text\"" and the node's position in ei. */
int osp_yaml_bool(const osp_yaml_node *n, bool *out,
                  osp_errinfo *ei); /* true/false/yes/no/on/off */
int osp_yaml_int64(const osp_yaml_node *n, int64_t *out, osp_errinfo *ei);
int osp_yaml_double(const osp_yaml_node *n, double *out, osp_errinfo *ei);
int osp_yaml_duration(const osp_yaml_node *n, int64_t *ms, osp_errinfo *ei); /* "15s" */
int osp_yaml_bytes(const osp_yaml_node *n, uint64_t *out, osp_errinfo *ei);  /* "64MiB" */

/* osp_parse_bytes: "1024", "64KiB", "64MiB", "1GiB", "1TiB" (powers of 1024), "1KB", "1MB", "1GB",
 * "1TB" (powers of 1000), "64k"/"64M"/"1G" (1024, Go units), "B" suffix allowed;
 * optional space before the unit; no sign, no fraction. 0 or OSP_EPARSE
 * (also on overflow). */
int osp_parse_bytes(osp_str s, uint64_t *out);

/* ---- Schema tables ---------------------------------------------------- */

typedef enum osp_conf_type {
    OSP_CONF_STR = 0,  /* char * (owned by obj; NULL when def is NULL and unset) */
    OSP_CONF_SECRET,   /* char *, like STR but dumped as "<secret>", never in errors */
    OSP_CONF_INT,      /* int */
    OSP_CONF_UINT64,   /* uint64_t */
    OSP_CONF_DOUBLE,   /* double */
    OSP_CONF_BOOL,     /* bool */
    OSP_CONF_DURATION, /* int64_t milliseconds (osp_parse_duration syntax) */
    OSP_CONF_BYTES,    /* size_t bytes (osp_parse_bytes syntax) */
    OSP_CONF_STRLIST,  /* osp_strlist; YAML sequence of scalars or one scalar;
                        * def is comma-separated */
    OSP_CONF_LOGLEVEL, /* osp_log_level (debug, info, warn, error) */
    OSP_CONF_SECTION,  /* nested mapping applied with sub/nsub to obj+offset;
                        * flag keys address it as "section.key" */
    OSP_CONF_NODE,     /* const osp_yaml_node * borrowed from the document (NULL
                        * when absent): for structures the caller walks itself
                        * (lists of mappings); the document must outlive its use */
} osp_conf_type;

/* Field storage of OSP_CONF_STRLIST: owned strings. */
typedef struct osp_strlist {
    char **v;
    size_t n;
} osp_strlist;

/* Field flags. */
enum {
    OSP_CONF_REQUIRED = 1u << 0, /* STR/SECRET/STRLIST/NODE must end up non-empty
                                  * (file or flag); see osp_conf_check_required */
};

/* One schema entry. Bounds min..max apply when min < max: to INT, UINT64,
 * DOUBLE, DURATION (in ms), BYTES (in bytes) values and to the number of
 * STRLIST items. Use designated initializers; new members are only appended. */
typedef struct osp_conf_field {
    const char *key; /* YAML key, e.g. "scrape_interval" */
    osp_conf_type type;
    size_t offset;    /* offsetof(struct, member) */
    const char *def;  /* default in the syntax of the file; NULL = zero/NULL/empty */
    const char *help; /* one line for --help and the docs */
    double min, max;  /* bounds, see above */
    const struct osp_conf_field *sub; /* OSP_CONF_SECTION: nested schema */
    size_t nsub;
    unsigned flags; /* OSP_CONF_REQUIRED */
} osp_conf_field;

/* Flags of osp_conf_apply. */
enum {
    OSP_CONF_ALLOW_UNKNOWN = 1u << 0, /* ignore keys not in the schema */
    OSP_CONF_NO_DEFAULTS = 1u << 1,   /* obj already holds defaults (or values): only apply map */
};

/* osp_conf_apply: set every field of obj to its default (unless
 * OSP_CONF_NO_DEFAULTS), then apply map (NULL or a NULL node = defaults only;
 * anything else must be a MAP). Errors (ei: file, line, col, key, msg, e.g.
 * `collector.yml:7:18: scrape_interval: invalid duration "15x"`): OSP_EINVAL
 * for unknown keys (unless OSP_CONF_ALLOW_UNKNOWN), duplicate keys, wrong
 * node types, bad values and values out of bounds. A key with an empty
 * (null) value keeps its default. On error
 * obj may be partly set; it still owns its strings (call osp_conf_fini). Any
 * thread; obj must not be shared meanwhile. */
int osp_conf_apply(const osp_conf_field *schema, size_t n, const osp_yaml_node *map, void *obj,
                   unsigned flags, osp_errinfo *ei);

/* osp_conf_check_required: OSP_EINVAL ("missing required key", ei->key set)
 * when a REQUIRED field (also in sections) is still empty. osp_conf_load calls
 * it after the flags; osp_conf_apply does not. */
int osp_conf_check_required(const osp_conf_field *schema, size_t n, const void *obj,
                            osp_errinfo *ei);

/* osp_conf_set: set one field from text (a command-line override); key may be
 * dotted into sections ("global.scrape_interval"). STRLIST appends one item
 * (osp_conf_unset first to replace). Errors: OSP_ENOTFOUND (no such key),
 * OSP_EINVAL (bad value; ei->key and msg). */
int osp_conf_set(const osp_conf_field *schema, size_t n, void *obj, const char *key,
                 const char *value, osp_errinfo *ei);

/* osp_conf_unset: set one field to zero/NULL/empty (not its default).
 * OSP_ENOTFOUND when no such key. */
int osp_conf_unset(const osp_conf_field *schema, size_t n, void *obj, const char *key);

/* osp_conf_fini: free the strings and lists obj owns (also in sections) and
 * zero them; safe on a zeroed or partly applied obj. */
void osp_conf_fini(const osp_conf_field *schema, size_t n, void *obj);

/* osp_conf_help: one line per key (sections flattened as "a.b"): key, type,
 * default and help, for --help and the docs' config reference. */
void osp_conf_help(const osp_conf_field *schema, size_t n, FILE *out);

/* osp_conf_dump: the effective configuration of obj as YAML appended to out;
 * SECRET fields print "<secret>" when set (never their value); NODE fields
 * print "<...>". */
void osp_conf_dump(const osp_conf_field *schema, size_t n, const void *obj, osp_buf *out);

/* osp_conf_type_name: "string", "secret", "int", ... */
const char *osp_conf_type_name(osp_conf_type t);

/* ---- Command line ----------------------------------------------------- */

/* An extra flag of a daemon: --name VALUE (or -s VALUE) sets schema key `key`
 * through osp_conf_set. arg NULL makes a boolean flag (sets "true"). */
typedef struct osp_cli_flag {
    const char *name; /* long name without "--", e.g. "pg" */
    char short_name;  /* 0 for none */
    const char *key;  /* schema key (dotted), e.g. "pg.conninfo" */
    const char *arg;  /* metavar for help, e.g. "CONNINFO"; NULL = boolean */
    const char *help;
} osp_cli_flag;

/* Parsed command line. Common flags: -c/--config FILE, --listen HOST:PORT
 * (key "listen"), --log-level LEVEL (key "log_level"), --check-config,
 * --version, -h/--help. An extra flag with the same long name replaces a
 * common one (e.g. to map --listen to "web.listen"). "--name=value" works too. */
typedef struct osp_cli {
    const char *config; /* borrowed from argv; NULL when not given */
    bool check_config;
    bool version;
    bool help;
    size_t nset; /* overrides in command-line order */
    struct osp_cli_set {
        const char *key;   /* borrowed from the flag table */
        const char *value; /* borrowed from argv */
    } * set;               /* owned; free with osp_cli_fini */
} osp_cli;

/* osp_cli_parse: parse argv[1..argc) into cli (zeroed first). Errors:
 * OSP_EINVAL for an unknown flag, a missing value or a positional argument
 * (ei->msg says which). Call osp_cli_fini in every case. */
int osp_cli_parse(osp_cli *cli, int argc, char *const *argv, const osp_cli_flag *extra,
                  size_t nextra, osp_errinfo *ei);
/* osp_cli_fini: free cli->set; NULL-safe. */
void osp_cli_fini(osp_cli *cli);
/* osp_cli_apply: osp_conf_set every override in order onto obj (after the file
 * was applied). A STRLIST key given on the command line replaces the file's
 * list (repeated flags append). Errors as osp_conf_set, ei->key names the key. */
int osp_cli_apply(const osp_cli *cli, const osp_conf_field *schema, size_t n, void *obj,
                  osp_errinfo *ei);
/* osp_cli_usage: "Usage: prog [flags]", summary, common and extra flags, then
 * the config keys (osp_conf_help). */
void osp_cli_usage(FILE *out, const char *prog, const char *summary, const osp_cli_flag *extra,
                   size_t nextra, const osp_conf_field *schema, size_t n);

/* osp_conf_load: the usual start-up sequence: defaults, then cli->config (if
 * any) through osp_yaml_load_file + osp_conf_apply (flags), then the cli
 * overrides. *doc gets the document (needed by NODE fields; NULL when no
 * file; free with osp_yaml_free), doc may be NULL when the schema has no NODE
 * fields. Errors as the steps; obj must be osp_conf_fini'd in every case. */
int osp_conf_load(const osp_conf_field *schema, size_t n, void *obj, const osp_cli *cli,
                  unsigned flags, osp_yaml_doc **doc, osp_errinfo *ei);

#endif
