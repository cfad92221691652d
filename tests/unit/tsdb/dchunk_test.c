/* dchunk_test.c - the dense chunk codec: the byte layout of worked examples,
 * bit-exact round trips of many series shapes and sizes, the layouts and sizes
 * the encoder picks, range decoding, counting, and truncated or corrupt input. */
#include "osp_test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osp_chunk.h"
#include "osp_dchunk.h"
#include "osp_err.h"
#include "osp_mem.h"

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t
rnd(void)
{
    /* splitmix64: deterministic across runs and machines */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double
dbl(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

static uint64_t
bits_of(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

static const uint64_t specials[] = {
    0x7ff0000000000002u, /* Prometheus staleness marker */
    0x7ff8000000000000u, /* quiet NaN */
    0xfff8000000000001u, /* negative NaN with payload */
    0x7ff0000000000001u, /* signalling NaN */
    0x8000000000000000u, /* -0.0 */
    0x0000000000000000u, /* +0.0 */
    0x7ff0000000000000u, /* +Inf */
    0xfff0000000000000u, /* -Inf */
    0x0000000000000001u, /* smallest denormal */
    0x800fffffffffffffu, /* largest negative denormal */
    0x7fefffffffffffffu, /* DBL_MAX */
    0x43e0000000000000u, /* 2^63 */
    0xc3e0000000000000u, /* -2^63 */
    0x3ff0000000000001u, /* 1 + ulp */
};
#define NSPECIALS (sizeof(specials) / sizeof(specials[0]))

/* decode_all: iterate a heap copy of exactly len bytes (so ASan sees any
 * overread); returns the iterator's final code and the samples in ts/vb. */
static int
decode_all(const uint8_t *data, size_t len, int64_t *ts, uint64_t *vb, size_t cap, size_t *n)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, data, len);
    osp_dchunk_it it;
    osp_dchunk_it_init(&it, copy, len);
    size_t k = 0;
    int64_t t;
    double v;
    int rc;
    while ((rc = osp_dchunk_it_next(&it, &t, &v)) == 1) {
        assert_true(k < cap);
        ts[k] = t;
        vb[k] = bits_of(v);
        k++;
    }
    /* errors and the end are sticky */
    assert_int_equal(osp_dchunk_it_next(&it, &t, &v), rc);
    assert_int_equal(osp_dchunk_it_next(&it, &t, &v), rc);
    free(copy);
    *n = k;
    return rc;
}

static void
expect_samples(const uint8_t *data, size_t len, const int64_t *ts, const uint64_t *vb, size_t n)
{
    int64_t *got_t = osp_calloc(n + 1, sizeof(*got_t));
    uint64_t *got_v = osp_calloc(n + 1, sizeof(*got_v));
    size_t got = 0;
    assert_int_equal(decode_all(data, len, got_t, got_v, n + 1, &got), 0);
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++) {
        if (got_t[i] != ts[i] || got_v[i] != vb[i])
            fail_msg("sample %zu of %zu: got (%lld, %016llx), want (%lld, %016llx)", i, n,
                     (long long)got_t[i], (unsigned long long)got_v[i], (long long)ts[i],
                     (unsigned long long)vb[i]);
    }
    size_t cnt;
    assert_int_equal(osp_dchunk_count(data, len, &cnt), 0);
    assert_int_equal(cnt, n);
    /* decode_range of everything into exactly n slots agrees */
    double *vs = osp_calloc(n + 1, sizeof(*vs));
    size_t rn = 0;
    assert_int_equal(osp_dchunk_decode_range(data, len, INT64_MIN, INT64_MAX, got_t, vs, n, &rn),
                     0);
    assert_int_equal(rn, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got_t[i], ts[i]);
        assert_int_equal(bits_of(vs[i]), vb[i]);
    }
    osp_free(vs);
    osp_free(got_t);
    osp_free(got_v);
}

/* encode: the dense chunk of ts/vb (asserting success); *len gets its size. */
static uint8_t *
encode(const int64_t *ts, const uint64_t *vb, size_t n, size_t *len)
{
    double *vs = osp_calloc(n + 1, sizeof(*vs));
    for (size_t i = 0; i < n; i++)
        vs[i] = dbl(vb[i]);
    uint8_t *enc = NULL;
    assert_int_equal(osp_dchunk_encode(ts, vs, n, &enc, len), 0);
    assert_non_null(enc);
    assert_int_equal(enc[0], OSP_DCHUNK_FORMAT_V1);
    osp_free(vs);
    return enc;
}

static size_t
roundtrip(const int64_t *ts, const uint64_t *vb, size_t n)
{
    size_t len;
    uint8_t *enc = encode(ts, vb, n, &len);
    expect_samples(enc, len, ts, vb, n);
    osp_free(enc);
    return len;
}

/* The mode bytes of a chunk (n > 0): its time and value section's first byte. */
static void
modes(const uint8_t *c, size_t len, unsigned *tmode, unsigned *vmode)
{
    size_t p = 1;
    while (c[p] & 0x80)
        p++;
    p++;
    uint64_t tlen = 0;
    for (unsigned s = 0;; s += 7) {
        tlen |= (uint64_t)(c[p] & 0x7f) << s;
        if (!(c[p++] & 0x80))
            break;
    }
    assert_true(p + tlen < len);
    *tmode = c[p];
    *vmode = c[p + tlen];
}

/* ---- layout ---------------------------------------------------------------- */

static void
test_layout(void **state)
{
    (void)state;
    /* Worked by hand (see osp_dchunk.h): count 5, tlen 9; time: delta, t0 1000
     * (zz 2000 = d0 0f), multiplier 1, one block w=3 base 1000 with the slots
     * 0,0,0,7 (bits 9..11); values: decimal order 1, e=1, one exception at index
     * 4 (the stale marker, 8 bytes LE), m0 = 15 (zz 1e), multiplier 10 for the
     * deltas 10,10,10, one block w=0 base 1. */
    static const uint8_t want[] = {
        0xd1, 0x05, 0x09, 0x00, 0xd0, 0x0f, 0x01, 0x03, 0xd0, 0x0f, 0x00, 0x0e, 0x02, 0x01,
        0x01, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x7f, 0x1e, 0x0a, 0x00, 0x02,
    };
    int64_t ts[] = {1000, 2000, 3000, 4000, 5007};
    uint64_t vb[] = {bits_of(1.5), bits_of(2.5), bits_of(3.5), bits_of(4.5), specials[0]};
    size_t len;
    uint8_t *enc = encode(ts, vb, 5, &len);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(enc, want, sizeof(want));
    expect_samples(enc, len, ts, vb, 5);
    osp_free(enc);

    /* 0.1 is e=1; 0.1 + 0.2 needs 17 digits, 1e300 has no decimal at all: time
     * delta, t0 10, multiplier 1, one block w=1 base 10 with the slots 0,1;
     * values: decimal order 1, e=1, exceptions at index 1 and 2 (gaps 1, 0),
     * m0 = 1 (zz 02), an empty lane (multiplier 1) */
    static const uint8_t want2[] = {
        0xd1, 0x03, 0x06, 0x00, 0x14, 0x01, 0x01, 0x14, 0x02, 0x02, 0x01,
        0x02, 0x01, 0x34, 0x33, 0x33, 0x33, 0x33, 0x33, 0xd3, 0x3f, 0x00,
        0x9c, 0x75, 0x00, 0x88, 0x3c, 0xe4, 0x37, 0x7e, 0x02, 0x01,
    };
    int64_t ts2[] = {10, 20, 31};
    uint64_t vb2[] = {bits_of(0.1), bits_of(0.1 + 0.2), bits_of(1e300)};
    enc = encode(ts2, vb2, 3, &len);
    assert_int_equal(len, sizeof(want2));
    assert_memory_equal(enc, want2, sizeof(want2));
    expect_samples(enc, len, ts2, vb2, 3);
    osp_free(enc);

    /* a grid chunk built by hand: D 1000, a jump of 3003 at index 2, residuals
     * 0, 0, -4 as multiplier 4 times base -1 + slots 1, 1, 0; values 0.0 */
    static const uint8_t grid[] = {0xd1, 0x04, 0x0d, 0x01, 0xc8, 0x01, 0xe8, 0x07, 0x01, 0x01, 0xf6,
                                   0x2e, 0x04, 0x01, 0x01, 0x03, 0x01, 0x00, 0x00, 0x01, 0x7f};
    int64_t gts[] = {100, 1100, 4103, 5099};
    uint64_t gvb[] = {0, 0, 0, 0};
    expect_samples(grid, sizeof(grid), gts, gvb, 4);
    roundtrip(gts, gvb, 4);
}

static void
test_empty_and_one(void **state)
{
    (void)state;
    size_t len, n = 99;
    uint8_t *enc = NULL;
    assert_int_equal(osp_dchunk_encode(NULL, NULL, 0, &enc, &len), 0);
    assert_int_equal(len, 2);
    assert_int_equal(enc[0], OSP_DCHUNK_FORMAT_V1);
    assert_int_equal(enc[1], 0);
    int64_t t;
    uint64_t v;
    assert_int_equal(decode_all(enc, len, &t, &v, 1, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(osp_dchunk_count(enc, len, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(osp_dchunk_decode_range(enc, len, INT64_MIN, INT64_MAX, NULL, NULL, 0, &n), 0);
    assert_int_equal(n, 0);
    osp_free(enc);

    /* one sample: every special value at the extremes of time */
    static const int64_t ts[] = {INT64_MIN, INT64_MAX, -5, 0, 1700000000000};
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++)
        for (size_t s = 0; s < NSPECIALS; s++)
            roundtrip(&ts[i], &specials[s], 1);
    /* two samples: the whole int64 range in one step */
    int64_t ts2[] = {INT64_MIN, INT64_MAX};
    for (size_t s = 0; s + 1 < NSPECIALS; s++)
        roundtrip(ts2, &specials[s], 2);
}

/* Shapes of random series: how timestamps and values evolve. */
enum {
    T_1S,     /* every second on the schedule */
    T_15S,    /* every 15 s */
    T_JITTER, /* every second +-8 ms */
    T_LATE,   /* every second, 1..8 ms late */
    T_GAPS,   /* every second +-3 ms with missed scrapes and phase changes */
    T_DRIFT,  /* every 1000.3 ms */
    T_RANDOM, /* random steps up to 10^6 */
    T_HUGE,   /* random steps of any size */
    T_NEG,    /* negative times */
    T_NSHAPES
};
enum {
    V_COUNTER,   /* +0..4 */
    V_FLEET,     /* bench/fleet.c: +3 per scrape, 2 then 4 now and then */
    V_GAUGE2,    /* two decimals */
    V_NEGATIVE,  /* negative two-decimal walk around 0 */
    V_INTGAUGE,  /* integer walk */
    V_BIG,       /* counter above 2^53 in steps of 4096 */
    V_MEMORY,    /* bytes in pages: multiples of 4096 */
    V_TINY,      /* decimals with 22 places */
    V_LONGDEC,   /* 12 to 15 significant digits, 3 of them decimals */
    V_FLOAT,     /* computed, not decimal */
    V_RANDOM,    /* random bits */
    V_SPECIAL,   /* special values only */
    V_STALE_END, /* counter ending in a stale marker */
    V_STALE_MID, /* counter with stale markers and NaNs inside */
    V_MIXED,     /* gauge with one value in ten random bits */
    V_CONST,
    V_FEW, /* 0, 0.1, 0.2 */
    V_NSHAPES
};

static void
gen_series(int tshape, int vshape, size_t n, int64_t *ts, uint64_t *vb)
{
    int64_t t = tshape == T_NEG ? -(int64_t)(rnd() >> 4) : 1700000000000 + (int64_t)(rnd() % 1000);
    if (tshape == T_HUGE)
        t = (int64_t)(rnd() >> 20);
    int64_t start = t, grid = t, interval = tshape == T_15S ? 15000 : 1000;
    double c = (double)(rnd() % 1000), drift = 0;
    long cents = (long)(rnd() % 10000) - 5000, iv = 50;
    uint64_t r = rnd() % 100000, big = 0;
    int flip = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t next;
        switch (tshape) {
        case T_1S:
        case T_15S: next = grid; break;
        case T_JITTER: next = grid + (int64_t)(rnd() % 17) - 8; break;
        case T_LATE: next = grid + 1 + (int64_t)(rnd() % 8); break;
        case T_GAPS:
            if (rnd() % 50 == 0)
                grid += (int64_t)(rnd() % 5) * 1000 + (rnd() % 3 == 0 ? (int64_t)(rnd() % 700) : 0);
            next = grid + (int64_t)(rnd() % 7) - 3;
            break;
        case T_DRIFT:
            next = start + (int64_t)drift;
            drift += 1000.3;
            break;
        case T_RANDOM: next = t + 1 + (int64_t)(rnd() % 1000000); break;
        case T_HUGE: next = (int64_t)((uint64_t)t + 1 + (rnd() >> (4 + rnd() % 60))); break;
        default: next = t + 1 + (int64_t)(rnd() % 100000); break;
        }
        grid += interval;
        if (i > 0) {
            /* leave room for the samples still to come; keep increasing */
            uint64_t room = ((uint64_t)INT64_MAX - (uint64_t)t) / (n - i + 1);
            if (next <= t || (uint64_t)next - (uint64_t)t > room)
                next = t + 1 + (int64_t)(room / 2);
        }
        t = next;
        ts[i] = t;
        switch (vshape) {
        case V_COUNTER: c += (double)(rnd() % 5); break;
        case V_FLEET:
            if (flip) {
                r += 4;
                flip = 0;
            } else if (rnd() % 100 == 0) {
                r += 2;
                flip = 1;
            } else {
                r += 3;
            }
            c = (double)(1000 + r * 5);
            break;
        case V_GAUGE2: c = (double)(int64_t)(rnd() % 100000) / 100.0; break;
        case V_NEGATIVE:
            cents += (long)(rnd() % 201) - 100;
            c = (double)cents / 100.0;
            break;
        case V_INTGAUGE:
            iv += (long)(rnd() % 7) - 3;
            c = (double)iv;
            break;
        case V_BIG:
            big += 4096 * (1 + rnd() % 2);
            c = 0x1p60 + (double)big;
            break;
        case V_MEMORY: c = (double)((1u << 20) + rnd() % 4096) * 4096.0; break;
        case V_TINY: c = (double)(int64_t)(rnd() % 1000) / 1e22; break;
        case V_LONGDEC: c = (double)(int64_t)(123456789000 + rnd() % 1000000000000) / 1000; break;
        case V_FLOAT: c = 100.0 + 10.0 * sin((double)i / 50.0); break;
        case V_RANDOM: c = dbl(rnd()); break;
        case V_SPECIAL: c = dbl(specials[rnd() % NSPECIALS]); break;
        case V_STALE_END:
            c = (double)(1000 + i * 7);
            if (i + 1 == n)
                c = dbl(specials[0]);
            break;
        case V_STALE_MID:
            c = (double)(1000 + i * 7);
            if (rnd() % 40 == 0)
                c = dbl(specials[rnd() % 4]);
            break;
        case V_MIXED:
            c = rnd() % 10 == 0 ? dbl(rnd()) : (double)(int64_t)(rnd() % 10000) / 10.0;
            break;
        case V_CONST: c = 42.0; break;
        default: c = (double)(rnd() % 3) * 0.1; break;
        }
        vb[i] = bits_of(c);
    }
}

static void
test_roundtrip_shapes(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 2, 3, 4, 7, 255, 256, 257, 513, 1200};
    int64_t *ts = osp_calloc(1200, sizeof(*ts));
    uint64_t *vb = osp_calloc(1200, sizeof(*vb));
    for (int tsh = 0; tsh < T_NSHAPES; tsh++)
        for (int vsh = 0; vsh < V_NSHAPES; vsh++)
            for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                gen_series(tsh, vsh, sizes[s], ts, vb);
                roundtrip(ts, vb, sizes[s]);
            }
    osp_free(ts);
    osp_free(vb);
}

/* xor_size: bytes of the XOR chunk of the same samples. */
static size_t
xor_size(const int64_t *ts, const uint64_t *vb, size_t n)
{
    double *vs = osp_calloc(n + 1, sizeof(*vs));
    for (size_t i = 0; i < n; i++)
        vs[i] = dbl(vb[i]);
    uint8_t *enc;
    size_t len;
    assert_int_equal(osp_chunk_encode(ts, vs, n, &enc, &len), 0);
    osp_free(enc);
    osp_free(vs);
    return len;
}

/* The encoder picks the layout that suits each shape, within a size budget: a
 * regression to a worse layout fails here, not only in the speed tool. */
static void
test_layout_choice(void **state)
{
    (void)state;
    static const struct {
        int tshape, vshape;
        unsigned tmode, vmode; /* 0xff: any */
        size_t max_bytes;      /* for 1200 samples */
    } cases[] = {
        {T_1S, V_CONST, 0, 0xff, 40},     /* all block headers */
        {T_1S, V_FLEET, 0, 2, 120},       /* delta values, patches at the 2/4 steps */
        {T_15S, V_COUNTER, 0, 2, 500},    /* 3 bits per delta */
        {T_JITTER, V_FLEET, 1, 2, 820},   /* grid: < 5 bits per residual */
        {T_LATE, V_CONST, 1, 0xff, 500},  /* grid: 3 bits per residual */
        {T_GAPS, V_FLEET, 1, 2, 760},     /* jumps keep the grid */
        {T_DRIFT, V_INTGAUGE, 0, 2, 700}, /* deltas of 1000 or 1001 */
        {T_1S, V_GAUGE2, 0, 1, 2700},     /* e=2, ~17 bits each */
        {T_1S, V_NEGATIVE, 0, 2, 1400},   /* e=2 deltas of +-100 */
        {T_1S, V_MEMORY, 0, 1, 1950},     /* multiplier 4096 */
        {T_1S, V_BIG, 0, 2, 240},         /* multiplier 4096 above 2^53 */
        {T_1S, V_TINY, 0, 1, 1600},       /* e=22 */
        {T_1S, V_LONGDEC, 0, 1, 6400},    /* e=3, m up to 2^50 */
        {T_1S, V_STALE_END, 0, 2, 60},    /* one exception */
        {T_1S, V_RANDOM, 0xff, 0, 0},     /* XOR (budget: see below) */
        {T_1S, V_FLOAT, 0xff, 0xff, 0},   /* whichever is smaller than XOR */
    };
    size_t n = 1200;
    int64_t *ts = osp_calloc(n, sizeof(*ts));
    uint64_t *vb = osp_calloc(n, sizeof(*vb));
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        gen_series(cases[k].tshape, cases[k].vshape, n, ts, vb);
        size_t len;
        uint8_t *enc = encode(ts, vb, n, &len);
        expect_samples(enc, len, ts, vb, n);
        unsigned tm, vm;
        modes(enc, len, &tm, &vm);
        size_t xlen = xor_size(ts, vb, n);
        if ((cases[k].tmode != 0xff && tm != cases[k].tmode) ||
            (cases[k].vmode != 0xff && vm != cases[k].vmode) ||
            (cases[k].max_bytes > 0 && len > cases[k].max_bytes) || len > xlen + 16)
            fail_msg("case %zu: modes %u/%u, %zu bytes (XOR %zu)", k, tm, vm, len, xlen);
        osp_free(enc);
    }
    osp_free(ts);
    osp_free(vb);
}

static void
test_full_chunk(void **state)
{
    (void)state;
    size_t n = OSP_DCHUNK_MAX_SAMPLES;
    int64_t *ts = osp_calloc(n + 1, sizeof(*ts));
    uint64_t *vb = osp_calloc(n + 1, sizeof(*vb));
    static const int shapes[][2] = {
        {T_JITTER, V_FLEET}, {T_1S, V_CONST}, {T_GAPS, V_STALE_MID}, {T_HUGE, V_RANDOM}};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        gen_series(shapes[s][0], shapes[s][1], n, ts, vb);
        size_t len = roundtrip(ts, vb, n);
        if (shapes[s][1] == V_CONST)
            assert_true(len < 600); /* two one-byte block headers per 256 samples */
    }
    /* one sample more is refused */
    for (size_t i = 0; i <= n; i++)
        ts[i] = (int64_t)i;
    double *vs = osp_calloc(n + 1, sizeof(*vs));
    uint8_t *enc = NULL;
    size_t len = 0;
    assert_int_equal(osp_dchunk_encode(ts, vs, n + 1, &enc, &len), OSP_ELIMIT);
    assert_null(enc);
    assert_int_equal(len, 0);
    osp_free(vs);
    osp_free(ts);
    osp_free(vb);
}

static void
test_encode_rejects(void **state)
{
    (void)state;
    uint8_t *enc = NULL;
    size_t len = 0;
    double vs[] = {1, 2, 3, 4};
    static const int64_t bad[][4] = {
        {5, 5, 6, 7}, {5, 6, 6, 7}, {5, 6, 7, 7}, {7, 6, 8, 9}, {INT64_MAX, INT64_MIN, 0, 1}};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        assert_int_equal(osp_dchunk_encode(bad[k], vs, 4, &enc, &len), OSP_EINVAL);
        assert_null(enc);
        assert_int_equal(len, 0);
    }
}

static void
test_decode_range(void **state)
{
    (void)state;
    int64_t ts[100];
    double vs[100];
    for (size_t i = 0; i < 100; i++) {
        ts[i] = (int64_t)i * 10 - 500; /* -500 .. 490 */
        vs[i] = (double)i;
    }
    vs[50] = dbl(specials[0]);
    uint8_t *c;
    size_t len;
    assert_int_equal(osp_dchunk_encode(ts, vs, 100, &c, &len), 0);
    static const struct {
        int64_t mint, maxt;
        size_t first, n;
    } cases[] = {
        {INT64_MIN, INT64_MAX, 0, 100},
        {-500, 490, 0, 100},
        {-499, 489, 1, 98},
        {-501, -500, 0, 1},
        {490, 491, 99, 1},
        {491, INT64_MAX, 0, 0},
        {INT64_MIN, -501, 0, 0},
        {0, 0, 50, 1},
        {1, 9, 0, 0},
        {-5, 25, 50, 3},
        {10, 0, 0, 0},
    };
    int64_t ot[100];
    double ov[100];
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        size_t n = 999;
        assert_int_equal(
            osp_dchunk_decode_range(c, len, cases[k].mint, cases[k].maxt, ot, ov, 100, &n), 0);
        assert_int_equal(n, cases[k].n);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(ot[i], ts[cases[k].first + i]);
            assert_int_equal(bits_of(ov[i]), bits_of(vs[cases[k].first + i]));
        }
    }
    size_t n;
    /* exactly enough room, too little room, NULL arrays */
    assert_int_equal(osp_dchunk_decode_range(c, len, -5, 25, ot, ov, 3, &n), 0);
    assert_int_equal(n, 3);
    n = 7;
    assert_int_equal(osp_dchunk_decode_range(c, len, -5, 25, ot, ov, 2, &n), OSP_ELIMIT);
    assert_int_equal(n, 7);
    assert_int_equal(osp_dchunk_decode_range(c, len, INT64_MIN, INT64_MAX, NULL, NULL, 100, &n), 0);
    assert_int_equal(n, 100);
    assert_int_equal(osp_dchunk_decode_range(c, len, 0, 100, NULL, ov, 100, &n), 0);
    assert_int_equal(n, 11);
    assert_int_equal(bits_of(ov[0]), specials[0]);
    assert_int_equal(ov[10], 60.0);
    assert_int_equal(osp_dchunk_decode_range(c, len, 0, 100, ot, NULL, 100, &n), 0);
    assert_int_equal(n, 11);
    assert_int_equal(ot[10], 100);
    assert_int_equal(osp_dchunk_decode_range(c, len - 1, INT64_MIN, -400, ot, ov, 100, &n),
                     OSP_ECORRUPT);
    osp_free(c);

    /* samples after maxt are not decoded: a corrupt last block goes unnoticed
     * by a range that ends in an earlier block */
    int64_t lts[1000];
    double lvs[1000];
    for (size_t i = 0; i < 1000; i++) {
        lts[i] = (int64_t)i * 1000 + (int64_t)(rnd() % 5);
        lvs[i] = (double)(rnd() % 100000) / 100.0;
    }
    assert_int_equal(osp_dchunk_encode(lts, lvs, 1000, &c, &len), 0);
    int64_t *lot = osp_calloc(1000, sizeof(*lot));
    assert_int_equal(osp_dchunk_decode_range(c, len - 1, INT64_MIN, lts[99], lot, NULL, 1000, &n),
                     0);
    assert_int_equal(n, 100);
    assert_int_equal(lot[99], lts[99]);
    assert_int_equal(osp_dchunk_decode_range(c, len - 1, INT64_MIN, INT64_MAX, lot, NULL, 1000, &n),
                     OSP_ECORRUPT);
    osp_free(lot);
    osp_free(c);
}

/* Every strict prefix of a chunk (its header still saying n) must end in
 * OSP_ECORRUPT after at most the samples it holds, never in a crash. */
static void
check_prefixes(const int64_t *ts, const uint64_t *vb, size_t n)
{
    size_t len;
    uint8_t *b = encode(ts, vb, n, &len);
    int64_t *gt = osp_calloc(n + 1, sizeof(*gt));
    uint64_t *gv = osp_calloc(n + 1, sizeof(*gv));
    for (size_t cut = 0; cut < len; cut++) {
        size_t got;
        assert_int_equal(decode_all(b, cut, gt, gv, n + 1, &got), OSP_ECORRUPT);
        assert_true(got < n || n == 0);
        for (size_t i = 0; i < got; i++) {
            assert_int_equal(gt[i], ts[i]);
            assert_int_equal(gv[i], vb[i]);
        }
        size_t cnt, dn;
        if (cut < 2)
            assert_int_equal(osp_dchunk_count(b, cut, &cnt), OSP_ECORRUPT);
        assert_int_equal(
            osp_dchunk_decode_range(b, cut, INT64_MIN, INT64_MAX, gt, NULL, n + 1, &dn),
            OSP_ECORRUPT);
    }
    osp_free(gt);
    osp_free(gv);
    osp_free(b);
}

static void
test_truncated(void **state)
{
    (void)state;
    int64_t ts[300];
    uint64_t vb[300];
    for (int tsh = 0; tsh < T_NSHAPES; tsh++)
        for (int vsh = 0; vsh < V_NSHAPES; vsh++) {
            gen_series(tsh, vsh, 300, ts, vb);
            check_prefixes(ts, vb, 300);
            check_prefixes(ts, vb, 2);
            check_prefixes(ts, vb, 1);
        }
    check_prefixes(ts, vb, 0);
    int64_t t;
    double v;
    osp_dchunk_it it;
    osp_dchunk_it_init(&it, NULL, 0);
    assert_int_equal(osp_dchunk_it_next(&it, &t, &v), OSP_ECORRUPT);
}

/* expect_corrupt: data decodes to OSP_ECORRUPT after exactly `good` samples. */
static void
expect_corrupt(const uint8_t *data, size_t len, size_t good, int line)
{
    int64_t gt[8];
    uint64_t gv[8];
    size_t n;
    int rc = decode_all(data, len, gt, gv, 8, &n);
    if (rc != OSP_ECORRUPT || n != good)
        fail_msg("line %d: rc %d after %zu samples, want OSP_ECORRUPT after %zu", line, rc, n,
                 good);
    assert_int_not_equal(osp_dchunk_decode_range(data, len, INT64_MIN, INT64_MAX, gt, NULL, 8, &n),
                         0);
}
#define EXPECT_CORRUPT(arr, good) expect_corrupt(arr, sizeof(arr), good, __LINE__)

/* patch: a copy of the base chunk with byte at replaced by v. */
static uint8_t *
patch(const uint8_t *base, size_t len, size_t at, uint8_t v)
{
    uint8_t *c = osp_malloc(len);
    memcpy(c, base, len);
    c[at] = v;
    return c;
}

static void
test_corrupt(void **state)
{
    (void)state;
    /* the first worked example of test_layout; index: meaning */
    static const uint8_t ex[] = {
        0xd1, 0x05, 0x09, 0x00, 0xd0, 0x0f, 0x01, 0x03, 0xd0, 0x0f, 0x00, 0x0e, 0x02, 0x01,
        0x01, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x7f, 0x1e, 0x0a, 0x00, 0x02,
    };
    static const struct {
        size_t at;
        uint8_t v;
        size_t good;
    } flips[] = {
        {0, 0xd0, 0},  /* format byte */
        {0, 0x00, 0},  /* an XOR chunk's first byte */
        {2, 0x7f, 0},  /* time section longer than the data */
        {3, 0x02, 0},  /* unknown time mode */
        {6, 0x00, 0},  /* multiplier 0 */
        {7, 0x41, 1},  /* width 65 */
        {7, 0x7e, 1},  /* width 126 */
        {7, 0xff, 1},  /* repeat with the patch bit */
        {12, 0x04, 0}, /* unknown value mode */
        {13, 0x17, 0}, /* exponent 23 */
        {14, 0x06, 0}, /* more exceptions than samples */
        {14, 0x02, 0}, /* second exception record: index 35 */
        {15, 0x05, 0}, /* exception index 5 of 5 */
        {25, 0x00, 0}, /* value multiplier 0 */
        {26, 0x41, 1}, /* value width 65 */
    };
    for (size_t k = 0; k < sizeof(flips) / sizeof(flips[0]); k++) {
        uint8_t *c = patch(ex, sizeof(ex), flips[k].at, flips[k].v);
        expect_corrupt(c, sizeof(ex), flips[k].good, (int)k);
        osp_free(c);
    }

    /* A minimal chunk: t = 1, 2 (delta 1: w=0 block with base 1); values 0.0. */
    static const uint8_t ok[] = {0xd1, 0x02, 0x05, 0x00, 0x02, 0x01, 0x00,
                                 0x02, 0x01, 0x00, 0x00, 0x01, 0x7f};
    int64_t okt[] = {1, 2};
    uint64_t okv[] = {0, 0};
    expect_samples(ok, sizeof(ok), okt, okv, 2);
    /* delta 0 (repeat of the initial w=0 base=0): t does not increase */
    static const uint8_t zero_delta[] = {0xd1, 0x02, 0x04, 0x00, 0x02, 0x01,
                                         0x7f, 0x01, 0x00, 0x00, 0x01, 0x7f};
    EXPECT_CORRUPT(zero_delta, 1);
    /* a delta that wraps t backwards: base -1 */
    static const uint8_t back[] = {0xd1, 0x02, 0x05, 0x00, 0x02, 0x01, 0x00,
                                   0x01, 0x01, 0x00, 0x00, 0x01, 0x7f};
    EXPECT_CORRUPT(back, 1);
    /* overlong varints: the count, t0 */
    static const uint8_t long_n[] = {0xd1, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    EXPECT_CORRUPT(long_n, 0);
    static const uint8_t big_n[] = {0xd1, 0x80, 0x80, 0x04, 0x00}; /* 65536 */
    EXPECT_CORRUPT(big_n, 0);
    static const uint8_t long_t0[] = {0xd1, 0x01, 0x0c, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0x02, 0x01, 0x01, 0x00, 0x00, 0x01};
    EXPECT_CORRUPT(long_t0, 0);

    /* Patches: values lane w=0 base 0 with one patch at index 1 of value 3
     * (zz 6, 4 bits): values 0.0 and 3.0. */
    static const uint8_t pt[] = {0xd1, 0x02, 0x05, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01,
                                 0x00, 0x00, 0x01, 0x80, 0x00, 0x01, 0x04, 0x01, 0x06};
    uint64_t ptv[] = {0, bits_of(3.0)};
    expect_samples(pt, sizeof(pt), okt, ptv, 2);
    static const struct {
        size_t at;
        uint8_t v;
        size_t good;
    } pflips[] = {
        {14, 0x00, 0}, /* no patches with the patch bit */
        {14, 0x03, 0}, /* more patches than entries */
        {15, 0x00, 0}, /* patch width 0 */
        {15, 0x41, 0}, /* patch width 65 */
        {16, 0x02, 0}, /* patch index past the block */
    };
    /* more patches than entries, with the bytes for them */
    static const uint8_t pmany[] = {0xd1, 0x02, 0x05, 0x00, 0x02, 0x01, 0x00, 0x02,
                                    0x01, 0x00, 0x00, 0x01, 0x80, 0x00, 0x03, 0x04,
                                    0x00, 0x16, 0x00, 0x00, 0x00, 0x00};
    EXPECT_CORRUPT(pmany, 0);
    for (size_t k = 0; k < sizeof(pflips) / sizeof(pflips[0]); k++) {
        uint8_t *c = patch(pt, sizeof(pt), pflips[k].at, pflips[k].v);
        expect_corrupt(c, sizeof(pt), pflips[k].good, 100 + (int)k);
        osp_free(c);
    }
    /* two patches (4-bit values) at indices 1 then 0: not increasing */
    static const uint8_t pdec[] = {0xd1, 0x02, 0x05, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
                                   0x00, 0x01, 0x80, 0x00, 0x02, 0x04, 0x01, 0x06, 0x00, 0x00};
    EXPECT_CORRUPT(pdec, 1);
    /* ... and 0 then 0 */
    static const uint8_t pdup[] = {0xd1, 0x02, 0x05, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
                                   0x00, 0x01, 0x80, 0x00, 0x02, 0x04, 0x00, 0x06, 0x00, 0x00};
    EXPECT_CORRUPT(pdup, 0);
    /* a block whose bits are missing: w=8 needs two bytes for two entries */
    static const uint8_t short_blk[] = {0xd1, 0x02, 0x05, 0x00, 0x02, 0x01, 0x00, 0x02,
                                        0x01, 0x00, 0x00, 0x01, 0x08, 0x00, 0x05};
    EXPECT_CORRUPT(short_blk, 0);

    /* XOR values: v0 = 0 (64 bits), then for v1 '1','0' before any window */
    static const uint8_t xor_nowin[] = {0xd1, 0x02, 0x05, 0x00, 0x02, 0x01, 0x00, 0x02, 0x00,
                                        0,    0,    0,    0,    0,    0,    0,    0,    0x01};
    EXPECT_CORRUPT(xor_nowin, 1);
    /* '1','1', 63 leading zeros, 2 significant bits: 65 bits */
    static const uint8_t xor_wide[] = {0xd1, 0x02, 0x05, 0x00, 0x02, 0x01, 0x00, 0x02, 0x00, 0,
                                       0,    0,    0,    0,    0,    0,    0,    0xff, 0x01};
    EXPECT_CORRUPT(xor_wide, 1);
    /* 62 leading zeros, 2 significant bits 11: v1 = 3 */
    static const uint8_t xor_ok[] = {0xd1, 0x02, 0x05, 0x00, 0x02, 0x01, 0x00, 0x02, 0x00, 0,
                                     0,    0,    0,    0,    0,    0,    0,    0xfb, 0xc1};
    uint64_t xv[] = {0, 3};
    expect_samples(xor_ok, sizeof(xor_ok), okt, xv, 2);
    /* the same with the last bit cut */
    EXPECT_CORRUPT(((const uint8_t[]){0xd1, 0x02, 0x05, 0x00, 0x02, 0x01, 0x00, 0x02, 0x00, 0, 0, 0,
                                      0, 0, 0, 0, 0, 0xfb}),
                   1);

    /* Grid jumps: the hand-built grid chunk of test_layout, then broken. */
    static const uint8_t grid[] = {0xd1, 0x04, 0x0d, 0x01, 0xc8, 0x01, 0xe8, 0x07, 0x01, 0x01, 0xf6,
                                   0x2e, 0x04, 0x01, 0x01, 0x03, 0x01, 0x00, 0x00, 0x01, 0x7f};
    static const struct {
        size_t at;
        uint8_t v;
        size_t good;
    } gflips[] = {
        {8, 0x04, 0},  /* 4 jumps among 3 steps */
        {9, 0x03, 0},  /* jump at index 4 of 4 */
        {2, 0x08, 0},  /* the time section ends inside the jump's varint */
        {12, 0x00, 0}, /* multiplier 0 */
        {11, 0xae, 1}, /* the jump swallows the multiplier; the block ends past the section */
    };
    for (size_t k = 0; k < sizeof(gflips) / sizeof(gflips[0]); k++) {
        uint8_t *c = patch(grid, sizeof(grid), gflips[k].at, gflips[k].v);
        expect_corrupt(c, sizeof(grid), gflips[k].good, 200 + (int)k);
        osp_free(c);
    }

    /* random bit flips of valid chunks: any outcome but a crash, an overread or
     * timestamps that do not increase */
    int64_t ts[300];
    uint64_t vb[300];
    size_t cap = OSP_DCHUNK_MAX_SAMPLES; /* a flipped count may say more */
    int64_t *ot = osp_calloc(cap, sizeof(*ot));
    uint64_t *ovb = osp_calloc(cap, sizeof(*ovb));
    for (int round = 0; round < 600; round++) {
        gen_series(round % T_NSHAPES, round % V_NSHAPES, 300, ts, vb);
        size_t len, n;
        uint8_t *m = encode(ts, vb, 300, &len);
        for (int f = 0; f < 1 + round % 4; f++) {
            size_t pos = 1 + rnd() % (len - 1);
            m[pos] ^= (uint8_t)(1u << (rnd() % 8));
        }
        int rc = decode_all(m, len, ot, ovb, cap, &n);
        assert_true(rc == 0 || rc == OSP_ECORRUPT);
        for (size_t i = 1; i < n; i++)
            assert_true(ot[i] > ot[i - 1]);
        osp_free(m);
    }
    osp_free(ot);
    osp_free(ovb);
}

static void
test_count(void **state)
{
    (void)state;
    size_t n = 77;
    static const uint8_t empty[] = {0xd1, 0x00};
    assert_int_equal(osp_dchunk_count(empty, 2, &n), 0);
    assert_int_equal(n, 0);
    n = 77;
    assert_int_equal(osp_dchunk_count(empty, 1, &n), OSP_ECORRUPT);
    assert_int_equal(osp_dchunk_count(empty, 0, &n), OSP_ECORRUPT);
    assert_int_equal(osp_dchunk_count(NULL, 0, &n), OSP_ECORRUPT);
    /* an XOR chunk is not a dense one */
    static const uint8_t xor_chunk[] = {0x00, 0x00};
    assert_int_equal(osp_dchunk_count(xor_chunk, 2, &n), OSP_ECORRUPT);
    /* 65535 samples need more than a few bytes; 65536 are too many */
    static const uint8_t many[] = {0xd1, 0xff, 0xff, 0x03, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(osp_dchunk_count(many, sizeof(many), &n), OSP_ECORRUPT);
    static const uint8_t too_many[] = {0xd1, 0x80, 0x80, 0x04};
    assert_int_equal(osp_dchunk_count(too_many, sizeof(too_many), &n), OSP_ECORRUPT);
    assert_int_equal(n, 77);
    /* the bound is tight enough to reject a one-byte body, loose enough for
     * the smallest chunks the encoder writes (checked by every round trip) */
    static const uint8_t one[] = {0xd1, 0x01, 0x00};
    assert_int_equal(osp_dchunk_count(one, sizeof(one), &n), OSP_ECORRUPT);
    int64_t ts[2000];
    uint64_t vb[2000];
    gen_series(T_1S, V_CONST, 2000, ts, vb);
    size_t len;
    uint8_t *c = encode(ts, vb, 2000, &len);
    assert_int_equal(osp_dchunk_count(c, len, &n), 0);
    assert_int_equal(n, 2000);
    assert_true(len < 40);
    osp_free(c);
}

/* longest_fit: the longest prefix whose chunk fits max_bytes, by bisection
 * (exact where sizes grow with the prefix, as they do here). */
static size_t
longest_fit(const int64_t *ts, const uint64_t *vb, size_t n, size_t max_bytes)
{
    size_t lo = 0, hi = n + 1; /* lo fits (or is 0), hi does not (or is n + 1) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2, len;
        uint8_t *c = encode(ts, vb, mid, &len);
        osp_free(c);
        if (len <= max_bytes)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static void
test_encode_fit(void **state)
{
    (void)state;
    size_t n = 6000;
    int64_t *ts = osp_calloc(n, sizeof(*ts));
    uint64_t *vb = osp_calloc(n, sizeof(*vb));
    double *vs = osp_calloc(n, sizeof(*vs));
    static const int shapes[][2] = {{T_JITTER, V_FLEET},   {T_1S, V_CONST},     {T_LATE, V_GAUGE2},
                                    {T_GAPS, V_STALE_MID}, {T_RANDOM, V_FLOAT}, {T_HUGE, V_RANDOM}};
    static const size_t budgets[] = {30, 200, 1900, 100000};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        gen_series(shapes[s][0], shapes[s][1], n, ts, vb);
        for (size_t i = 0; i < n; i++)
            vs[i] = dbl(vb[i]);
        for (size_t b = 0; b < sizeof(budgets) / sizeof(budgets[0]); b++) {
            uint8_t *c = NULL;
            size_t len = 0, used = 0;
            int rc = osp_dchunk_encode_fit(ts, vs, n, budgets[b], &c, &len, &used);
            size_t want = longest_fit(ts, vb, n, budgets[b]);
            if (want == 0) {
                assert_int_equal(rc, OSP_ELIMIT);
                assert_null(c);
                continue;
            }
            assert_int_equal(rc, 0);
            assert_true(len <= budgets[b]);
            assert_true(used <= want);
            if (used < want - want / 50 - 1 && len < budgets[b] - budgets[b] / 50)
                fail_msg("shape %zu budget %zu: %zu samples, %zu fit", s, budgets[b], used, want);
            expect_samples(c, len, ts, vb, used);
            osp_free(c);
        }
    }
    /* everything fits: the whole series, as osp_dchunk_encode writes it */
    uint8_t *c, *whole;
    size_t len, wlen, used;
    assert_int_equal(osp_dchunk_encode_fit(ts, vs, 1000, 1 << 20, &c, &len, &used), 0);
    assert_int_equal(osp_dchunk_encode(ts, vs, 1000, &whole, &wlen), 0);
    assert_int_equal(used, 1000);
    assert_int_equal(len, wlen);
    assert_memory_equal(c, whole, len);
    osp_free(c);
    osp_free(whole);
    /* no samples: the empty chunk; more than a chunk holds: at most the limit */
    assert_int_equal(osp_dchunk_encode_fit(ts, vs, 0, 2, &c, &len, &used), 0);
    assert_int_equal(used, 0);
    assert_int_equal(len, 2);
    osp_free(c);
    assert_int_equal(osp_dchunk_encode_fit(ts, vs, 0, 1, &c, &len, &used), OSP_ELIMIT);
    int64_t *lts = osp_calloc(OSP_DCHUNK_MAX_SAMPLES + 10, sizeof(*lts));
    double *lvs = osp_calloc(OSP_DCHUNK_MAX_SAMPLES + 10, sizeof(*lvs));
    for (size_t i = 0; i < OSP_DCHUNK_MAX_SAMPLES + 10; i++)
        lts[i] = (int64_t)i * 1000;
    assert_int_equal(
        osp_dchunk_encode_fit(lts, lvs, OSP_DCHUNK_MAX_SAMPLES + 10, 1 << 20, &c, &len, &used), 0);
    assert_int_equal(used, OSP_DCHUNK_MAX_SAMPLES);
    osp_free(c);
    /* timestamps are checked over all n, not only the prefix that fits */
    lts[OSP_DCHUNK_MAX_SAMPLES + 5] = 0;
    c = NULL;
    assert_int_equal(
        osp_dchunk_encode_fit(lts, lvs, OSP_DCHUNK_MAX_SAMPLES + 10, 100, &c, &len, &used),
        OSP_EINVAL);
    assert_null(c);
    osp_free(lts);
    osp_free(lvs);
    osp_free(ts);
    osp_free(vb);
    osp_free(vs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),           cmocka_unit_test(test_empty_and_one),
        cmocka_unit_test(test_roundtrip_shapes), cmocka_unit_test(test_layout_choice),
        cmocka_unit_test(test_full_chunk),       cmocka_unit_test(test_encode_rejects),
        cmocka_unit_test(test_decode_range),     cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt),          cmocka_unit_test(test_count),
        cmocka_unit_test(test_encode_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
