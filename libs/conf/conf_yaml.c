/* conf_yaml.c - libyaml events into a read-only node tree with positions;
 * aliases resolved by sharing nodes (bounded by an expansion limit), merge
 * keys applied, everything in one arena owned by the document. */
#include "conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "osp_arena.h"
#include "osp_mem.h"

#define MAX_FILE (64u * 1024 * 1024)
#define MAX_DEPTH 256
#define MAX_WEIGHT 1000000u /* nodes after alias expansion */

struct osp_yaml_doc {
    osp_arena *arena;
    const char *name;
    const osp_yaml_node *root;
};

typedef struct anchor {
    const char *name;
    const osp_yaml_node *node;
    uint64_t weight;
} anchor;

typedef struct loader {
    yaml_parser_t parser;
    osp_yaml_doc *doc;
    osp_errinfo *ei;
    anchor *anchors; /* open-addressing hash on name */
    size_t cap, count;
    uint64_t total; /* expanded nodes so far */
} loader;

static int fail_at(loader *L, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail_at(loader *L, const yaml_mark_t *m, const char *fmt, ...)
{
    if (L->ei == NULL)
        return OSP_EPARSE;
    char msg[sizeof(L->ei->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(L->ei->file, sizeof(L->ei->file), "%s", L->doc->name);
    return osp_errinfo_set(L->ei, OSP_EPARSE, m ? (int)m->line + 1 : 0, m ? (int)m->column + 1 : 0,
                           "%s", msg);
}

static int
next_event(loader *L, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&L->parser, ev)) {
        yaml_mark_t m = L->parser.problem_mark;
        return fail_at(L, &m, "%s%s%s", L->parser.problem ? L->parser.problem : "syntax error",
                       L->parser.context ? " " : "", L->parser.context ? L->parser.context : "");
    }
    return 0;
}

static size_t
anchor_slot(const loader *L, const char *name)
{
    size_t i = (size_t)osp_hash64(name, strlen(name), 0) & (L->cap - 1);
    while (L->anchors[i].name != NULL && strcmp(L->anchors[i].name, name) != 0)
        i = (i + 1) & (L->cap - 1);
    return i;
}

static void
anchor_put(loader *L, const char *name, const osp_yaml_node *node, uint64_t weight)
{
    if ((L->count + 1) * 2 > L->cap) {
        anchor *old = L->anchors;
        size_t oldcap = L->cap;
        L->cap = L->cap ? L->cap * 2 : 16;
        L->anchors = osp_calloc(L->cap, sizeof(anchor));
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].name != NULL)
                L->anchors[anchor_slot(L, old[i].name)] = old[i];
        osp_free(old);
    }
    size_t i = anchor_slot(L, name);
    if (L->anchors[i].name == NULL) {
        L->count++;
        L->anchors[i].name = osp_arena_strndup(L->doc->arena, name, strlen(name));
    }
    L->anchors[i].node = node; /* a redefined anchor replaces the old one */
    L->anchors[i].weight = weight;
}

static const anchor *
anchor_get(const loader *L, const char *name)
{
    if (L->cap == 0)
        return NULL;
    const anchor *a = &L->anchors[anchor_slot(L, name)];
    return a->name != NULL ? a : NULL;
}

static osp_yaml_node *
new_node(loader *L, osp_yaml_type t, const yaml_mark_t *m)
{
    osp_yaml_node *n = osp_arena_calloc(L->doc->arena, sizeof(*n));
    n->type = t;
    n->line = (int)m->line + 1;
    n->col = (int)m->column + 1;
    n->file = L->doc->name;
    return n;
}

static bool
is_null_text(const char *s, size_t n)
{
    return n == 0 || (n == 1 && s[0] == '~') ||
           (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

static int parse_node(loader *L, yaml_event_t *ev, int depth, const osp_yaml_node **out,
                      uint64_t *weight);

static int
add_weight(loader *L, uint64_t *w, uint64_t add, const yaml_mark_t *m)
{
    *w += add;
    L->total += add;
    if (*w > MAX_WEIGHT || L->total > MAX_WEIGHT)
        return fail_at(L, m, "document too large after alias expansion (more than %u nodes)",
                       MAX_WEIGHT);
    return 0;
}

/* Growable pointer vector on the heap, copied into the arena when done. */
typedef struct vec {
    const void **v;
    size_t n, cap;
} vec;

static void
vec_push(vec *a, const void *p)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 8;
        a->v = osp_reallocarray(a->v, a->cap, sizeof(*a->v));
    }
    a->v[a->n++] = p;
}

static int
parse_seq(loader *L, osp_yaml_node *node, int depth, uint64_t *weight)
{
    vec items = {0};
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if ((rc = next_event(L, &ev)) != 0)
            break;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        const osp_yaml_node *child;
        uint64_t w = 0;
        rc = parse_node(L, &ev, depth + 1, &child, &w);
        yaml_event_delete(&ev);
        if (rc == 0)
            rc = add_weight(L, weight, w, &L->parser.mark);
        if (rc != 0)
            break;
        vec_push(&items, child);
    }
    if (rc == 0) {
        const osp_yaml_node **arr = osp_arena_alloc(L->doc->arena, (items.n + 1) * sizeof(*arr));
        if (items.n > 0)
            memcpy(arr, items.v, items.n * sizeof(*arr));
        node->items = (const osp_yaml_node *const *)arr;
        node->n = items.n;
    }
    osp_free(items.v);
    return rc;
}

static bool
has_key(const vec *pairs, const osp_yaml_node *key)
{
    for (size_t i = 0; i < pairs->n; i++) {
        const osp_yaml_pair *p = pairs->v[i];
        if (p->key->len == key->len && memcmp(p->key->str, key->str, key->len) == 0)
            return true;
    }
    return false;
}

/* "<<: *base" or "<<: [*a, *b]": collect the pairs of the merged maps. */
static int
collect_merge(loader *L, const osp_yaml_node *v, vec *merged, const yaml_mark_t *m)
{
    if (v->type == OSP_YAML_MAP) {
        for (size_t i = 0; i < v->n; i++)
            vec_push(merged, &v->pairs[i]);
        return 0;
    }
    if (v->type == OSP_YAML_SEQ) {
        for (size_t i = 0; i < v->n; i++) {
            if (v->items[i]->type != OSP_YAML_MAP)
                return fail_at(L, m, "merge key '<<' needs a mapping or a list of mappings");
            collect_merge(L, v->items[i], merged, m);
        }
        return 0;
    }
    return fail_at(L, m, "merge key '<<' needs a mapping or a list of mappings");
}

static int
parse_map(loader *L, osp_yaml_node *node, int depth, uint64_t *weight)
{
    vec pairs = {0}, merged = {0};
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if ((rc = next_event(L, &ev)) != 0)
            break;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        yaml_mark_t km = ev.start_mark;
        const osp_yaml_node *key, *val;
        uint64_t w = 0;
        rc = parse_node(L, &ev, depth + 1, &key, &w);
        yaml_event_delete(&ev);
        if (rc == 0 && key->type != OSP_YAML_SCALAR && key->type != OSP_YAML_NULL)
            rc = fail_at(L, &km, "mapping keys must be scalars, not a %s",
                         osp_yaml_type_name(key->type));
        if (rc == 0)
            rc = next_event(L, &ev);
        if (rc != 0)
            break;
        rc = parse_node(L, &ev, depth + 1, &val, &w);
        yaml_event_delete(&ev);
        if (rc == 0)
            rc = add_weight(L, weight, w, &km);
        if (rc != 0)
            break;
        if (key->plain && key->len == 2 && memcmp(key->str, "<<", 2) == 0) {
            if ((rc = collect_merge(L, val, &merged, &km)) != 0)
                break;
            continue;
        }
        osp_yaml_pair *p = osp_arena_alloc(L->doc->arena, sizeof(*p));
        p->key = key;
        p->value = val;
        vec_push(&pairs, p);
    }
    if (rc == 0) {
        /* Explicit keys win over merged ones; earlier merged maps over later.
         * The quadratic key check is bounded for hostile input. */
        if (merged.n > 0 && (pairs.n + merged.n) * merged.n > 10000000u)
            rc = fail_at(L, &L->parser.mark, "merge key '<<' over too many keys");
        for (size_t i = 0; rc == 0 && i < merged.n; i++) {
            const osp_yaml_pair *mp = merged.v[i];
            if (!has_key(&pairs, mp->key))
                vec_push(&pairs, mp);
        }
    }
    if (rc == 0) {
        osp_yaml_pair *arr = osp_arena_alloc(L->doc->arena, (pairs.n + 1) * sizeof(*arr));
        for (size_t i = 0; i < pairs.n; i++)
            arr[i] = *(const osp_yaml_pair *)pairs.v[i];
        node->pairs = arr;
        node->n = pairs.n;
    }
    osp_free(pairs.v);
    osp_free(merged.v);
    return rc;
}

static int
parse_node(loader *L, yaml_event_t *ev, int depth, const osp_yaml_node **out, uint64_t *weight)
{
    if (depth > MAX_DEPTH)
        return fail_at(L, &ev->start_mark, "nesting deeper than %d levels", MAX_DEPTH);
    const yaml_char_t *anchor_name = NULL;
    osp_yaml_node *node = NULL;
    uint64_t w = 1;
    int rc = 0;
    switch (ev->type) {
    case YAML_ALIAS_EVENT: {
        const anchor *a = anchor_get(L, (const char *)ev->data.alias.anchor);
        if (a == NULL)
            return fail_at(L, &ev->start_mark, "unknown alias \"*%s\"",
                           (const char *)ev->data.alias.anchor);
        *out = a->node;
        return add_weight(L, weight, a->weight, &ev->start_mark);
    }
    case YAML_SCALAR_EVENT: {
        const char *s = (const char *)ev->data.scalar.value;
        size_t n = ev->data.scalar.length;
        bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        const char *tag = (const char *)ev->data.scalar.tag;
        bool null = (plain && tag == NULL && is_null_text(s, n)) ||
                    (tag != NULL && strcmp(tag, YAML_NULL_TAG) == 0);
        node = new_node(L, null ? OSP_YAML_NULL : OSP_YAML_SCALAR, &ev->start_mark);
        node->str = osp_arena_strndup(L->doc->arena, s, n);
        node->len = n;
        node->plain = plain && tag == NULL;
        anchor_name = ev->data.scalar.anchor;
        break;
    }
    case YAML_SEQUENCE_START_EVENT:
        node = new_node(L, OSP_YAML_SEQ, &ev->start_mark);
        anchor_name = ev->data.sequence_start.anchor;
        rc = parse_seq(L, node, depth, &w);
        break;
    case YAML_MAPPING_START_EVENT:
        node = new_node(L, OSP_YAML_MAP, &ev->start_mark);
        anchor_name = ev->data.mapping_start.anchor;
        rc = parse_map(L, node, depth, &w);
        break;
    default: return fail_at(L, &ev->start_mark, "unexpected YAML event %d", (int)ev->type);
    }
    if (rc != 0)
        return rc;
    /* Registered only once complete: a self-referencing alias is "unknown". */
    if (anchor_name != NULL)
        anchor_put(L, (const char *)anchor_name, node, w);
    *out = node;
    return add_weight(L, weight, 1, &ev->start_mark);
}

static int
load(loader *L)
{
    yaml_event_t ev;
    int rc;
    /* STREAM-START, then DOCUMENT-START or STREAM-END (empty input). */
    if ((rc = next_event(L, &ev)) != 0)
        return rc;
    yaml_event_delete(&ev);
    if ((rc = next_event(L, &ev)) != 0)
        return rc;
    if (ev.type != YAML_DOCUMENT_START_EVENT) {
        yaml_event_delete(&ev);
        return 0;
    }
    yaml_event_delete(&ev);
    if ((rc = next_event(L, &ev)) != 0)
        return rc;
    uint64_t w = 0;
    const osp_yaml_node *root;
    rc = parse_node(L, &ev, 0, &root, &w);
    yaml_event_delete(&ev);
    if (rc != 0)
        return rc;
    L->doc->root = root;
    /* Only the first document counts; a syntax error after it is still an
     * error (a half-valid file is a mistake), so check the document's end. */
    if ((rc = next_event(L, &ev)) != 0)
        return rc;
    yaml_event_delete(&ev);
    return 0;
}

int
osp_yaml_load_buf(const char *buf, size_t len, const char *name, osp_yaml_doc **out,
                  osp_errinfo *ei)
{
    osp_yaml_doc *doc = osp_calloc(1, sizeof(*doc));
    doc->arena = osp_arena_new(0);
    doc->name =
        osp_arena_strndup(doc->arena, name ? name : "<config>", strlen(name ? name : "<config>"));
    loader L = {.doc = doc, .ei = ei};
    yaml_parser_initialize(&L.parser);
    yaml_parser_set_input_string(&L.parser, (const unsigned char *)buf, len);
    int rc = load(&L);
    yaml_parser_delete(&L.parser);
    osp_free(L.anchors);
    if (rc != 0) {
        osp_yaml_free(doc);
        return rc;
    }
    if (doc->root == NULL) {
        yaml_mark_t m = {0, 0, 0};
        doc->root = new_node(&L, OSP_YAML_NULL, &m);
        ((osp_yaml_node *)doc->root)->str = "";
    }
    *out = doc;
    return 0;
}

int
osp_yaml_load_file(const char *path, osp_yaml_doc **out, osp_errinfo *ei)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        if (ei != NULL)
            snprintf(ei->file, sizeof(ei->file), "%s", path);
        return osp_errinfo_set(ei, OSP_EIO, 0, 0, "cannot open: %s", strerror(e));
    }
    osp_buf b;
    osp_buf_init(&b);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        osp_buf_append(&b, chunk, n);
        if (b.len > MAX_FILE) {
            rc = OSP_ELIMIT;
            break;
        }
    }
    if (rc == 0 && ferror(f))
        rc = OSP_EIO;
    fclose(f);
    if (rc != 0) {
        if (ei != NULL)
            snprintf(ei->file, sizeof(ei->file), "%s", path);
        osp_errinfo_set(ei, rc, 0, 0, rc == OSP_ELIMIT ? "file larger than 64 MiB" : "read error");
        osp_buf_fini(&b);
        return rc;
    }
    rc = osp_yaml_load_buf(osp_buf_cstr(&b), b.len, path, out, ei);
    osp_buf_fini(&b);
    return rc;
}

void
osp_yaml_free(osp_yaml_doc *doc)
{
    if (doc == NULL)
        return;
    osp_arena_free(doc->arena);
    osp_free(doc);
}

const osp_yaml_node *
osp_yaml_root(const osp_yaml_doc *doc)
{
    return doc->root;
}

const osp_yaml_node *
osp_yaml_map_get(const osp_yaml_node *map, const char *key)
{
    if (map == NULL || map->type != OSP_YAML_MAP)
        return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < map->n; i++) {
        const osp_yaml_node *k = map->pairs[i].key;
        if (k->len == kl && memcmp(k->str, key, kl) == 0)
            return map->pairs[i].value;
    }
    return NULL;
}

const osp_yaml_node *
osp_yaml_seq_at(const osp_yaml_node *seq, size_t i)
{
    return seq != NULL && seq->type == OSP_YAML_SEQ && i < seq->n ? seq->items[i] : NULL;
}

const osp_yaml_pair *
osp_yaml_map_at(const osp_yaml_node *map, size_t i)
{
    return map != NULL && map->type == OSP_YAML_MAP && i < map->n ? &map->pairs[i] : NULL;
}

const char *
osp_yaml_type_name(osp_yaml_type t)
{
    switch (t) {
    case OSP_YAML_NULL: return "null";
    case OSP_YAML_SCALAR: return "scalar";
    case OSP_YAML_SEQ: return "sequence";
    case OSP_YAML_MAP: return "mapping";
    }
    return "?";
}

int
osp_yaml_err(osp_errinfo *ei, const osp_yaml_node *node, const char *key, int code, const char *fmt,
             ...)
{
    if (ei == NULL)
        return code;
    if (node != NULL)
        snprintf(ei->file, sizeof(ei->file), "%s", node->file ? node->file : "");
    if (key != NULL)
        snprintf(ei->key, sizeof(ei->key), "%s", key);
    char msg[sizeof(ei->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return osp_errinfo_set(ei, code, node ? node->line : 0, node ? node->col : 0, "%s", msg);
}
