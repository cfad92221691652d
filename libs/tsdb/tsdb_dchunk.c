/* tsdb_dchunk.c - dense chunk decoder: the iterator walks the time and the value
 * lane side by side, reading bit fields with unaligned 8-byte loads. The layout
 * is described in osp_dchunk.h; the encoder is tsdb_dchunk_enc.c. */
#include "osp_dchunk.h"

#include "osp_err.h"
#include "tsdb_dchunk_int.h"

/* The reader's helpers must fold into one loop for the iterator to live in registers. */
#define OSP_ALWAYS_INLINE __attribute__((always_inline))

const double osp_dchunk_p10[DC_MAX_EXP + 1] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static inline uint64_t
low_mask(unsigned w)
{
    return w >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << w) - 1;
}

/* ---- bounded byte fields ----------------------------------------------- */

static int
get_uvarint(const uint8_t **pp, const uint8_t *lim, uint64_t *x)
{
    const uint8_t *p = *pp;
    uint64_t r = 0;
    for (unsigned i = 0, s = 0; i < 10 && p < lim; i++, s += 7) {
        uint8_t b = *p++;
        if (i == 9 && b > 1)
            return 0; /* overflows 64 bits */
        r |= (uint64_t)(b & 0x7f) << s;
        if (b < 0x80) {
            *x = r;
            *pp = p;
            return 1;
        }
    }
    return 0;
}

static int
get_svarint(const uint8_t **pp, const uint8_t *lim, uint64_t *x)
{
    uint64_t u;
    if (!get_uvarint(pp, lim, &u))
        return 0;
    *x = (uint64_t)dc_unzz(u);
    return 1;
}

/* ---- bit fields ---------------------------------------------------------- */

/* rd_slow: rd() near the end of the data, byte by byte. */
static uint64_t
rd_slow(const uint8_t *q, const uint8_t *end, unsigned sh, unsigned w)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < 8 && q + i < end; i++)
        x |= (uint64_t)q[i] << (8 * i);
    x >>= sh;
    if (sh + w > 64 && q + 8 < end)
        x |= (uint64_t)q[8] << (64 - sh);
    return x;
}

/* rd: the w (0..64) bits at bit offset pos from p, masked by mask (low w bits).
 * The caller has checked that they lie before end. */
static inline OSP_ALWAYS_INLINE uint64_t
rd(const uint8_t *p, const uint8_t *end, size_t pos, unsigned w, uint64_t mask)
{
    const uint8_t *q = p + (pos >> 3);
    unsigned sh = pos & 7;
    if (w <= 56 && end - q >= 8)
        return (dc_load_le64(q) >> sh) & mask;
    return rd_slow(q, end, sh, w) & mask;
}

/* ---- lanes ----------------------------------------------------------------- */

/* lane_init: a lane of count entries from *pp: reads its multiplier and leaves
 * *pp at its first block. */
static int
lane_init(osp_dchunk_lane *l, const uint8_t **pp, const uint8_t *lim, uint32_t count)
{
    memset(l, 0, sizeof(*l));
    if (!get_uvarint(pp, lim, &l->mul) || l->mul == 0)
        return 0;
    l->next = *pp;
    l->lim = lim;
    l->left = count;
    return 1;
}

/* lane_block: load the next block's header and check that its bits are there. */
static int
lane_block(osp_dchunk_lane *l, const uint8_t *end)
{
    if (l->left == 0 || l->next >= l->lim)
        return 0;
    const uint8_t *p = l->next;
    unsigned h = *p++;
    unsigned w = h & 0x7f;
    uint64_t d = 0;
    if (h == DC_REPEAT)
        w = l->w;
    else if (w > 64 || !get_svarint(&p, l->lim, &d))
        return 0;
    unsigned cb = l->left < DC_BLOCK ? l->left : DC_BLOCK;
    unsigned np = 0, pw = 0;
    if (h != DC_REPEAT && (h & 0x80)) {
        if (l->lim - p < 2)
            return 0;
        np = p[0];
        pw = p[1];
        p += 2;
        if (np == 0 || np > cb || pw == 0 || pw > 64)
            return 0;
    }
    size_t slot_bits = (size_t)(cb - np) * w;
    size_t bytes = (slot_bits + (size_t)np * (DC_IDX_BITS + pw) + 7) >> 3;
    if ((size_t)(l->lim - p) < bytes)
        return 0;
    l->blk = p;
    l->next = p + bytes;
    l->base += d;
    l->w = (uint8_t)w;
    l->mask = low_mask(w);
    l->pos = 0;
    l->ppos = (uint32_t)slot_bits;
    l->k = 0;
    l->cb = (uint16_t)cb;
    l->left -= cb;
    l->np = (uint16_t)np;
    l->pw = (uint8_t)pw;
    l->pidx = 0xffff;
    if (np > 0) {
        unsigned idx = (unsigned)rd(p, end, l->ppos, DC_IDX_BITS, low_mask(DC_IDX_BITS));
        if (idx >= cb)
            return 0;
        l->ppos += DC_IDX_BITS;
        l->pidx = (uint16_t)idx;
    }
    return 1;
}

/* lane_get: the next entry of the lane into *x; 0 when the lane is malformed or
 * exhausted. */
static inline OSP_ALWAYS_INLINE int
lane_get(osp_dchunk_lane *l, const uint8_t *end, uint64_t *x)
{
    if (l->k == l->cb && !lane_block(l, end))
        return 0;
    uint64_t u;
    if (l->k != l->pidx) {
        u = rd(l->blk, end, l->pos, l->w, l->mask);
        l->pos += l->w;
    } else {
        u = (uint64_t)dc_unzz(rd(l->blk, end, l->ppos, l->pw, low_mask(l->pw)));
        l->ppos += l->pw;
        l->pidx = 0xffff;
        if (--l->np > 0) {
            unsigned idx = (unsigned)rd(l->blk, end, l->ppos, DC_IDX_BITS, low_mask(DC_IDX_BITS));
            if (idx <= l->k || idx >= l->cb)
                return 0;
            l->ppos += DC_IDX_BITS;
            l->pidx = (uint16_t)idx;
        }
    }
    l->k++;
    *x = (l->base + u) * l->mul;
    return 1;
}

/* ---- header -------------------------------------------------------------- */

/* skip_records: walk count records (uvarint index gap, then a svarint or raw
 * bytes) from *pp, checking that each index lies in [first, n); the first gap
 * is read again when the iterator starts. */
static int
skip_records(const uint8_t **pp, const uint8_t *lim, uint64_t count, uint32_t first, uint32_t n,
             size_t raw)
{
    uint64_t next = first;
    for (uint64_t k = 0; k < count; k++) {
        uint64_t gap, j;
        if (!get_uvarint(pp, lim, &gap) || gap >= n - next)
            return 0;
        next += gap + 1;
        if (raw > 0) {
            if ((size_t)(lim - *pp) < raw)
                return 0;
            *pp += raw;
        } else if (!get_svarint(pp, lim, &j)) {
            return 0;
        }
    }
    return 1;
}

/* next_record: the sample index of the record at *pp after index prev (first:
 * index - 1 for the first one), validated by skip_records. */
static uint32_t
next_record(const uint8_t **pp, const uint8_t *lim, uint32_t prev_plus_one)
{
    uint64_t gap = 0;
    get_uvarint(pp, lim, &gap);
    return prev_plus_one + (uint32_t)gap;
}

static int
parse_time(osp_dchunk_it *it, const uint8_t *p, const uint8_t *lim)
{
    uint64_t t0;
    if (p >= lim)
        return 0;
    it->tmode = *p++;
    if (!get_svarint(&p, lim, &t0))
        return 0;
    it->t = (int64_t)t0;
    it->g = t0;
    if (it->tmode == DC_T_GRID) {
        uint64_t njumps;
        if (!get_uvarint(&p, lim, &it->step) || !get_uvarint(&p, lim, &njumps) ||
            njumps > it->n - 1)
            return 0;
        const uint8_t *rec = p;
        if (!skip_records(&p, lim, njumps, 1, it->n, 0))
            return 0;
        if (njumps > 0) {
            it->tnext = next_record(&rec, lim, 1);
            it->tx = rec;
            it->tleft = (uint32_t)njumps - 1;
        }
    } else if (it->tmode != DC_T_DELTA) {
        return 0;
    }
    return lane_init(&it->tl, &p, lim, it->n - 1);
}

static int
parse_values(osp_dchunk_it *it, const uint8_t *p, const uint8_t *lim)
{
    if (p >= lim)
        return 0;
    it->vmode = *p++;
    if (it->vmode == DC_V_XOR) {
        it->xs = p;
        it->xbits = (size_t)(lim - p) * 8;
        return 1;
    }
    if (it->vmode < DC_V_DEC0 || it->vmode > DC_V_DEC0 + DC_V_MAXORDER || p >= lim)
        return 0;
    it->e = *p++;
    uint64_t nexc;
    if (it->e > DC_MAX_EXP || !get_uvarint(&p, lim, &nexc) || nexc > it->n)
        return 0;
    it->scale = osp_dchunk_p10[it->e];
    const uint8_t *rec = p;
    if (!skip_records(&p, lim, nexc, 0, it->n, 8))
        return 0;
    if (nexc > 0) {
        it->vnext = next_record(&rec, lim, 0);
        it->vx = rec;
        it->vleft = (uint32_t)nexc - 1;
    }
    uint32_t nm = it->n - (uint32_t)nexc;
    uint32_t order = it->vmode - DC_V_DEC0;
    uint32_t ninit = order < nm ? order : nm;
    if ((ninit > 0 && !get_svarint(&p, lim, &it->m0)) ||
        (ninit > 1 && !get_svarint(&p, lim, &it->d0)))
        return 0;
    return lane_init(&it->vl, &p, lim, nm - ninit);
}

static int
parse(osp_dchunk_it *it, const uint8_t *data, size_t len)
{
    if (len < 1 || data[0] != OSP_DCHUNK_FORMAT_V1)
        return 0;
    const uint8_t *p = data + 1, *end = data + len;
    uint64_t n, tlen;
    if (!get_uvarint(&p, end, &n) || n > OSP_DCHUNK_MAX_SAMPLES)
        return 0;
    it->n = (uint32_t)n;
    it->end = end;
    if (n == 0)
        return 1;
    if (!get_uvarint(&p, end, &tlen) || tlen > (uint64_t)(end - p))
        return 0;
    return parse_time(it, p, p + tlen) && parse_values(it, p + tlen, end);
}

void
osp_dchunk_it_init(osp_dchunk_it *it, const uint8_t *data, size_t len)
{
    memset(it, 0, sizeof(*it));
    it->tnext = UINT32_MAX;
    it->vnext = UINT32_MAX;
    it->leading = 0xff;
    if (!parse(it, data, len))
        it->err = OSP_ECORRUPT;
}

/* ---- samples --------------------------------------------------------------- */

static inline OSP_ALWAYS_INLINE int
time_next(osp_dchunk_it *it)
{
    uint64_t r;
    if (!lane_get(&it->tl, it->end, &r))
        return 0;
    uint64_t t;
    if (it->tmode == DC_T_GRID) {
        uint64_t d = it->step;
        if (it->i == it->tnext) {
            get_svarint(&it->tx, it->end, &d); /* validated by parse */
            it->tnext = UINT32_MAX;
            if (it->tleft > 0) {
                it->tleft--;
                it->tnext = next_record(&it->tx, it->end, it->i + 1);
            }
        }
        it->g += d;
        t = it->g + r;
    } else {
        t = (uint64_t)it->t + r;
    }
    /* Wrapping arithmetic; a chunk we wrote always moves forward. */
    if ((int64_t)t <= it->t)
        return 0;
    it->t = (int64_t)t;
    return 1;
}

static inline OSP_ALWAYS_INLINE int
xor_next(osp_dchunk_it *it)
{
    size_t pos = it->xpos, nb = it->xbits;
    if (it->i == 0) {
        if (nb - pos < 64)
            return 0;
        it->v = rd(it->xs, it->end, pos, 64, ~UINT64_C(0));
        it->xpos = pos + 64;
        return 1;
    }
    if (nb - pos < 1)
        return 0;
    if (rd(it->xs, it->end, pos, 1, 1) == 0) {
        it->xpos = pos + 1;
        return 1;
    }
    if (nb - pos < 2)
        return 0;
    if (rd(it->xs, it->end, pos + 1, 1, 1) == 0) {
        if (it->leading == 0xff)
            return 0; /* no window yet */
        pos += 2;
    } else {
        if (nb - pos < 14)
            return 0;
        unsigned f = (unsigned)rd(it->xs, it->end, pos + 2, 12, 0xfff);
        unsigned lead = f & 63, sig = (f >> 6) + 1;
        if (lead + sig > 64)
            return 0;
        it->leading = (uint8_t)lead;
        it->trailing = (uint8_t)(64 - lead - sig);
        pos += 14;
    }
    unsigned sig = 64u - it->leading - it->trailing;
    if (nb - pos < sig)
        return 0;
    it->v ^= rd(it->xs, it->end, pos, sig, low_mask(sig)) << it->trailing;
    it->xpos = pos + sig;
    return 1;
}

static inline OSP_ALWAYS_INLINE int
dec_next(osp_dchunk_it *it)
{
    if (it->i == it->vnext) {
        it->v = dc_load_le64(it->vx); /* validated by parse */
        it->vx += 8;
        it->vnext = UINT32_MAX;
        if (it->vleft > 0) {
            it->vleft--;
            it->vnext = next_record(&it->vx, it->end, it->i + 1);
        }
        return 1;
    }
    uint64_t x;
    switch (it->vmode - DC_V_DEC0) {
    case 0:
        if (!lane_get(&it->vl, it->end, &it->m))
            return 0;
        break;
    case 1:
        if (it->mi == 0) {
            it->m = it->m0;
        } else {
            if (!lane_get(&it->vl, it->end, &x))
                return 0;
            it->m += x;
        }
        break;
    default:
        if (it->mi == 0) {
            it->m = it->m0;
        } else {
            if (it->mi == 1) {
                it->dm = it->d0;
            } else {
                if (!lane_get(&it->vl, it->end, &x))
                    return 0;
                it->dm += x;
            }
            it->m += it->dm;
        }
        break;
    }
    it->mi++;
    double d = (double)(int64_t)it->m;
    if (it->e != 0)
        d /= it->scale;
    it->v = dc_bits_of(d);
    return 1;
}

/* step: decode the next sample into it->t / it->v: 1, 0 at the end, or an
 * error. Always inlined, so that decode_range keeps its iterator in registers. */
static inline OSP_ALWAYS_INLINE int
step(osp_dchunk_it *it)
{
    if (it->err != 0)
        return it->err;
    if (it->i >= it->n)
        return 0;
    if (it->i > 0 && !time_next(it))
        goto corrupt;
    if (it->vmode == DC_V_XOR ? !xor_next(it) : !dec_next(it))
        goto corrupt;
    it->i++;
    return 1;
corrupt:
    it->err = OSP_ECORRUPT;
    return it->err;
}

int
osp_dchunk_it_next(osp_dchunk_it *it, int64_t *t, double *v)
{
    int rc = step(it);
    if (rc == 1) {
        *t = it->t;
        memcpy(v, &it->v, sizeof(*v));
    }
    return rc;
}

static size_t
blocks(size_t c)
{
    return (c + DC_BLOCK - 1) / DC_BLOCK;
}

/* Fewest bytes n samples take: the format byte and count, then for n > 0 the
 * time length, mode, t0 and lane multiplier, a byte per block of the n-1 time
 * lane entries, and at least four bytes (mode, exponent, exception count,
 * multiplier) plus a byte per block of n-2 value lane entries (XOR and
 * exceptions take more). */
static size_t
min_bytes(size_t n, size_t count_bytes)
{
    size_t b = 1 + count_bytes;
    if (n > 0)
        b += 4 + blocks(n - 1) + 4 + blocks(n >= 2 ? n - 2 : 0);
    return b;
}

int
osp_dchunk_count(const uint8_t *data, size_t len, size_t *n)
{
    if (len < 1 || data[0] != OSP_DCHUNK_FORMAT_V1)
        return OSP_ECORRUPT;
    const uint8_t *p = data + 1;
    uint64_t cnt;
    if (!get_uvarint(&p, data + len, &cnt) || cnt > OSP_DCHUNK_MAX_SAMPLES)
        return OSP_ECORRUPT;
    if (len < min_bytes((size_t)cnt, (size_t)(p - data - 1)))
        return OSP_ECORRUPT;
    *n = (size_t)cnt;
    return 0;
}

int
osp_dchunk_decode_range(const uint8_t *data, size_t len, int64_t mint, int64_t maxt, int64_t *ts,
                        double *vs, size_t cap, size_t *n)
{
    /* A local iterator the compiler can keep in registers. */
    osp_dchunk_it it;
    osp_dchunk_it_init(&it, data, len);
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
