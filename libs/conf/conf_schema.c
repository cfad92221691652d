/* conf_schema.c - schema tables: defaults, applying a YAML mapping or a flag
 * value to a struct, bounds, freeing, help and the effective-config dump. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

#define FIELD(obj, f) ((char *)(obj) + (f)->offset)

const char *
osp_conf_type_name(osp_conf_type t)
{
    static const char *names[] = {"string",   "secret", "int",     "uint64",   "double",  "bool",
                                  "duration", "bytes",  "strings", "loglevel", "section", "yaml"};
    return (size_t)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

int
osp_parse_bytes(osp_str s, uint64_t *out)
{
    size_t i = 0;
    uint64_t v = 0;
    if (s.n == 0 || !isdigit((unsigned char)s.p[0]))
        return OSP_EPARSE;
    for (; i < s.n && isdigit((unsigned char)s.p[i]); i++) {
        if (v > (UINT64_MAX - 9) / 10)
            return OSP_EPARSE;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
    }
    while (i < s.n && s.p[i] == ' ')
        i++;
    char unit[8];
    size_t un = s.n - i;
    if (un >= sizeof(unit))
        return OSP_EPARSE;
    memcpy(unit, s.p + i, un);
    unit[un] = '\0';
    static const struct {
        const char *u;
        uint64_t mul;
    } units[] = {
        {"", 1},
        {"B", 1},
        {"KiB", 1ull << 10},
        {"MiB", 1ull << 20},
        {"GiB", 1ull << 30},
        {"TiB", 1ull << 40},
        {"KB", 1000ull},
        {"MB", 1000000ull},
        {"GB", 1000000000ull},
        {"TB", 1000000000000ull},
        {"k", 1ull << 10},
        {"K", 1ull << 10},
        {"M", 1ull << 20},
        {"G", 1ull << 30},
        {"T", 1ull << 40},
        {"kB", 1000ull},
    };
    for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
        if (strcmp(unit, units[k].u) == 0) {
            if (v != 0 && units[k].mul > UINT64_MAX / v)
                return OSP_EPARSE;
            *out = v * units[k].mul;
            return 0;
        }
    }
    return OSP_EPARSE;
}

static int
parse_bool(const char *s, bool *out)
{
    static const char *t[] = {"true", "yes", "on", "y"}, *f[] = {"false", "no", "off", "n"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, t[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, f[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return OSP_EPARSE;
}

static int
parse_u64(const char *s, uint64_t *out)
{
    if (!isdigit((unsigned char)s[0]))
        return OSP_EPARSE;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return OSP_EPARSE;
    *out = v;
    return 0;
}

static void
strlist_clear(osp_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        osp_free(l->v[i]);
    osp_free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void
strlist_push(osp_strlist *l, const char *s, size_t n)
{
    l->v = osp_reallocarray(l->v, l->n + 1, sizeof(char *));
    l->v[l->n++] = osp_strndup(s, n);
}

/* Bounds check in the field's unit; ei gets a readable message. */
static int
check_bounds(const osp_conf_field *f, double v, const char *path, osp_errinfo *ei)
{
    if (!(f->min < f->max) || (v >= f->min && v <= f->max))
        return 0;
    if (f->type == OSP_CONF_DURATION) {
        char a[32], lo[32], hi[32];
        osp_format_duration((int64_t)v, a, sizeof(a));
        osp_format_duration((int64_t)f->min, lo, sizeof(lo));
        osp_format_duration((int64_t)f->max, hi, sizeof(hi));
        return osp_yaml_err(ei, NULL, path, OSP_EINVAL, "%s is out of range [%s, %s]", a, lo, hi);
    }
    char a[32], lo[32], hi[32];
    osp_fmt_double(a, v);
    osp_fmt_double(lo, f->min);
    osp_fmt_double(hi, f->max);
    return osp_yaml_err(ei, NULL, path, OSP_EINVAL, "%s%s is out of range [%s, %s]", a,
                        f->type == OSP_CONF_STRLIST ? " items" : "", lo, hi);
}

/* Set a scalar-typed field from text. SECRET text never enters a message. */
static int
set_text(const osp_conf_field *f, void *obj, const char *s, size_t n, const char *path,
         osp_errinfo *ei)
{
    char *p = FIELD(obj, f);
    osp_str v = {s, n};
    int64_t i64;
    uint64_t u64;
    double d;
    bool b;
    osp_log_level lvl;
    int rc = 0;
    switch (f->type) {
    case OSP_CONF_STR:
    case OSP_CONF_SECRET:
        osp_free(*(char **)p);
        *(char **)p = osp_strndup(s, n);
        return 0;
    case OSP_CONF_INT:
        if (osp_parse_int64(v, &i64) != 0 || i64 < INT32_MIN || i64 > INT32_MAX)
            return osp_yaml_err(ei, NULL, path, OSP_EINVAL, "invalid integer \"%s\"", s);
        if ((rc = check_bounds(f, (double)i64, path, ei)) == 0)
            *(int *)p = (int)i64;
        return rc;
    case OSP_CONF_UINT64:
        if (parse_u64(s, &u64) != 0)
            return osp_yaml_err(ei, NULL, path, OSP_EINVAL, "invalid unsigned integer \"%s\"", s);
        if ((rc = check_bounds(f, (double)u64, path, ei)) == 0)
            *(uint64_t *)p = u64;
        return rc;
    case OSP_CONF_DOUBLE:
        if (osp_parse_double(v, &d) != 0)
            return osp_yaml_err(ei, NULL, path, OSP_EINVAL, "invalid number \"%s\"", s);
        if ((rc = check_bounds(f, d, path, ei)) == 0)
            *(double *)p = d;
        return rc;
    case OSP_CONF_BOOL:
        if (parse_bool(s, &b) != 0)
            return osp_yaml_err(ei, NULL, path, OSP_EINVAL, "invalid boolean \"%s\"", s);
        *(bool *)p = b;
        return 0;
    case OSP_CONF_DURATION:
        if (osp_parse_duration(v, &i64) != 0)
            return osp_yaml_err(ei, NULL, path, OSP_EINVAL, "invalid duration \"%s\"", s);
        if ((rc = check_bounds(f, (double)i64, path, ei)) == 0)
            *(int64_t *)p = i64;
        return rc;
    case OSP_CONF_BYTES:
        if (osp_parse_bytes(v, &u64) != 0 || u64 > SIZE_MAX)
            return osp_yaml_err(ei, NULL, path, OSP_EINVAL, "invalid size \"%s\"", s);
        if ((rc = check_bounds(f, (double)u64, path, ei)) == 0)
            *(size_t *)p = (size_t)u64;
        return rc;
    case OSP_CONF_STRLIST:
        strlist_push((osp_strlist *)p, s, n);
        return check_bounds(f, (double)((osp_strlist *)p)->n, path, ei);
    case OSP_CONF_LOGLEVEL:
        if (osp_log_parse_level(s, &lvl) != 0)
            return osp_yaml_err(ei, NULL, path, OSP_EINVAL,
                                "invalid log level \"%s\" (debug, info, warn, error)", s);
        *(osp_log_level *)p = lvl;
        return 0;
    case OSP_CONF_SECTION:
    case OSP_CONF_NODE: return osp_yaml_err(ei, NULL, path, OSP_EINVAL, "cannot be set from text");
    }
    return OSP_EINTERNAL;
}

static void
zero_field(const osp_conf_field *f, void *obj)
{
    char *p = FIELD(obj, f);
    switch (f->type) {
    case OSP_CONF_STR:
    case OSP_CONF_SECRET:
        if (*(char **)p != NULL && f->type == OSP_CONF_SECRET)
            explicit_bzero(*(char **)p, strlen(*(char **)p));
        osp_free(*(char **)p);
        *(char **)p = NULL;
        break;
    case OSP_CONF_INT: *(int *)p = 0; break;
    case OSP_CONF_UINT64: *(uint64_t *)p = 0; break;
    case OSP_CONF_DOUBLE: *(double *)p = 0; break;
    case OSP_CONF_BOOL: *(bool *)p = false; break;
    case OSP_CONF_DURATION: *(int64_t *)p = 0; break;
    case OSP_CONF_BYTES: *(size_t *)p = 0; break;
    case OSP_CONF_STRLIST: strlist_clear((osp_strlist *)p); break;
    case OSP_CONF_LOGLEVEL: *(osp_log_level *)p = OSP_LOG_DEBUG; break;
    case OSP_CONF_SECTION: osp_conf_fini(f->sub, f->nsub, p); break;
    case OSP_CONF_NODE: *(const osp_yaml_node **)p = NULL; break;
    }
}

static void
join_path(char *out, size_t sz, const char *prefix, const char *key)
{
    snprintf(out, sz, "%s%s%s", prefix ? prefix : "", prefix && *prefix ? "." : "", key);
}

static int
set_defaults(const osp_conf_field *schema, size_t n, void *obj, const char *prefix, osp_errinfo *ei)
{
    for (size_t i = 0; i < n; i++) {
        const osp_conf_field *f = &schema[i];
        char path[128];
        join_path(path, sizeof(path), prefix, f->key);
        zero_field(f, obj);
        if (f->type == OSP_CONF_SECTION) {
            int rc = set_defaults(f->sub, f->nsub, FIELD(obj, f), path, ei);
            if (rc != 0)
                return rc;
            continue;
        }
        if (f->def == NULL)
            continue;
        if (f->type == OSP_CONF_STRLIST) {
            /* Comma-separated default list. */
            for (const char *s = f->def; *s;) {
                size_t len = strcspn(s, ",");
                if (len > 0)
                    strlist_push((osp_strlist *)FIELD(obj, f), s, len);
                s += len + (s[len] == ',');
            }
            continue;
        }
        int rc = set_text(f, obj, f->def, strlen(f->def), path, ei);
        if (rc != 0)
            return osp_yaml_err(ei, NULL, path, OSP_EINTERNAL, "invalid default in schema");
    }
    return 0;
}

static int apply_map(const osp_conf_field *schema, size_t n, const osp_yaml_node *map, void *obj,
                     unsigned flags, const char *prefix, osp_errinfo *ei);

static int
apply_value(const osp_conf_field *f, const osp_yaml_node *v, void *obj, unsigned flags,
            const char *path, osp_errinfo *ei)
{
    int rc;
    if (f->type == OSP_CONF_NODE) {
        *(const osp_yaml_node **)FIELD(obj, f) = v;
        return 0;
    }
    if (v->type == OSP_YAML_NULL)
        return 0; /* "key:" with no value keeps the default */
    if (f->type == OSP_CONF_SECTION) {
        if (v->type != OSP_YAML_MAP)
            return osp_yaml_err(ei, v, path, OSP_EINVAL, "expected a mapping, got a %s",
                                osp_yaml_type_name(v->type));
        return apply_map(f->sub, f->nsub, v, FIELD(obj, f), flags, path, ei);
    }
    if (f->type == OSP_CONF_STRLIST) {
        osp_strlist *l = (osp_strlist *)FIELD(obj, f);
        strlist_clear(l);
        if (v->type == OSP_YAML_SCALAR)
            return (rc = set_text(f, obj, v->str, v->len, path, ei)) != 0
                       ? osp_yaml_err(ei, v, path, rc, "%s", ei ? ei->msg : "")
                       : 0;
        if (v->type != OSP_YAML_SEQ)
            return osp_yaml_err(ei, v, path, OSP_EINVAL, "expected a list of strings, got a %s",
                                osp_yaml_type_name(v->type));
        for (size_t i = 0; i < v->n; i++) {
            const osp_yaml_node *it = v->items[i];
            if (it->type != OSP_YAML_SCALAR)
                return osp_yaml_err(ei, it, path, OSP_EINVAL, "expected a string, got a %s",
                                    osp_yaml_type_name(it->type));
            strlist_push(l, it->str, it->len);
        }
        return check_bounds(f, (double)l->n, path, ei) != 0
                   ? osp_yaml_err(ei, v, path, OSP_EINVAL, "%s", ei ? ei->msg : "")
                   : 0;
    }
    if (v->type != OSP_YAML_SCALAR)
        return osp_yaml_err(ei, v, path, OSP_EINVAL, "expected a %s, got a %s",
                            osp_conf_type_name(f->type), osp_yaml_type_name(v->type));
    if ((rc = set_text(f, obj, v->str, v->len, path, ei)) != 0) {
        /* Add the value's position to the message set_text wrote. */
        if (ei != NULL) {
            char msg[sizeof(ei->msg)];
            memcpy(msg, ei->msg, sizeof(msg));
            osp_yaml_err(ei, v, path, rc, "%s", msg);
        }
        return rc;
    }
    return 0;
}

static int
apply_map(const osp_conf_field *schema, size_t n, const osp_yaml_node *map, void *obj,
          unsigned flags, const char *prefix, osp_errinfo *ei)
{
    for (size_t i = 0; i < map->n; i++) {
        const osp_yaml_node *k = map->pairs[i].key;
        char path[128];
        join_path(path, sizeof(path), prefix, k->str);
        for (size_t j = 0; j < i; j++) {
            const osp_yaml_node *pk = map->pairs[j].key;
            if (pk->len == k->len && memcmp(pk->str, k->str, k->len) == 0)
                return osp_yaml_err(ei, k, path, OSP_EINVAL, "duplicate key (first at line %d)",
                                    pk->line);
        }
        const osp_conf_field *f = NULL;
        for (size_t j = 0; j < n && f == NULL; j++)
            if (strlen(schema[j].key) == k->len && memcmp(schema[j].key, k->str, k->len) == 0)
                f = &schema[j];
        if (f == NULL) {
            if (flags & OSP_CONF_ALLOW_UNKNOWN)
                continue;
            return osp_yaml_err(ei, k, path, OSP_EINVAL, "unknown key");
        }
        int rc = apply_value(f, map->pairs[i].value, obj, flags, path, ei);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int
osp_conf_apply(const osp_conf_field *schema, size_t n, const osp_yaml_node *map, void *obj,
               unsigned flags, osp_errinfo *ei)
{
    if (!(flags & OSP_CONF_NO_DEFAULTS)) {
        int rc = set_defaults(schema, n, obj, NULL, ei);
        if (rc != 0)
            return rc;
    }
    if (map == NULL || map->type == OSP_YAML_NULL)
        return 0;
    if (map->type != OSP_YAML_MAP)
        return osp_yaml_err(ei, map, NULL, OSP_EINVAL, "expected a mapping, got a %s",
                            osp_yaml_type_name(map->type));
    return apply_map(schema, n, map, obj, flags, NULL, ei);
}

/* Find the field of a dotted key; *objp is moved into sections. */
static const osp_conf_field *
find_key(const osp_conf_field *schema, size_t n, void **objp, const char *key)
{
    const char *dot = strchr(key, '.');
    size_t len = dot ? (size_t)(dot - key) : strlen(key);
    for (size_t i = 0; i < n; i++) {
        const osp_conf_field *f = &schema[i];
        if (strlen(f->key) != len || strncmp(f->key, key, len) != 0)
            continue;
        if (dot == NULL)
            return f;
        if (f->type != OSP_CONF_SECTION)
            return NULL;
        *objp = FIELD(*objp, f);
        return find_key(f->sub, f->nsub, objp, dot + 1);
    }
    return NULL;
}

int
osp_conf_set(const osp_conf_field *schema, size_t n, void *obj, const char *key, const char *value,
             osp_errinfo *ei)
{
    const osp_conf_field *f = find_key(schema, n, &obj, key);
    if (f == NULL)
        return osp_yaml_err(ei, NULL, key, OSP_ENOTFOUND, "unknown key");
    return set_text(f, obj, value, strlen(value), key, ei);
}

int
osp_conf_unset(const osp_conf_field *schema, size_t n, void *obj, const char *key)
{
    const osp_conf_field *f = find_key(schema, n, &obj, key);
    if (f == NULL)
        return OSP_ENOTFOUND;
    zero_field(f, obj);
    return 0;
}

void
osp_conf_fini(const osp_conf_field *schema, size_t n, void *obj)
{
    for (size_t i = 0; i < n; i++)
        zero_field(&schema[i], obj);
}

static int
check_required(const osp_conf_field *schema, size_t n, const void *obj, const char *prefix,
               osp_errinfo *ei)
{
    for (size_t i = 0; i < n; i++) {
        const osp_conf_field *f = &schema[i];
        const char *p = (const char *)obj + f->offset;
        char path[128];
        join_path(path, sizeof(path), prefix, f->key);
        bool empty = false;
        if (f->type == OSP_CONF_SECTION) {
            int rc = check_required(f->sub, f->nsub, p, path, ei);
            if (rc != 0)
                return rc;
        } else if (f->type == OSP_CONF_STR || f->type == OSP_CONF_SECRET) {
            empty = *(char *const *)p == NULL || **(char *const *)p == '\0';
        } else if (f->type == OSP_CONF_STRLIST) {
            empty = ((const osp_strlist *)p)->n == 0;
        } else if (f->type == OSP_CONF_NODE) {
            empty = *(const osp_yaml_node *const *)p == NULL;
        }
        if ((f->flags & OSP_CONF_REQUIRED) && empty)
            return osp_yaml_err(ei, NULL, path, OSP_EINVAL, "missing required key");
    }
    return 0;
}

int
osp_conf_check_required(const osp_conf_field *schema, size_t n, const void *obj, osp_errinfo *ei)
{
    return check_required(schema, n, obj, NULL, ei);
}

/* ---- scalar conversions for callers walking NODE subtrees ------------- */

static int
scalar_text(const osp_yaml_node *n, const char *what, osp_errinfo *ei)
{
    if (n == NULL || n->type != OSP_YAML_SCALAR)
        return osp_yaml_err(ei, n, NULL, OSP_EINVAL, "expected a %s, got a %s", what,
                            n ? osp_yaml_type_name(n->type) : "nothing");
    return 0;
}

int
osp_yaml_bool(const osp_yaml_node *n, bool *out, osp_errinfo *ei)
{
    int rc = scalar_text(n, "boolean", ei);
    if (rc == 0 && parse_bool(n->str, out) != 0)
        rc = osp_yaml_err(ei, n, NULL, OSP_EINVAL, "invalid boolean \"%s\"", n->str);
    return rc;
}

int
osp_yaml_int64(const osp_yaml_node *n, int64_t *out, osp_errinfo *ei)
{
    int rc = scalar_text(n, "integer", ei);
    if (rc == 0 && osp_parse_int64((osp_str){n->str, n->len}, out) != 0)
        rc = osp_yaml_err(ei, n, NULL, OSP_EINVAL, "invalid integer \"%s\"", n->str);
    return rc;
}

int
osp_yaml_double(const osp_yaml_node *n, double *out, osp_errinfo *ei)
{
    int rc = scalar_text(n, "number", ei);
    if (rc == 0 && osp_parse_double((osp_str){n->str, n->len}, out) != 0)
        rc = osp_yaml_err(ei, n, NULL, OSP_EINVAL, "invalid number \"%s\"", n->str);
    return rc;
}

int
osp_yaml_duration(const osp_yaml_node *n, int64_t *ms, osp_errinfo *ei)
{
    int rc = scalar_text(n, "duration", ei);
    if (rc == 0 && osp_parse_duration((osp_str){n->str, n->len}, ms) != 0)
        rc = osp_yaml_err(ei, n, NULL, OSP_EINVAL, "invalid duration \"%s\"", n->str);
    return rc;
}

int
osp_yaml_bytes(const osp_yaml_node *n, uint64_t *out, osp_errinfo *ei)
{
    int rc = scalar_text(n, "size", ei);
    if (rc == 0 && osp_parse_bytes((osp_str){n->str, n->len}, out) != 0)
        rc = osp_yaml_err(ei, n, NULL, OSP_EINVAL, "invalid size \"%s\"", n->str);
    return rc;
}
