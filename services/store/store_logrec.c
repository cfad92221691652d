/* store_logrec.c - the compact batch-log record (layout in store_logrec.h). */
#include "store_logrec.h"

#include <string.h>

#include "osp_err.h"

/* put_uvarint: append x as LEB128 (the buffer was reserved by the caller). */
static inline void
put_uvarint(osp_buf *b, uint64_t x)
{
    uint8_t *p = (uint8_t *)b->data + b->len;
    size_t n = 0;
    while (x >= 0x80) {
        p[n++] = (uint8_t)(x | 0x80);
        x >>= 7;
    }
    p[n++] = (uint8_t)x;
    b->len += n;
    b->data[b->len] = '\0';
}

static inline bool
get_uvarint(store_logrec_it *it, uint64_t *x)
{
    uint64_t r = 0;
    for (unsigned i = 0; i < 10 && it->p < it->end; i++) {
        uint8_t c = *it->p++;
        if (i == 9 && c > 1)
            break; /* over 64 bits */
        r |= (uint64_t)(c & 0x7f) << (7 * i);
        if ((c & 0x80) == 0) {
            *x = r;
            return true;
        }
    }
    it->bad = true;
    return false;
}

void
store_logrec_begin(store_logrec_w *w, osp_buf *out)
{
    w->out = out;
    w->prev_t = 0;
    osp_buf_putc(out, STORE_LOGREC_VERSION);
}

void
store_logrec_series(store_logrec_w *w, uint64_t id, size_t n)
{
    osp_buf_reserve(w->out, 10 + 8 + 1);
    put_uvarint(w->out, n);
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(id >> (8 * i));
    osp_buf_append(w->out, le, 8);
}

void
store_logrec_sample(store_logrec_w *w, int64_t t, double v)
{
    uint64_t d = (uint64_t)t - (uint64_t)w->prev_t, bits;
    memcpy(&bits, &v, 8);
    w->prev_t = t;
    osp_buf_reserve(w->out, 20 + 1);
    put_uvarint(w->out, (d << 1) ^ (uint64_t)((int64_t)d >> 63));
    put_uvarint(w->out, bits << 12 | bits >> 52); /* sign and exponent lowest */
}

int
store_logrec_it_init(store_logrec_it *it, const void *rec, size_t len)
{
    memset(it, 0, sizeof(*it));
    const uint8_t *p = rec;
    if (len == 0 || p[0] != STORE_LOGREC_VERSION)
        return OSP_EPARSE;
    it->p = p + 1;
    it->end = p + len;
    return 0;
}

bool
store_logrec_next_series(store_logrec_it *it, uint64_t *id, uint64_t *n)
{
    int64_t t;
    double v;
    while (it->left > 0)
        if (!store_logrec_next_sample(it, &t, &v))
            return false;
    if (it->bad || it->p >= it->end)
        return false;
    uint64_t cnt;
    if (!get_uvarint(it, &cnt) || cnt == 0 || it->end - it->p < 8) {
        it->bad = true;
        return false;
    }
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)it->p[i] << (8 * i);
    it->p += 8;
    *id = x;
    *n = cnt;
    it->left = cnt;
    return true;
}

bool
store_logrec_next_sample(store_logrec_it *it, int64_t *t, double *v)
{
    if (it->left == 0 || it->bad)
        return false;
    uint64_t zz, bits;
    if (!get_uvarint(it, &zz) || !get_uvarint(it, &bits)) {
        it->left = 0;
        return false;
    }
    uint64_t d = (zz >> 1) ^ (0 - (zz & 1));
    it->prev_t = (int64_t)((uint64_t)it->prev_t + d);
    bits = bits >> 12 | bits << 52;
    memcpy(v, &bits, 8);
    *t = it->prev_t;
    it->left--;
    return true;
}
