/* tsdb_dchunk_enc.c - dense chunk encoder: builds each candidate layout of the
 * time and of the value section (see osp_dchunk.h) and keeps the smallest. */
#include "osp_dchunk.h"

#include "osp_err.h"
#include "osp_mem.h"
#include "tsdb_dchunk_int.h"

/* ---- bit writer ------------------------------------------------------------ */

/* A growable bit buffer; every byte past the written bits is zero and 16 bytes
 * of slack follow them, so a field is one OR into an 8-byte word. */
typedef struct wbuf {
    uint8_t *p;
    size_t cap;
    size_t nbits;
} wbuf;

static void
wb_need(wbuf *b, size_t bytes)
{
    size_t need = (b->nbits >> 3) + bytes + 16;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    b->p = osp_realloc(b->p, cap);
    memset(b->p + b->cap, 0, cap - b->cap);
    b->cap = cap;
}

static void
wb_reset(wbuf *b)
{
    if (b->p != NULL)
        memset(b->p, 0, (b->nbits + 7) >> 3);
    b->nbits = 0;
}

static size_t
wb_len(const wbuf *b)
{
    return (b->nbits + 7) >> 3;
}

/* wb_put: append the low w (0..64) bits of x; room for 9 bytes must be reserved. */
static inline void
wb_put(wbuf *b, uint64_t x, unsigned w)
{
    if (w > 56) {
        wb_put(b, x & 0xffffffffu, 32);
        x >>= 32;
        w -= 32;
    }
    if (w < 64)
        x &= (UINT64_C(1) << w) - 1;
    uint8_t *q = b->p + (b->nbits >> 3);
    dc_store_le64(q, dc_load_le64(q) | x << (b->nbits & 7));
    b->nbits += w;
}

static void
wb_align(wbuf *b)
{
    b->nbits = (b->nbits + 7) & ~(size_t)7;
}

static void
wb_byte(wbuf *b, unsigned v)
{
    wb_need(b, 1);
    wb_put(b, v, 8);
}

static void
wb_uvarint(wbuf *b, uint64_t x)
{
    wb_need(b, 10);
    while (x >= 0x80) {
        wb_put(b, (x & 0x7f) | 0x80, 8);
        x >>= 7;
    }
    wb_put(b, x, 8);
}

static void
wb_svarint(wbuf *b, int64_t x)
{
    wb_uvarint(b, dc_zz(x));
}

/* wb_append: src's bytes at b's byte boundary. */
static void
wb_append(wbuf *b, const wbuf *src)
{
    size_t n = wb_len(src);
    wb_need(b, n);
    if (n > 0)
        memcpy(b->p + (b->nbits >> 3), src->p, n);
    b->nbits += n * 8;
}

static void
wb_swap(wbuf *a, wbuf *b)
{
    wbuf t = *a;
    *a = *b;
    *b = t;
}

static size_t
uvarint_len(uint64_t x)
{
    size_t n = 1;
    while (x >= 0x80) {
        x >>= 7;
        n++;
    }
    return n;
}

/* width: bits needed for x (0 for 0). */
static unsigned
width(uint64_t x)
{
    return x == 0 ? 0 : 64u - (unsigned)__builtin_clzll(x);
}

/* ---- lanes ----------------------------------------------------------------- */

/* Shell sort (Ciura's gaps): no recursion and no quadratic worst case at
 * block sizes. */
static void
shell_sort(int64_t *a, size_t n)
{
    static const size_t gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
    for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
        size_t gap = gaps[g];
        for (size_t i = gap; i < n; i++) {
            int64_t v = a[i];
            size_t j = i;
            for (; j >= gap && a[j - gap] > v; j -= gap)
                a[j] = a[j - gap];
            a[j] = v;
        }
    }
}

/* sort_i64: sort a[0..n) whose entries lie in [lo, hi]; by counting when the
 * range is small, as the residuals and differences of scraped series are. */
static void
sort_i64(int64_t *a, size_t n, int64_t lo, int64_t hi)
{
    uint64_t range = (uint64_t)hi - (uint64_t)lo;
    if (range >= 1024 || n > UINT16_MAX) {
        shell_sort(a, n);
        return;
    }
    uint16_t cnt[1024];
    memset(cnt, 0, (range + 1) * sizeof(cnt[0]));
    for (size_t k = 0; k < n; k++)
        cnt[(uint64_t)a[k] - (uint64_t)lo]++;
    size_t k = 0;
    for (uint64_t v = 0; v <= range; v++)
        for (unsigned c = cnt[v]; c > 0; c--)
            a[k++] = (int64_t)((uint64_t)lo + v);
}

typedef struct plan {
    uint64_t base;
    unsigned w;
} plan;

/* block_bits: the size in bits of a block (byte-rounded). */
static size_t
block_bits(size_t cb, uint64_t base, const plan *prev, unsigned w, size_t np, unsigned pw)
{
    if (np == 0 && w == prev->w && base == prev->base)
        return 8 + cb * w;
    size_t bits = 8 + 8 * uvarint_len(dc_zz((int64_t)(base - prev->base)));
    if (np > 0)
        bits += 16 + np * (DC_IDX_BITS + pw);
    bits += (cb - np) * w;
    return (bits + 7) & ~(size_t)7;
}

static inline int
fits(uint64_t x, const plan *p)
{
    return p->w >= 64 || ((x - p->base) >> p->w) == 0;
}

/* plan_block: the base and slot width that make the block of x[0..cb) smallest,
 * entries outside [base, base + 2^w) becoming patches: the previous block's plan
 * when every entry fits it, else for each width below the one that needs no
 * patches, the start of the densest window of the sorted entries. */
static plan
plan_block(const uint64_t *x, size_t cb, const plan *prev, int64_t *s)
{
    int all_fit = 1;
    int64_t lo = (int64_t)x[0], hi = lo;
    for (size_t k = 0; k < cb; k++) {
        s[k] = (int64_t)x[k];
        lo = s[k] < lo ? s[k] : lo;
        hi = s[k] > hi ? s[k] : hi;
        all_fit &= fits(x[k], prev);
    }
    unsigned w0 = width((uint64_t)hi - (uint64_t)lo);
    plan best = {(uint64_t)lo, w0};
    size_t best_bits = block_bits(cb, best.base, prev, w0, 0, 0);
    if (all_fit && block_bits(cb, prev->base, prev, prev->w, 0, 0) <= best_bits) {
        best = *prev;
        best_bits = block_bits(cb, prev->base, prev, prev->w, 0, 0);
    }
    size_t maxp = cb / 4; /* more patches than a quarter of the block rarely pay */
    if (w0 == 0 || maxp == 0)
        return best;
    sort_i64(s, cb, lo, hi);
    /* no width below that of the narrowest window of cb - maxp entries helps,
     * and from it up the densest window leaves at most maxp patches */
    uint64_t span = UINT64_MAX;
    for (size_t j = 0; j <= maxp; j++) {
        uint64_t d = (uint64_t)s[j + cb - maxp - 1] - (uint64_t)s[j];
        span = d < span ? d : span;
    }
    for (unsigned w = width(span); w < w0; w++) {
        if ((cb - maxp) * w + 16 >= best_bits)
            break;
        size_t j = 0, bj = 0, cover = 0;
        for (size_t k = 0; k < cb; k++) {
            while (((uint64_t)s[k] - (uint64_t)s[j]) >> w != 0)
                j++;
            if (k - j + 1 > cover) {
                cover = k - j + 1;
                bj = j;
            }
        }
        size_t np = cb - cover;
        uint64_t base = (uint64_t)s[bj];
        uint64_t plo = dc_zz((int64_t)((uint64_t)s[0] - base));
        uint64_t phi = dc_zz((int64_t)((uint64_t)s[cb - 1] - base));
        size_t bits = block_bits(cb, base, prev, w, np, width(plo > phi ? plo : phi));
        if (bits < best_bits) {
            best_bits = bits;
            best.base = base;
            best.w = w;
        }
    }
    return best;
}

static uint64_t
gcd(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* lane_put: the lane of x[0..c) at b's byte boundary, dividing x by the
 * multiplier in place; s is scratch of DC_BLOCK. */
static void
lane_put(wbuf *b, uint64_t *x, size_t c, int64_t *s)
{
    /* the multiplier: the gcd of the entries' magnitudes, when below 2^62 */
    uint64_t mul = 0;
    for (size_t k = 0; k < c && mul != 1; k++) {
        uint64_t a = (int64_t)x[k] < 0 ? -x[k] : x[k];
        mul = gcd(a, mul);
    }
    if (mul == 0 || mul >= UINT64_C(1) << 62)
        mul = 1;
    wb_uvarint(b, mul);
    if (mul > 1)
        for (size_t k = 0; k < c; k++)
            x[k] = (uint64_t)((int64_t)x[k] / (int64_t)mul);
    plan prev = {0, 0};
    for (size_t start = 0; start < c; start += DC_BLOCK) {
        const uint64_t *bx = x + start;
        size_t cb = c - start < DC_BLOCK ? c - start : DC_BLOCK;
        plan p = plan_block(bx, cb, &prev, s);
        unsigned np = 0;
        uint64_t pmax = 0;
        for (size_t k = 0; k < cb; k++) {
            if (!fits(bx[k], &p)) {
                uint64_t z = dc_zz((int64_t)(bx[k] - p.base));
                pmax = z > pmax ? z : pmax;
                np++;
            }
        }
        unsigned pw = width(pmax);
        if (np == 0 && p.w == prev.w && p.base == prev.base) {
            wb_byte(b, DC_REPEAT);
        } else {
            wb_byte(b, p.w | (np > 0 ? 0x80u : 0));
            wb_svarint(b, (int64_t)(p.base - prev.base));
            if (np > 0) {
                wb_byte(b, np);
                wb_byte(b, pw);
            }
        }
        wb_need(b, cb * 9 + 16);
        for (size_t k = 0; k < cb; k++)
            if (fits(bx[k], &p))
                wb_put(b, bx[k] - p.base, p.w);
        for (size_t k = 0; k < cb; k++) {
            if (!fits(bx[k], &p)) {
                wb_put(b, k, DC_IDX_BITS);
                wb_put(b, dc_zz((int64_t)(bx[k] - p.base)), pw);
            }
        }
        wb_align(b);
        prev = p;
    }
}

/* ---- time section ---------------------------------------------------------- */

/* Scratch shared by the candidates: n entries each, DC_BLOCK for sorting. */
typedef struct scratch {
    uint64_t *x;   /* lane entries */
    uint64_t *aux; /* jump indices and jumps; exception indices */
    int64_t *tmp;  /* sorted deltas; each value's least decimal */
    uint64_t *m;   /* the decimals of one exponent */
    int64_t *s;    /* block sort buffer */
    int8_t *exp;   /* least decimal exponent of each value, -1: none */
    wbuf cand;     /* the candidate being built */
} scratch;

static uint64_t
div_round(uint64_t a, uint64_t b)
{
    uint64_t r = a % b;
    return a / b + (r >= b - r);
}

static void
time_delta(wbuf *b, const int64_t *ts, size_t n, scratch *sc)
{
    wb_byte(b, DC_T_DELTA);
    wb_svarint(b, ts[0]);
    for (size_t i = 1; i < n; i++)
        sc->x[i - 1] = (uint64_t)ts[i] - (uint64_t)ts[i - 1];
    lane_put(b, sc->x, n - 1, sc->s);
}

/* time_grid: the grid layout with step D (>= 2). A sample within half a step of
 * the next grid point, and within tol of the previous residual, is a residual;
 * any other moves the grid by a jump that gives it the previous residual (a gap
 * of missed scrapes, a new phase). Returns 0, writing nothing, when more than
 * n/2 samples need jumps. */
static int
time_grid(wbuf *b, const int64_t *ts, size_t n, uint64_t D, uint64_t tol, scratch *sc)
{
    uint64_t half = D / 2, g = (uint64_t)ts[0], r = 0;
    uint64_t *jidx = sc->aux, *jval = sc->aux + n / 2 + 1;
    size_t nj = 0;
    for (size_t i = 1; i < n; i++) {
        uint64_t x = (uint64_t)ts[i] - g, dr = x - D - r;
        dr = (int64_t)dr < 0 ? -dr : dr;
        if (x - D + half < D && dr <= tol) { /* -half <= x - D < D - half */
            g += D;
            r = x - D;
        } else {
            if (nj == n / 2)
                return 0;
            jidx[nj] = i;
            jval[nj++] = x - r;
            g += x - r;
        }
        sc->x[i - 1] = r;
    }
    wb_byte(b, DC_T_GRID);
    wb_svarint(b, ts[0]);
    wb_uvarint(b, D);
    wb_uvarint(b, nj);
    for (size_t k = 0; k < nj; k++) {
        wb_uvarint(b, jidx[k] - (k == 0 ? 1 : jidx[k - 1] + 1));
        wb_svarint(b, (int64_t)jval[k]);
    }
    lane_put(b, sc->x, n - 1, sc->s);
    return 1;
}

/* time_put: the smallest of the delta layout and the grid layouts with a few
 * guesses of the scrape interval. */
static void
time_put(wbuf *b, const int64_t *ts, size_t n, scratch *sc)
{
    time_delta(b, ts, n, sc);
    if (n < 3)
        return;
    /* the median delta: of all when their range is small, else of 255 spread
     * over the chunk */
    int64_t *d = sc->tmp;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 1; i < n; i++) {
        d[i - 1] = (int64_t)((uint64_t)ts[i] - (uint64_t)ts[i - 1]);
        lo = d[i - 1] < lo ? d[i - 1] : lo;
        hi = d[i - 1] > hi ? d[i - 1] : hi;
    }
    if (lo == hi)
        return; /* the delta layout is all block headers */
    size_t nd = n - 1;
    if ((uint64_t)hi - (uint64_t)lo >= 1024 && nd > 255) {
        for (size_t k = 0; k < 255; k++)
            d[k] = d[k * nd / 255];
        nd = 255;
    }
    sort_i64(d, nd, lo, hi);
    uint64_t med = (uint64_t)d[nd / 2];
    if (med < 2 || med > (uint64_t)INT64_MAX / 4)
        return;
    /* steps: the median, the step that spans the chunk in a whole number of
     * medians, and the mean step (no gaps) */
    uint64_t span = (uint64_t)ts[n - 1] - (uint64_t)ts[0];
    uint64_t steps = div_round(span, med);
    uint64_t cands[3] = {med, steps > 0 ? div_round(span, steps) : med, div_round(span, n - 1)};
    size_t ncands = 1;
    for (size_t c = 1; c < 3; c++)
        if (cands[c] >= 2 && cands[c] <= (uint64_t)INT64_MAX / 4 && cands[c] != cands[0] &&
            cands[c] != cands[1])
            cands[ncands++] = cands[c];
    /* jitter tolerances: any within half a step, or twice the spread of the
     * middle 90 % of the deltas, so that a new phase starts a jump */
    uint64_t spread = (uint64_t)d[nd - 1 - nd / 20] - (uint64_t)d[nd / 20];
    uint64_t tols[2] = {UINT64_MAX, 2 * spread + 1};
    for (size_t c = 0; c < ncands; c++) {
        for (size_t t = 0; t < (tols[1] < cands[c] / 2 ? 2u : 1u); t++) {
            wb_reset(&sc->cand);
            if (time_grid(&sc->cand, ts, n, cands[c], tols[t], sc) && wb_len(&sc->cand) < wb_len(b))
                wb_swap(b, &sc->cand);
        }
    }
}

/* ---- value section --------------------------------------------------------- */

static void
xor_put(wbuf *b, const double *vs, size_t n)
{
    wb_byte(b, DC_V_XOR);
    uint64_t prev = dc_bits_of(vs[0]);
    unsigned lead_w = 0xff, trail_w = 0;
    wb_need(b, 9);
    wb_put(b, prev, 64);
    for (size_t i = 1; i < n; i++) {
        uint64_t vb = dc_bits_of(vs[i]), d = vb ^ prev;
        prev = vb;
        wb_need(b, 12);
        if (d == 0) {
            wb_put(b, 0, 1);
            continue;
        }
        unsigned lead = (unsigned)__builtin_clzll(d), trail = (unsigned)__builtin_ctzll(d);
        unsigned sig = 64 - lead - trail;
        /* reuse the window when it fits and costs no more than a new one */
        if (lead_w != 0xff && lead >= lead_w && trail >= trail_w &&
            64 - lead_w - trail_w <= 12 + sig) {
            wb_put(b, 1, 2);
            wb_put(b, d >> trail_w, 64 - lead_w - trail_w);
        } else {
            wb_put(b, 3, 2);
            wb_put(b, lead | (sig - 1) << 6, 12);
            wb_put(b, d >> trail, sig);
            lead_w = lead;
            trail_w = trail;
        }
    }
    wb_align(b);
}

/* dec_try: m for v at exponent e into *m when dc_dec_value(m, e) has exactly
 * the bits vb. The product v * 10^e may be off by one from m near 2^53, so the
 * neighbours are tried too. */
static int
dec_try(double v, uint64_t vb, int e, int64_t *m)
{
    double s = v * osp_dchunk_p10[e];
    if (!(s < 0x1p63 && s > -0x1p63))
        return 0;
    int64_t r = (int64_t)s; /* towards zero, then to nearest */
    double f = s - (double)r;
    if (f >= 0.5)
        r++;
    else if (f <= -0.5)
        r--;
    for (int d = 0; d < 3; d++) {
        int64_t c = d == 0 ? r : d == 1 ? r - 1 : r + 1;
        if (dc_bits_of(dc_dec_value(c, (unsigned)e)) == vb) {
            *m = c;
            return 1;
        }
        if (r > -(INT64_C(1) << 50) && r < INT64_C(1) << 50)
            return 0;
    }
    return 0;
}

/* dec_exp: the least e (0..DC_MAX_EXP) with an int64 m such that
 * dc_dec_value(m, e) has exactly the bits of v, and m; -1 when there is none.
 * e = 0 takes any int64; above, only |m| < 2^53 are looked for: a decimal at e
 * is then one at e + 1 too (10m is exact and stands for the same number), so a
 * binary search finds the least e. */
static int
dec_exp(double v, int64_t *m)
{
    uint64_t vb = dc_bits_of(v);
    double a = v < 0 ? -v : v;
    /* NaN and infinities fail the range check; m >= 1 needs v >= 10^-22. */
    if (!(a < 0x1p63) || (a != 0 && a < 1e-22))
        return -1;
    if (dec_try(v, vb, 0, m))
        return 0;
    int lo = 1, hi = 0; /* the answer is in [lo, hi] if anywhere */
    while (hi < DC_MAX_EXP && a * osp_dchunk_p10[hi + 1] < 0x1p53)
        hi++;
    if (hi < 1 || !dec_try(v, vb, hi, m))
        return -1;
    int64_t mm = *m;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (dec_try(v, vb, mid, &mm)) {
            hi = mid;
            *m = mm;
        } else {
            lo = mid + 1;
        }
    }
    return hi;
}

static const int64_t i64_p10[19] = {
    1,
    10,
    100,
    1000,
    10000,
    100000,
    1000000,
    10000000,
    100000000,
    1000000000,
    10000000000,
    100000000000,
    1000000000000,
    10000000000000,
    100000000000000,
    1000000000000000,
    10000000000000000,
    100000000000000000,
    1000000000000000000,
};

/* scale_to: m (the value's least decimal at exponent from) at exponent e >= from
 * into *out; 0 when it overflows or no longer decodes to the bits vb. */
static int
scale_to(int64_t m, int from, int e, uint64_t vb, int64_t *out)
{
    int64_t r = m;
    if (e > from && m != 0 && (e - from > 18 || __builtin_mul_overflow(m, i64_p10[e - from], &r)))
        return 0;
    if (dc_bits_of(dc_dec_value(r, (unsigned)e)) != vb)
        return 0;
    *out = r;
    return 1;
}

/* dec_put: the decimal layout of order `order` for exponent e; m[j] are the
 * decimals of the values not listed in exc[0..nexc). */
static void
dec_put(wbuf *b, const double *vs, const uint64_t *exc, size_t nexc, const uint64_t *m, size_t nm,
        unsigned order, unsigned e, scratch *sc)
{
    wb_byte(b, DC_V_DEC0 + order);
    wb_byte(b, e);
    wb_uvarint(b, nexc);
    for (size_t k = 0; k < nexc; k++) {
        wb_uvarint(b, exc[k] - (k == 0 ? 0 : exc[k - 1] + 1));
        wb_need(b, 9);
        wb_put(b, dc_bits_of(vs[exc[k]]), 64);
    }
    size_t ninit = order < nm ? order : nm;
    if (ninit > 0)
        wb_svarint(b, (int64_t)m[0]);
    if (ninit > 1)
        wb_svarint(b, (int64_t)(m[1] - m[0]));
    size_t c = nm - ninit;
    for (size_t j = 0; j < c; j++) {
        size_t i = j + ninit;
        if (order == 0)
            sc->x[j] = m[i];
        else if (order == 1)
            sc->x[j] = m[i] - m[i - 1];
        else
            sc->x[j] = m[i] - 2 * m[i - 1] + m[i - 2];
    }
    lane_put(b, sc->x, c, sc->s);
}

/* values_put: the smallest of the XOR layout and the decimal ones, for each
 * exponent some value needs at least and each order. */
static void
values_put(wbuf *b, const double *vs, size_t n, scratch *sc)
{
    xor_put(b, vs, n);
    uint32_t exps = 0;
    for (size_t i = 0; i < n; i++) {
        int e = dec_exp(vs[i], &sc->tmp[i]);
        sc->exp[i] = (int8_t)e;
        if (e >= 0)
            exps |= UINT32_C(1) << e;
    }
    for (int e = 0; e <= DC_MAX_EXP; e++) {
        if (!(exps & (UINT32_C(1) << e)))
            continue;
        size_t nexc = 0, nm = 0;
        for (size_t i = 0; i < n; i++) {
            int64_t r;
            if (sc->exp[i] >= 0 && sc->exp[i] <= e &&
                scale_to(sc->tmp[i], sc->exp[i], e, dc_bits_of(vs[i]), &r))
                sc->m[nm++] = (uint64_t)r;
            else
                sc->aux[nexc++] = i;
        }
        /* mode, exponent and count, then 9 bytes or more per exception */
        if (3 + 9 * nexc >= wb_len(b))
            continue;
        for (unsigned order = 0; order <= DC_V_MAXORDER; order++) {
            wb_reset(&sc->cand);
            dec_put(&sc->cand, vs, sc->aux, nexc, sc->m, nm, order, (unsigned)e, sc);
            if (wb_len(&sc->cand) < wb_len(b))
                wb_swap(b, &sc->cand);
        }
    }
}

/* encode: the chunk of the n (<= OSP_DCHUNK_MAX_SAMPLES) samples, checked by
 * the caller, into a fresh allocation. */
static void
encode(const int64_t *ts, const double *vs, size_t n, uint8_t **out, size_t *outlen)
{
    wbuf res = {0}, tsec = {0}, vsec = {0};
    wb_byte(&res, OSP_DCHUNK_FORMAT_V1);
    wb_uvarint(&res, n);
    if (n > 0) {
        scratch sc = {0};
        sc.x = osp_calloc(n, sizeof(*sc.x));
        sc.aux = osp_calloc(n + 2, sizeof(*sc.aux));
        sc.tmp = osp_calloc(n, sizeof(*sc.tmp));
        sc.m = osp_calloc(n, sizeof(*sc.m));
        sc.s = osp_calloc(DC_BLOCK, sizeof(*sc.s));
        sc.exp = osp_calloc(n, sizeof(*sc.exp));
        time_put(&tsec, ts, n, &sc);
        values_put(&vsec, vs, n, &sc);
        wb_uvarint(&res, wb_len(&tsec));
        wb_append(&res, &tsec);
        wb_append(&res, &vsec);
        osp_free(sc.x);
        osp_free(sc.aux);
        osp_free(sc.tmp);
        osp_free(sc.m);
        osp_free(sc.s);
        osp_free(sc.exp);
        osp_free(sc.cand.p);
        osp_free(tsec.p);
        osp_free(vsec.p);
    }
    size_t len = wb_len(&res);
    *out = osp_realloc(res.p, len);
    *outlen = len;
}

static int
increasing(const int64_t *ts, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (ts[i] <= ts[i - 1])
            return 0;
    return 1;
}

int
osp_dchunk_encode(const int64_t *ts, const double *vs, size_t n, uint8_t **out, size_t *outlen)
{
    if (n > OSP_DCHUNK_MAX_SAMPLES)
        return OSP_ELIMIT;
    if (!increasing(ts, n))
        return OSP_EINVAL;
    encode(ts, vs, n, out, outlen);
    return 0;
}

/* Samples encode_fit encodes first to learn the bytes per sample. */
#define PROBE 256

/* next_guess: the length whose chunk would take `target` bytes on the line
 * through the last two (length, bytes) points, kept strictly between the
 * longest fit and the shortest miss (top + 1 before any): top past the end,
 * the middle when the line points outside. */
static size_t
next_guess(size_t pk, size_t plen, size_t k, size_t len, size_t target, size_t fit, size_t fail,
           size_t top)
{
    double slope = k != pk && len > plen ? ((double)len - (double)plen) / ((double)k - (double)pk)
                                         : (double)len / (double)(k > 0 ? k : 1);
    double g = (double)k + ((double)target - (double)len) / (slope > 0 ? slope : 1);
    if (g >= (double)top && fail > top)
        return top;
    if (!(g >= (double)fit + 1 && g < (double)fail))
        return fit + (fail - fit) / 2;
    return (size_t)g;
}

int
osp_dchunk_encode_fit(const int64_t *ts, const double *vs, size_t n, size_t max_bytes,
                      uint8_t **out, size_t *outlen, size_t *used)
{
    if (!increasing(ts, n))
        return OSP_EINVAL;
    size_t top = n < OSP_DCHUNK_MAX_SAMPLES ? n : OSP_DCHUNK_MAX_SAMPLES;
    size_t fit = 0, fail = top + 1; /* the longest fit and the shortest miss seen */
    /* aim 1 % below the budget, so that a guess lands on the fitting side */
    size_t target = max_bytes - max_bytes / 100;
    size_t pk = 0, plen = 2, k = top; /* the last point: the empty chunk */
    if (top > 2 * PROBE) {
        uint8_t *c;
        size_t len;
        encode(ts, vs, PROBE, &c, &len);
        osp_free(c);
        k = next_guess(pk, plen, PROBE, len, target, 0, top + 1, top);
        pk = PROBE;
        plen = len;
    }
    uint8_t *best = NULL;
    size_t best_len = 0;
    for (int round = 0; round < 16; round++) {
        uint8_t *c;
        size_t len;
        encode(ts, vs, k, &c, &len);
        if (len <= max_bytes) {
            osp_free(best);
            best = c;
            best_len = len;
            fit = k;
        } else {
            osp_free(c);
            fail = k;
        }
        /* done at the top, within 2 % of the budget, or of a miss */
        if (fit == top || (best != NULL && best_len >= max_bytes - max_bytes / 50) ||
            fail - fit <= 1 + fail / 50)
            break;
        size_t g = next_guess(pk, plen, k, len, target, fit, fail, top);
        pk = k;
        plen = len;
        k = g;
    }
    if (best == NULL && fail > 1) {
        /* sizes that do not grow with k fooled the search: settle for one sample */
        encode(ts, vs, n > 0 ? 1 : 0, &best, &best_len);
        fit = n > 0 ? 1 : 0;
        if (best_len > max_bytes) {
            osp_free(best);
            best = NULL;
        }
    }
    if (best == NULL)
        return OSP_ELIMIT;
    *out = best;
    *outlen = best_len;
    *used = fit;
    return 0;
}
