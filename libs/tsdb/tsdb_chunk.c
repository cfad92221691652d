/* tsdb_chunk.c - Prometheus XOR chunk codec: the appender writes bits into a
 * geometrically growing buffer, the iterator reads them through a 64-bit bit
 * buffer. The layout is described in osp_chunk.h. */
#include "osp_chunk.h"

#include <endian.h>
#include <string.h>

#include "osp_err.h"
#include "osp_mem.h"

/* Bytes an add may need past the current byte: at most 20 bytes of fields
 * (uvarint 10 + XOR field 10 for sample 1) plus the 8-byte store of put(). */
#define ADD_SLACK 32
#define FIRST_CAP 128

/* The reader's helpers must fold into one loop for the iterator to live in registers. */
#define OSP_ALWAYS_INLINE __attribute__((always_inline))

static const uint8_t empty_chunk[2];

/* Timestamp delta-of-delta buckets, indexed by the number of leading 1 bits of
 * the prefix: '0', '10', '110', '1110', '1111'. */
static const uint8_t dod_width[5] = {0, 14, 17, 20, 64};

static inline uint64_t
load_be64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w));
    return be64toh(w);
}

static inline void
store_be64(uint8_t *p, uint64_t w)
{
    w = htobe64(w);
    memcpy(p, &w, sizeof(w));
}

/* Fits x in Prometheus's bucket of w bits: -(2^(w-1) - 1) <= x <= 2^(w-1). */
static inline int
in_bucket(int64_t x, unsigned w)
{
    int64_t h = (int64_t)1 << (w - 1);
    return x >= -(h - 1) && x <= h;
}

/* ---- appender ---------------------------------------------------------- */

/* put: append the n low bits of x (1 <= n <= 57, no bit set above them). The
 * buffer invariant makes this one 8-byte store: every byte past the partial
 * last one is zero, and cap leaves 8 bytes past it (ADD_SLACK). */
static inline void
put(osp_chunk_app *a, uint64_t x, unsigned n)
{
    size_t i = a->nbits >> 3;
    unsigned off = a->nbits & 7;
    store_be64(a->buf + i, ((uint64_t)a->buf[i] << 56) | (x << (64 - off - n)));
    a->nbits += n;
}

/* put_long: put() for 1 <= n <= 64. */
static inline void
put_long(osp_chunk_app *a, uint64_t x, unsigned n)
{
    if (n > 56) {
        put(a, x >> 32, n - 32);
        x &= 0xffffffffu;
        n = 32;
    }
    put(a, x, n);
}

static void
put_uvarint(osp_chunk_app *a, uint64_t x)
{
    while (x >= 0x80) {
        put(a, (x & 0x7f) | 0x80, 8);
        x >>= 7;
    }
    put(a, x, 8);
}

static inline void
put_dod(osp_chunk_app *a, int64_t dod)
{
    uint64_t u = (uint64_t)dod;
    if (dod == 0)
        put(a, 0, 1);
    else if (in_bucket(dod, 14))
        put(a, (UINT64_C(0x2) << 14) | (u & 0x3fff), 16);
    else if (in_bucket(dod, 17))
        put(a, (UINT64_C(0x6) << 17) | (u & 0x1ffff), 20);
    else if (in_bucket(dod, 20))
        put(a, (UINT64_C(0xe) << 20) | (u & 0xfffff), 24);
    else {
        put(a, 0xf, 4);
        put_long(a, u, 64);
    }
}

/* put_xor: the XOR field of value bits vb against the previous value. As in
 * Prometheus, leading zeros are clamped to 31 (5 bits) and a significant-bit
 * count of 64 is written as 0. */
static inline void
put_xor(osp_chunk_app *a, uint64_t vb)
{
    uint64_t d = vb ^ a->v;
    if (d == 0) {
        put(a, 0, 1);
        return;
    }
    unsigned lead = (unsigned)__builtin_clzll(d);
    unsigned trail = (unsigned)__builtin_ctzll(d);
    if (lead > 31)
        lead = 31;
    if (a->leading != 0xff && lead >= a->leading && trail >= a->trailing) {
        unsigned sig = 64u - a->leading - a->trailing;
        uint64_t x = d >> a->trailing;
        if (sig <= 55) {
            put(a, (UINT64_C(0x2) << sig) | x, sig + 2);
        } else {
            put(a, 0x2, 2);
            put_long(a, x, sig);
        }
        return;
    }
    a->leading = (uint8_t)lead;
    a->trailing = (uint8_t)trail;
    unsigned sig = 64u - lead - trail;
    uint64_t hdr = (UINT64_C(0x3) << 11) | ((uint64_t)lead << 6) | (sig & 63);
    if (sig <= 44) {
        put(a, (hdr << sig) | (d >> trail), 13 + sig);
    } else {
        put(a, hdr, 13);
        put_long(a, d >> trail, sig);
    }
}

static void
grow(osp_chunk_app *a, size_t need)
{
    /* grow by a quarter, not double: a head keeps one appender per series,
     * and its buffer is the largest chunk the series has had */
    size_t cap = a->cap ? a->cap : FIRST_CAP;
    while (cap < need)
        cap = (cap + cap / 4 + 15) & ~(size_t)15;
    a->buf = osp_realloc(a->buf, cap);
    memset(a->buf + a->cap, 0, cap - a->cap);
    a->cap = cap;
}

static void
clear_state(osp_chunk_app *a)
{
    a->nbits = 16;
    a->n = 0;
    a->leading = 0xff;
    a->trailing = 0;
    a->min_t = 0;
    a->t = 0;
    a->tdelta = 0;
    a->v = 0;
}

void
osp_chunk_app_init(osp_chunk_app *a)
{
    a->buf = NULL;
    a->cap = 0;
    clear_state(a);
}

void
osp_chunk_app_fini(osp_chunk_app *a)
{
    osp_free(a->buf);
    a->buf = NULL;
    a->cap = 0;
}

void
osp_chunk_app_reset(osp_chunk_app *a)
{
    if (a->buf != NULL)
        memset(a->buf, 0, (a->nbits + 7) >> 3);
    clear_state(a);
}

int
osp_chunk_app_add(osp_chunk_app *a, int64_t t, double v)
{
    if (a->n >= OSP_CHUNK_MAX_SAMPLES)
        return OSP_ELIMIT;
    if (a->n > 0 && t <= a->t)
        return OSP_EINVAL;
    if ((a->nbits >> 3) + ADD_SLACK > a->cap)
        grow(a, (a->nbits >> 3) + ADD_SLACK);
    uint64_t vb;
    memcpy(&vb, &v, sizeof(vb));
    if (a->n == 0) {
        /* zigzag, as Go's binary.PutVarint */
        uint64_t zz = t < 0 ? ~((uint64_t)t << 1) : (uint64_t)t << 1;
        put_uvarint(a, zz);
        put_long(a, vb, 64);
        a->min_t = t;
    } else {
        /* Unsigned arithmetic: any two int64 timestamps are apart by < 2^64. */
        uint64_t delta = (uint64_t)t - (uint64_t)a->t;
        if (a->n == 1)
            put_uvarint(a, delta);
        else
            put_dod(a, (int64_t)(delta - a->tdelta));
        put_xor(a, vb);
        a->tdelta = delta;
    }
    a->t = t;
    a->v = vb;
    a->n++;
    a->buf[0] = (uint8_t)(a->n >> 8);
    a->buf[1] = (uint8_t)a->n;
    return 0;
}

size_t
osp_chunk_app_count(const osp_chunk_app *a)
{
    return a->n;
}

int64_t
osp_chunk_app_min_t(const osp_chunk_app *a)
{
    return a->n > 0 ? a->min_t : 0;
}

int64_t
osp_chunk_app_max_t(const osp_chunk_app *a)
{
    return a->n > 0 ? a->t : 0;
}

const uint8_t *
osp_chunk_app_bytes(const osp_chunk_app *a, size_t *len)
{
    if (a->buf == NULL) {
        *len = sizeof(empty_chunk);
        return empty_chunk;
    }
    *len = (a->nbits + 7) >> 3;
    return a->buf;
}

uint8_t *
osp_chunk_app_take(osp_chunk_app *a, size_t *len)
{
    if (a->buf == NULL) {
        *len = sizeof(empty_chunk);
        uint8_t *b = osp_malloc(sizeof(empty_chunk));
        memcpy(b, empty_chunk, sizeof(empty_chunk));
        return b;
    }
    *len = (a->nbits + 7) >> 3;
    uint8_t *b = osp_realloc(a->buf, *len);
    a->buf = NULL;
    a->cap = 0;
    clear_state(a);
    return b;
}

size_t
osp_chunk_app_mem(const osp_chunk_app *a)
{
    return sizeof(*a) + a->cap;
}

int
osp_chunk_encode(const int64_t *ts, const double *vs, size_t n, uint8_t **out, size_t *outlen)
{
    if (n > OSP_CHUNK_MAX_SAMPLES)
        return OSP_ELIMIT;
    osp_chunk_app a;
    osp_chunk_app_init(&a);
    for (size_t i = 0; i < n; i++) {
        int rc = osp_chunk_app_add(&a, ts[i], vs[i]);
        if (rc != 0) {
            osp_chunk_app_fini(&a);
            return rc;
        }
    }
    size_t len;
    const uint8_t *b = osp_chunk_app_bytes(&a, &len);
    uint8_t *res = osp_malloc(len);
    memcpy(res, b, len);
    osp_chunk_app_fini(&a);
    *out = res;
    *outlen = len;
    return 0;
}

/* ---- iterator ---------------------------------------------------------- */

/* refill: top the bit buffer up to at least 56 bits, or to the end of the
 * data. Needs nbits <= 55. The fast path loads 8 bytes and keeps whole bytes
 * only; bits past nbits are then the next stream bits (so OR-ing them in
 * again later is harmless), or zero near the end. */
static inline OSP_ALWAYS_INLINE void
refill(osp_chunk_it *it)
{
    if (it->end - it->p >= 8) {
        it->bits |= load_be64(it->p) >> it->nbits;
        unsigned c = (63 - it->nbits) >> 3;
        it->p += c;
        it->nbits += c << 3;
    } else {
        while (it->nbits <= 56 && it->p < it->end) {
            it->bits |= (uint64_t)*it->p++ << (56 - it->nbits);
            it->nbits += 8;
        }
    }
}

/* need: make k (<= 56) bits available; 0 when the data ends first. */
static inline OSP_ALWAYS_INLINE int
need(osp_chunk_it *it, unsigned k)
{
    if (it->nbits < k) {
        refill(it);
        if (it->nbits < k)
            return 0;
    }
    return 1;
}

/* take: consume k (1..56) available bits. */
static inline OSP_ALWAYS_INLINE uint64_t
take(osp_chunk_it *it, unsigned k)
{
    uint64_t x = it->bits >> (64 - k);
    it->bits <<= k;
    it->nbits -= k;
    return x;
}

/* get: read k (1..64) bits into *x; 0 when the data ends first. */
static inline OSP_ALWAYS_INLINE int
get(osp_chunk_it *it, unsigned k, uint64_t *x)
{
    uint64_t hi = 0;
    if (k > 56) {
        if (!need(it, k - 32))
            return 0;
        hi = take(it, k - 32) << 32;
        k = 32;
    }
    if (!need(it, k))
        return 0;
    *x = hi | take(it, k);
    return 1;
}

/* Byte-aligned fields of samples 0 and 1 are read straight from p: the bit
 * buffer is still empty then. */
static int
get_uvarint(osp_chunk_it *it, uint64_t *x)
{
    uint64_t r = 0;
    for (unsigned i = 0, s = 0; i < 10 && it->p < it->end; i++, s += 7) {
        uint8_t b = *it->p++;
        if (i == 9 && b > 1)
            return 0; /* overflows 64 bits */
        r |= (uint64_t)(b & 0x7f) << s;
        if (b < 0x80) {
            *x = r;
            return 1;
        }
    }
    return 0;
}

static inline OSP_ALWAYS_INLINE int
get_xor(osp_chunk_it *it)
{
    /* Peek the control bits; bits past nbits are zero or real stream bits, so
     * each path checks that what it takes is there. */
    if (it->nbits < 13)
        refill(it);
    uint64_t b = it->bits;
    if ((b >> 63) == 0) {
        if (it->nbits < 1)
            return 0;
        take(it, 1);
        return 1;
    }
    if ((b >> 62) == 3) {
        if (it->nbits < 13)
            return 0;
        unsigned f = (unsigned)take(it, 13);
        unsigned lead = (f >> 6) & 31;
        unsigned sig = f & 63;
        if (sig == 0)
            sig = 64;
        if (lead + sig > 64)
            return 0;
        it->leading = (uint8_t)lead;
        it->trailing = (uint8_t)(64 - lead - sig);
    } else {
        if (it->nbits < 2)
            return 0;
        take(it, 2);
    }
    /* Before any '11' field the window is 0/0, i.e. 64 bits, as in Prometheus. */
    uint64_t x;
    if (!get(it, 64u - it->leading - it->trailing, &x))
        return 0;
    it->v ^= x << it->trailing;
    return 1;
}

static inline OSP_ALWAYS_INLINE int
get_dod(osp_chunk_it *it, uint64_t *dod)
{
    if (it->nbits < 4)
        refill(it);
    /* Leading 1 bits, at most 4; bits past nbits are zero near the end. */
    unsigned ones = (unsigned)__builtin_clzll(~it->bits | (UINT64_C(1) << 59));
    unsigned plen = ones < 4 ? ones + 1 : 4;
    if (it->nbits < plen)
        return 0;
    take(it, plen);
    unsigned w = dod_width[ones];
    if (w == 0) {
        *dod = 0;
        return 1;
    }
    uint64_t x;
    if (!get(it, w, &x))
        return 0;
    if (w < 64 && x > (UINT64_C(1) << (w - 1)))
        x -= UINT64_C(1) << w; /* negative: two's complement in 64 bits */
    *dod = x;
    return 1;
}

/* step: decode the next sample into it->t / it->v: 1, 0 at the end, or an
 * error. Always inlined, so that decode_range keeps its iterator in registers. */
static inline OSP_ALWAYS_INLINE int
step(osp_chunk_it *it)
{
    if (it->err != 0)
        return it->err;
    if (it->i >= it->n)
        return 0;
    uint64_t d;
    if (it->i >= 2) {
        uint64_t dod;
        if (!get_dod(it, &dod))
            goto corrupt;
        d = it->tdelta + dod;
    } else if (it->i == 1) {
        if (!get_uvarint(it, &d))
            goto corrupt;
    } else {
        uint64_t zz;
        if (!get_uvarint(it, &zz) || it->end - it->p < 8)
            goto corrupt;
        it->t = (zz & 1) ? (int64_t) ~(zz >> 1) : (int64_t)(zz >> 1);
        it->v = load_be64(it->p);
        it->p += 8;
        it->i = 1;
        return 1;
    }
    /* Wrapping add; a chunk we wrote always moves forward, so anything else is corrupt. */
    int64_t t = (int64_t)((uint64_t)it->t + d);
    if (t <= it->t || !get_xor(it))
        goto corrupt;
    it->t = t;
    it->tdelta = d;
    it->i++;
    return 1;
corrupt:
    it->err = OSP_ECORRUPT;
    return it->err;
}

void
osp_chunk_it_init(osp_chunk_it *it, const uint8_t *data, size_t len)
{
    memset(it, 0, sizeof(*it));
    if (len < 2) {
        it->err = OSP_ECORRUPT;
        return;
    }
    it->n = (uint32_t)data[0] << 8 | data[1];
    it->p = data + 2;
    it->end = data + len;
}

int
osp_chunk_it_next(osp_chunk_it *it, int64_t *t, double *v)
{
    int rc = step(it);
    if (rc == 1) {
        *t = it->t;
        memcpy(v, &it->v, sizeof(*v));
    }
    return rc;
}

/* Fewest bits n samples take: header, then a 1-byte varint and 64 raw bits,
 * a 1-byte uvarint and a 1-bit XOR field, and 2 bits for each later sample. */
static size_t
min_bits(size_t n)
{
    if (n == 0)
        return 16;
    if (n == 1)
        return 16 + 8 + 64;
    return 16 + 8 + 64 + 8 + 1 + 2 * (n - 2);
}

int
osp_chunk_count(const uint8_t *data, size_t len, size_t *n)
{
    if (len < 2)
        return OSP_ECORRUPT;
    size_t cnt = (size_t)data[0] << 8 | data[1];
    if (len < (min_bits(cnt) + 7) / 8)
        return OSP_ECORRUPT;
    *n = cnt;
    return 0;
}

int
osp_chunk_decode_range(const uint8_t *data, size_t len, int64_t mint, int64_t maxt, int64_t *ts,
                       double *vs, size_t cap, size_t *n)
{
    /* A local iterator the compiler can keep in registers. */
    osp_chunk_it it;
    osp_chunk_it_init(&it, data, len);
    size_t k = 0;
    int rc;
    while ((rc = step(&it)) == 1) {
        if (it.t < mint)
            continue;
        if (it.t > maxt)
            break;
        if (k == cap)
            return OSP_ELIMIT;
        if (ts != NULL)
            ts[k] = it.t;
        if (vs != NULL)
            memcpy(&vs[k], &it.v, sizeof(vs[k]));
        k++;
    }
    if (rc != 0 && rc != 1)
        return rc;
    *n = k;
    return 0;
}

/* ---- resuming a chunk -------------------------------------------------- */

int
osp_chunk_app_load(osp_chunk_app *a, const uint8_t *data, size_t len)
{
    osp_chunk_app_reset(a);
    osp_chunk_it it;
    osp_chunk_it_init(&it, data, len);
    int64_t min_t = 0;
    int rc;
    while ((rc = step(&it)) == 1) {
        if (it.i == 1)
            min_t = it.t;
    }
    if (rc != 0)
        return rc;
    if (it.n == 0)
        return 0;
    /* Bits the samples took, and the bytes holding them. */
    size_t nbits = (size_t)(it.p - data) * 8 - it.nbits;
    size_t nbytes = (nbits + 7) >> 3;
    if (nbytes + ADD_SLACK > a->cap)
        grow(a, nbytes + ADD_SLACK);
    memcpy(a->buf, data, nbytes);
    if (nbits & 7)
        a->buf[nbytes - 1] &= (uint8_t)(0xff00u >> (nbits & 7));
    a->nbits = nbits;
    a->n = it.n;
    a->min_t = min_t;
    a->t = it.t;
    a->tdelta = it.tdelta;
    a->v = it.v;
    /* The iterator's 0/0 window means "no '11' field yet" unless one set it;
     * 0xff then costs at most one '11' field instead of a 64-bit '10' one. */
    if (it.n < 2 || (it.leading == 0 && it.trailing == 0)) {
        a->leading = 0xff;
        a->trailing = 0;
    } else {
        a->leading = it.leading;
        a->trailing = it.trailing;
    }
    return 0;
}
