/* osp_labels.h - a label set: owned name/value pairs, sorted by name for
 * identity; the stable hash of a sorted set identifies a series everywhere. */
#ifndef OSP_LABELS_H
#define OSP_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_buf.h"

typedef struct osp_label {
    char *name;  /* owned, NUL-terminated */
    char *value; /* owned, NUL-terminated */
} osp_label;

/* Caller storage. Strings are owned by the set. */
typedef struct osp_labels {
    osp_label *v;
    size_t n;
    size_t cap;
} osp_labels;

void osp_labels_init(osp_labels *ls);
void osp_labels_fini(osp_labels *ls);
void osp_labels_reset(osp_labels *ls); /* n = 0, frees strings */
/* osp_labels_add: append a copy (no duplicate check, no sort). */
void osp_labels_add(osp_labels *ls, const char *name, size_t nlen, const char *value, size_t vlen);
void osp_labels_addc(osp_labels *ls, const char *name, const char *value);
/* osp_labels_set: replace the value of name, or append; an empty value deletes
 * (Prometheus: a label with an empty value is absent). */
void osp_labels_set(osp_labels *ls, const char *name, const char *value);
void osp_labels_del(osp_labels *ls, const char *name);
/* osp_labels_get: value of name or NULL. */
const char *osp_labels_get(const osp_labels *ls, const char *name);
void osp_labels_sort(osp_labels *ls);
void osp_labels_copy(osp_labels *dst, const osp_labels *src); /* dst is reset first */
/* osp_labels_copy_packed: as osp_labels_copy, into one allocation (pairs and
 * strings together: ~1/3 of the memory of a copy, for sets kept long, like a
 * catalog's). A packed set reads like any other; changing it (add, set, del)
 * unpacks it first; reset and fini free it. */
void osp_labels_copy_packed(osp_labels *dst, const osp_labels *src);
/* osp_labels_cmp: order of two sorted sets (Prometheus label-set order). */
int osp_labels_cmp(const osp_labels *a, const osp_labels *b);
bool osp_labels_equal(const osp_labels *a, const osp_labels *b);
/* osp_labels_hash: stable hash of a sorted set. */
uint64_t osp_labels_hash(const osp_labels *ls);
/* osp_labels_format: `name{a="x",b="y"}` (values escaped as in the text
 * format; `{...}` alone when there is no __name__). */
void osp_labels_format(const osp_labels *ls, osp_buf *out);
/* osp_labels_json: {"a":"x",...} */
void osp_labels_json(const osp_labels *ls, osp_buf *out);
/* osp_label_name_valid: [a-zA-Z_][a-zA-Z0-9_]* ; osp_metric_name_valid adds ':'. */
bool osp_label_name_valid(const char *s, size_t n);
bool osp_metric_name_valid(const char *s, size_t n);

#endif
