/* core_labels.c - label sets: ownership, order, hashing and rendering. */
#include "osp_labels.h"

#include <stdlib.h>
#include <string.h>

#include "osp_mem.h"

void
osp_labels_init(osp_labels *ls)
{
    ls->v = NULL;
    ls->n = 0;
    ls->cap = 0;
}

/* A packed set (osp_labels_copy_packed) has cap == 0 with pairs: its strings
 * live in the block of v and are not freed one by one. */
static bool
is_packed(const osp_labels *ls)
{
    return ls->cap == 0 && ls->v != NULL;
}

void
osp_labels_reset(osp_labels *ls)
{
    if (is_packed(ls)) {
        osp_free(ls->v);
        osp_labels_init(ls);
        return;
    }
    for (size_t i = 0; i < ls->n; i++) {
        osp_free(ls->v[i].name);
        osp_free(ls->v[i].value);
    }
    ls->n = 0;
}

void
osp_labels_fini(osp_labels *ls)
{
    osp_labels_reset(ls);
    osp_free(ls->v);
    osp_labels_init(ls);
}

/* unpack: turn a packed set into an owned one before it changes. Returns the
 * packed block, for the caller to free once done (the strings it was handed
 * may point into it), or NULL. */
static void *
unpack(osp_labels *ls)
{
    if (!is_packed(ls))
        return NULL;
    osp_labels o;
    osp_labels_init(&o);
    for (size_t i = 0; i < ls->n; i++)
        osp_labels_addc(&o, ls->v[i].name, ls->v[i].value);
    void *old = ls->v;
    *ls = o;
    return old;
}

void
osp_labels_add(osp_labels *ls, const char *name, size_t nlen, const char *value, size_t vlen)
{
    void *old = unpack(ls);
    if (ls->n == ls->cap) {
        ls->cap = ls->cap ? ls->cap * 2 : 8;
        ls->v = osp_reallocarray(ls->v, ls->cap, sizeof(*ls->v));
    }
    ls->v[ls->n].name = osp_strndup(name, nlen);
    ls->v[ls->n].value = osp_strndup(value, vlen);
    ls->n++;
    osp_free(old);
}

void
osp_labels_addc(osp_labels *ls, const char *name, const char *value)
{
    osp_labels_add(ls, name, strlen(name), value, strlen(value));
}

void
osp_labels_del(osp_labels *ls, const char *name)
{
    void *old = unpack(ls);
    for (size_t i = 0; i < ls->n; i++) {
        if (strcmp(ls->v[i].name, name) == 0) {
            osp_free(ls->v[i].name);
            osp_free(ls->v[i].value);
            memmove(&ls->v[i], &ls->v[i + 1], (ls->n - i - 1) * sizeof(*ls->v));
            ls->n--;
            break;
        }
    }
    osp_free(old);
}

void
osp_labels_set(osp_labels *ls, const char *name, const char *value)
{
    if (value == NULL || value[0] == '\0') {
        osp_labels_del(ls, name);
        return;
    }
    void *old = unpack(ls);
    size_t i = 0;
    while (i < ls->n && strcmp(ls->v[i].name, name) != 0)
        i++;
    if (i < ls->n) {
        char *nv = osp_strdup(value);
        osp_free(ls->v[i].value);
        ls->v[i].value = nv;
    } else {
        osp_labels_addc(ls, name, value);
    }
    osp_free(old);
}

const char *
osp_labels_get(const osp_labels *ls, const char *name)
{
    for (size_t i = 0; i < ls->n; i++)
        if (strcmp(ls->v[i].name, name) == 0)
            return ls->v[i].value;
    return NULL;
}

static int
label_cmp(const void *a, const void *b)
{
    const osp_label *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

void
osp_labels_sort(osp_labels *ls)
{
    /* insertion sort: label sets are small and usually nearly sorted */
    for (size_t i = 1; i < ls->n; i++) {
        osp_label t = ls->v[i];
        size_t j = i;
        while (j > 0 && label_cmp(&ls->v[j - 1], &t) > 0) {
            ls->v[j] = ls->v[j - 1];
            j--;
        }
        ls->v[j] = t;
    }
}

void
osp_labels_copy(osp_labels *dst, const osp_labels *src)
{
    osp_labels_reset(dst);
    for (size_t i = 0; i < src->n; i++)
        osp_labels_addc(dst, src->v[i].name, src->v[i].value);
}

void
osp_labels_copy_packed(osp_labels *dst, const osp_labels *src)
{
    osp_labels_fini(dst); /* an owned dst's array goes too */
    if (src->n == 0)
        return;
    size_t bytes = src->n * sizeof(osp_label);
    for (size_t i = 0; i < src->n; i++)
        bytes += strlen(src->v[i].name) + strlen(src->v[i].value) + 2;
    osp_label *v = osp_malloc(bytes);
    char *p = (char *)(v + src->n);
    for (size_t i = 0; i < src->n; i++) {
        size_t nl = strlen(src->v[i].name) + 1, vl = strlen(src->v[i].value) + 1;
        v[i].name = memcpy(p, src->v[i].name, nl);
        p += nl;
        v[i].value = memcpy(p, src->v[i].value, vl);
        p += vl;
    }
    dst->v = v;
    dst->n = src->n;
    dst->cap = 0;
}

int
osp_labels_cmp(const osp_labels *a, const osp_labels *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        int c = strcmp(a->v[i].name, b->v[i].name);
        if (c)
            return c;
        c = strcmp(a->v[i].value, b->v[i].value);
        if (c)
            return c;
    }
    return a->n < b->n ? -1 : a->n > b->n ? 1 : 0;
}

bool
osp_labels_equal(const osp_labels *a, const osp_labels *b)
{
    return osp_labels_cmp(a, b) == 0;
}

uint64_t
osp_labels_hash(const osp_labels *ls)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < ls->n; i++) {
        h = osp_hash64(ls->v[i].name, strlen(ls->v[i].name), h);
        h = osp_hash64(ls->v[i].value, strlen(ls->v[i].value), h ^ 0xff);
    }
    return h;
}

static void
escape_value(osp_buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            osp_buf_puts(out, "\\\\");
        else if (*s == '"')
            osp_buf_puts(out, "\\\"");
        else if (*s == '\n')
            osp_buf_puts(out, "\\n");
        else
            osp_buf_putc(out, *s);
    }
}

void
osp_labels_format(const osp_labels *ls, osp_buf *out)
{
    const char *name = osp_labels_get(ls, "__name__");
    if (name != NULL)
        osp_buf_puts(out, name);
    osp_buf_putc(out, '{');
    int first = 1;
    for (size_t i = 0; i < ls->n; i++) {
        if (strcmp(ls->v[i].name, "__name__") == 0)
            continue;
        if (!first)
            osp_buf_putc(out, ',');
        first = 0;
        osp_buf_puts(out, ls->v[i].name);
        osp_buf_puts(out, "=\"");
        escape_value(out, ls->v[i].value);
        osp_buf_putc(out, '"');
    }
    osp_buf_putc(out, '}');
}

void
osp_labels_json(const osp_labels *ls, osp_buf *out)
{
    osp_buf_putc(out, '{');
    for (size_t i = 0; i < ls->n; i++) {
        if (i)
            osp_buf_putc(out, ',');
        osp_buf_json_cstr(out, ls->v[i].name);
        osp_buf_putc(out, ':');
        osp_buf_json_cstr(out, ls->v[i].value);
    }
    osp_buf_putc(out, '}');
}

static bool
name_valid(const char *s, size_t n, bool colon)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

bool
osp_label_name_valid(const char *s, size_t n)
{
    return name_valid(s, n, false);
}

bool
osp_metric_name_valid(const char *s, size_t n)
{
    return name_valid(s, n, true);
}
