/* chunk_test.c - the XOR chunk codec: Prometheus's byte layout, bit-exact round
 * trips of many series shapes, every delta-of-delta bucket boundary, append
 * rules, truncated and corrupt input, range decoding and resuming a chunk. */
#include "osp_test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osp_chunk.h"
#include "osp_err.h"
#include "osp_mem.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

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

/* decode_all: iterate a heap copy of exactly len bytes (so ASan sees any
 * overread); returns the iterator's final code and the samples in ts/vb. */
static int
decode_all(const uint8_t *data, size_t len, int64_t *ts, uint64_t *vb, size_t cap, size_t *n)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, data, len);
    osp_chunk_it it;
    osp_chunk_it_init(&it, copy, len);
    size_t k = 0;
    int64_t t;
    double v;
    int rc;
    while ((rc = osp_chunk_it_next(&it, &t, &v)) == 1) {
        assert_true(k < cap);
        ts[k] = t;
        vb[k] = bits_of(v);
        k++;
    }
    /* errors and the end are sticky */
    assert_int_equal(osp_chunk_it_next(&it, &t, &v), rc);
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
        assert_int_equal(got_t[i], ts[i]);
        assert_int_equal(got_v[i], vb[i]); /* bitwise: NaN payloads, -0.0 */
    }
    size_t cnt;
    assert_int_equal(osp_chunk_count(data, len, &cnt), 0);
    assert_int_equal(cnt, n);
    osp_free(got_t);
    osp_free(got_v);
}

/* roundtrip: append the series, checking after adds that the bytes so far
 * decode to the prefix (every add when check_prefixes), then the whole. */
static void
roundtrip(const int64_t *ts, const uint64_t *vb, size_t n, int check_prefixes)
{
    osp_chunk_app a;
    osp_chunk_app_init(&a);
    size_t len;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(osp_chunk_app_add(&a, ts[i], dbl(vb[i])), 0);
        if (check_prefixes || i + 1 == n || (i & 1023) == 0) {
            const uint8_t *b = osp_chunk_app_bytes(&a, &len);
            expect_samples(b, len, ts, vb, i + 1);
        }
    }
    assert_int_equal(osp_chunk_app_count(&a), n);
    if (n > 0) {
        assert_int_equal(osp_chunk_app_min_t(&a), ts[0]);
        assert_int_equal(osp_chunk_app_max_t(&a), ts[n - 1]);
    }
    const uint8_t *b = osp_chunk_app_bytes(&a, &len);
    assert_true(osp_chunk_app_mem(&a) >= sizeof(a) + len);

    /* the one-shot encoder writes the same bytes */
    double *vs = osp_calloc(n + 1, sizeof(*vs));
    for (size_t i = 0; i < n; i++)
        vs[i] = dbl(vb[i]);
    uint8_t *enc = NULL;
    size_t enclen = 0;
    assert_int_equal(osp_chunk_encode(ts, vs, n, &enc, &enclen), 0);
    assert_int_equal(enclen, len);
    assert_memory_equal(enc, b, len);
    osp_free(enc);
    osp_free(vs);
    osp_chunk_app_fini(&a);
}

static void
test_prometheus_layout(void **state)
{
    (void)state;
    /* Worked by hand from Prometheus's xorAppender: count 3; varint(1000) = d0 0f;
     * 1.0 raw; uvarint(1000) = e8 07; then '0' (same value), '0' (dod 0), and
     * '11' 00001 001011 11111111111 for 1.0 -> 2.0 (XOR 0x7ff0...: 1 leading zero,
     * 11 significant bits), zero-padded. */
    static const uint8_t want[] = {0x00, 0x03, 0xd0, 0x0f, 0x3f, 0xf0, 0x00, 0x00, 0x00,
                                   0x00, 0x00, 0x00, 0xe8, 0x07, 0x30, 0x97, 0xff, 0xc0};
    osp_chunk_app a;
    osp_chunk_app_init(&a);
    assert_int_equal(osp_chunk_app_add(&a, 1000, 1.0), 0);
    assert_int_equal(osp_chunk_app_add(&a, 2000, 1.0), 0);
    assert_int_equal(osp_chunk_app_add(&a, 3000, 2.0), 0);
    size_t len;
    const uint8_t *b = osp_chunk_app_bytes(&a, &len);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(b, want, sizeof(want));
    osp_chunk_app_fini(&a);

    /* a negative first timestamp is zigzagged: -1 -> 01 */
    osp_chunk_app_init(&a);
    assert_int_equal(osp_chunk_app_add(&a, -1, 0.0), 0);
    b = osp_chunk_app_bytes(&a, &len);
    assert_int_equal(len, 11);
    assert_int_equal(b[1], 1);
    assert_int_equal(b[2], 0x01);
    osp_chunk_app_fini(&a);
}

static void
test_empty_and_one(void **state)
{
    (void)state;
    osp_chunk_app a;
    osp_chunk_app_init(&a);
    size_t len, n = 99;
    const uint8_t *b = osp_chunk_app_bytes(&a, &len);
    assert_int_equal(len, 2);
    assert_int_equal(b[0] | b[1], 0);
    assert_int_equal(osp_chunk_app_count(&a), 0);
    assert_int_equal(osp_chunk_app_min_t(&a), 0);
    assert_int_equal(osp_chunk_app_max_t(&a), 0);
    int64_t t;
    uint64_t v;
    assert_int_equal(decode_all(b, len, &t, &v, 1, &n), 0);
    assert_int_equal(n, 0);

    int64_t ts[] = {INT64_MIN, INT64_MAX, -5, 0, 1700000000000};
    uint64_t vb[] = {0x7ff0000000000002u, bits_of(-0.0), bits_of(INFINITY), 0, 1};
    for (size_t i = 0; i < 5; i++)
        roundtrip(&ts[i], &vb[i], 1, 1);

    /* encode of nothing is the empty chunk */
    uint8_t *enc;
    assert_int_equal(osp_chunk_encode(NULL, NULL, 0, &enc, &len), 0);
    assert_int_equal(len, 2);
    osp_free(enc);
    osp_chunk_app_fini(&a);
}

/* Bits the third sample takes for a delta-of-delta, with an unchanged value ('0'). */
static size_t
dod_cost(int64_t dod)
{
    const int64_t d = INT64_C(1) << 40;
    osp_chunk_app a;
    osp_chunk_app_init(&a);
    int64_t ts[3] = {-d, 0, d + dod};
    uint64_t vb[3] = {bits_of(1.5), bits_of(1.5), bits_of(1.5)};
    assert_int_equal(osp_chunk_app_add(&a, ts[0], 1.5), 0);
    assert_int_equal(osp_chunk_app_add(&a, ts[1], 1.5), 0);
    size_t before = a.nbits;
    assert_int_equal(osp_chunk_app_add(&a, ts[2], 1.5), 0);
    size_t cost = a.nbits - before - 1;
    osp_chunk_app_fini(&a);
    roundtrip(ts, vb, 3, 1);
    return cost;
}

static void
test_dod_buckets(void **state)
{
    (void)state;
    /* Prometheus's buckets hold -(2^(w-1) - 1) .. 2^(w-1): 14, 17, 20 bits. */
    static const struct {
        int64_t dod;
        size_t bits;
    } cases[] = {
        {0, 1},
        {1, 16},
        {-1, 16},
        {8191, 16},
        {8192, 16},
        {8193, 20},
        {-8190, 16},
        {-8191, 16},
        {-8192, 20},
        {65535, 20},
        {65536, 20},
        {65537, 24},
        {-65534, 20},
        {-65535, 20},
        {-65536, 24},
        {524287, 24},
        {524288, 24},
        {524289, 68},
        {-524286, 24},
        {-524287, 24},
        {-524288, 68},
        {INT64_C(1) << 39, 68},
        {-(INT64_C(1) << 39), 68},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t got = dod_cost(cases[i].dod);
        if (got != cases[i].bits)
            fail_msg("dod %lld: %zu bits, want %zu", (long long)cases[i].dod, got, cases[i].bits);
    }

    /* Every boundary +-1 again inside a longer series that alternates them. */
    int64_t ts[64];
    uint64_t vb[64];
    static const int64_t edges[] = {1, 8192, 65536, 524288};
    size_t n = 0;
    int64_t t = 0, d = 10000000;
    ts[n] = t;
    vb[n++] = 0;
    for (size_t e = 0; e < 4; e++) {
        for (int s = -1; s <= 1; s += 2) {
            for (int64_t k = -1; k <= 1; k++) {
                d += s * (edges[e] + k);
                t += d;
                ts[n] = t;
                vb[n] = (uint64_t)n;
                n++;
            }
        }
    }
    roundtrip(ts, vb, n, 1);
}

/* Shapes of random series: how timestamps and values evolve. */
enum { T_REGULAR, T_JITTER, T_GAPS, T_HUGE, T_NEG, T_NSHAPES };
enum { V_COUNTER, V_GAUGE, V_RANDOM, V_SPECIAL, V_FEW, V_CONST, V_NSHAPES };

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
    0x7fefffffffffffffu, /* DBL_MAX */
};

static void
gen_series(int tshape, int vshape, size_t n, int64_t *ts, uint64_t *vb)
{
    int64_t t = tshape == T_NEG ? -(int64_t)(rnd() >> 4) : (int64_t)(rnd() >> 24);
    double c = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t step;
        switch (tshape) {
        case T_REGULAR: step = 15000; break;
        case T_JITTER: step = 15000 + (int64_t)(rnd() % 11) - 5; break;
        case T_GAPS: step = 1 + (int64_t)((rnd() >> (rnd() % 64)) % 100000000); break;
        case T_HUGE: step = 1 + (int64_t)(rnd() >> (4 + rnd() % 60)); break;
        default: step = 1 + (int64_t)(rnd() % 1000000); break;
        }
        if (i > 0) {
            /* leave room for the samples still to come */
            uint64_t room = ((uint64_t)INT64_MAX - (uint64_t)t) / (n - i + 1);
            if ((uint64_t)step > room)
                step = room > 0 ? (int64_t)room : 1;
            t += step;
        }
        ts[i] = t;
        switch (vshape) {
        case V_COUNTER: c += (double)(rnd() % 5); break;
        case V_GAUGE: c = (double)(int64_t)(rnd() % 100000) / 100.0; break;
        case V_RANDOM: c = dbl(rnd()); break;
        case V_SPECIAL: c = dbl(specials[rnd() % (sizeof(specials) / sizeof(specials[0]))]); break;
        case V_FEW: c = (double)(rnd() % 3) * 0.1; break;
        default: c = 42.0; break;
        }
        vb[i] = bits_of(c);
    }
}

static void
test_roundtrip_shapes(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 2, 3, 7, 120, 1000};
    int64_t *ts = osp_calloc(1000, sizeof(*ts));
    uint64_t *vb = osp_calloc(1000, sizeof(*vb));
    for (int tsh = 0; tsh < T_NSHAPES; tsh++)
        for (int vsh = 0; vsh < V_NSHAPES; vsh++)
            for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                gen_series(tsh, vsh, sizes[s], ts, vb);
                roundtrip(ts, vb, sizes[s], sizes[s] <= 120);
            }
    osp_free(ts);
    osp_free(vb);
}

static void
test_extremes(void **state)
{
    (void)state;
    /* the whole int64 range in one step, then steps of 1 and back to huge dods */
    int64_t ts[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX - 2, INT64_MAX - 1, INT64_MAX};
    uint64_t vb[] = {specials[0], specials[4], specials[5], specials[6], specials[0]};
    roundtrip(ts, vb, 5, 1);
    int64_t ts2[] = {INT64_MIN, INT64_MAX};
    roundtrip(ts2, vb, 2, 1);
    int64_t ts3[] = {-3, -2, -1, 0, 1, 2, INT64_MAX};
    uint64_t vb3[] = {specials[4], specials[5], specials[4], specials[5],
                      specials[1], specials[2], specials[3]};
    roundtrip(ts3, vb3, 7, 1);
    /* values needing the full 64-bit window and a '10' reuse of it */
    uint64_t vb4[] = {0, UINT64_MAX, 0, UINT64_MAX, 0x8000000000000001u};
    roundtrip(ts, vb4, 5, 1);
}

static void
test_xor_windows(void **state)
{
    (void)state;
    /* XORs with 31, 32, 33 and 63 leading zeros (the 5-bit field clamps at 31),
     * 0 and 63 trailing zeros, and '10' reuses inside and outside the window. */
    static const uint64_t xors[] = {
        UINT64_C(1) << 32,
        UINT64_C(1) << 31,
        UINT64_C(1) << 30,
        1,
        3,
        UINT64_C(1) << 63,
        UINT64_MAX,
        0x00000000ffffffffu,
        0x0000000180000000u,
        0x0000000100000000u,
        0x7fffffffffffffffu,
        0xfffffffffffffffeu,
        0x0000000080000001u,
        0x00000000c0000000u,
        0x0000000040000000u,
        0x8000000000000001u,
        2,
    };
    size_t n = sizeof(xors) / sizeof(xors[0]);
    int64_t ts[2 * sizeof(xors) / sizeof(xors[0]) + 1];
    uint64_t vb[2 * sizeof(xors) / sizeof(xors[0]) + 1];
    size_t k = 0;
    uint64_t v = 0;
    ts[k] = 0;
    vb[k++] = v;
    for (size_t i = 0; i < n; i++) {
        v ^= xors[i];
        ts[k] = (int64_t)k;
        vb[k++] = v;
    }
    /* the same deltas again, now against whatever window the first pass left */
    for (size_t i = 0; i < n; i++) {
        v ^= xors[n - 1 - i];
        ts[k] = (int64_t)k;
        vb[k++] = v;
    }
    roundtrip(ts, vb, k, 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t pair[2] = {0, xors[i]};
        roundtrip(ts, pair, 2, 1);
    }
}

static void
test_full_chunk(void **state)
{
    (void)state;
    size_t n = OSP_CHUNK_MAX_SAMPLES;
    int64_t *ts = osp_calloc(n, sizeof(*ts));
    uint64_t *vb = osp_calloc(n, sizeof(*vb));
    gen_series(T_JITTER, V_RANDOM, n, ts, vb);
    roundtrip(ts, vb, n, 0);

    osp_chunk_app a;
    osp_chunk_app_init(&a);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(osp_chunk_app_add(&a, ts[i], dbl(vb[i])), 0);
    size_t len, len2;
    const uint8_t *b = osp_chunk_app_bytes(&a, &len);
    uint8_t *before = osp_malloc(len);
    memcpy(before, b, len);
    assert_int_equal(osp_chunk_app_add(&a, ts[n - 1] + 1, 1.0), OSP_ELIMIT);
    b = osp_chunk_app_bytes(&a, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(b, before, len);
    assert_int_equal(b[0], 0xff);
    assert_int_equal(b[1], 0xff);
    osp_free(before);
    osp_chunk_app_fini(&a);

    uint8_t *enc;
    double *vs = osp_calloc(n + 1, sizeof(*vs));
    int64_t *ts2 = osp_calloc(n + 1, sizeof(*ts2));
    for (size_t i = 0; i <= n; i++)
        ts2[i] = (int64_t)i;
    assert_int_equal(osp_chunk_encode(ts2, vs, n + 1, &enc, &len), OSP_ELIMIT);
    osp_free(vs);
    osp_free(ts2);
    osp_free(ts);
    osp_free(vb);
}

static void
test_add_rejects_old(void **state)
{
    (void)state;
    osp_chunk_app a;
    osp_chunk_app_init(&a);
    size_t len;
    for (int64_t t = 1; t <= 3; t++) {
        assert_int_equal(osp_chunk_app_add(&a, t * 1000, (double)t), 0);
        const uint8_t *b = osp_chunk_app_bytes(&a, &len);
        uint8_t snap[64];
        memcpy(snap, b, len);
        size_t snaplen = len;
        assert_int_equal(osp_chunk_app_add(&a, t * 1000, 9.0), OSP_EINVAL);
        assert_int_equal(osp_chunk_app_add(&a, t * 1000 - 1, 9.0), OSP_EINVAL);
        assert_int_equal(osp_chunk_app_add(&a, INT64_MIN, 9.0), OSP_EINVAL);
        b = osp_chunk_app_bytes(&a, &len);
        assert_int_equal(len, snaplen);
        assert_memory_equal(b, snap, len);
        assert_int_equal(osp_chunk_app_count(&a), (size_t)t);
        assert_int_equal(osp_chunk_app_max_t(&a), t * 1000);
    }
    int64_t ts[] = {1000, 2000, 3000, 3001};
    uint64_t vb[] = {bits_of(1), bits_of(2), bits_of(3), bits_of(4)};
    assert_int_equal(osp_chunk_app_add(&a, 3001, 4.0), 0);
    const uint8_t *b = osp_chunk_app_bytes(&a, &len);
    expect_samples(b, len, ts, vb, 4);
    osp_chunk_app_fini(&a);

    uint8_t *enc = NULL;
    double vs[] = {1, 2, 3};
    int64_t bad[] = {5, 5, 6};
    assert_int_equal(osp_chunk_encode(bad, vs, 3, &enc, &len), OSP_EINVAL);
    assert_null(enc);
}

static void
test_reset_reuse(void **state)
{
    (void)state;
    int64_t ts[200];
    uint64_t vb[200];
    gen_series(T_GAPS, V_RANDOM, 200, ts, vb);
    osp_chunk_app a;
    osp_chunk_app_init(&a);
    for (size_t i = 0; i < 200; i++)
        assert_int_equal(osp_chunk_app_add(&a, ts[i], dbl(vb[i])), 0);
    size_t mem = osp_chunk_app_mem(&a), len;
    osp_chunk_app_reset(&a);
    assert_int_equal(osp_chunk_app_count(&a), 0);
    assert_int_equal(osp_chunk_app_mem(&a), mem);
    const uint8_t *b = osp_chunk_app_bytes(&a, &len);
    assert_int_equal(len, 2);
    assert_int_equal(b[0] | b[1], 0);
    /* an older timestamp is fine after a reset, and the bytes match a fresh encode */
    gen_series(T_REGULAR, V_COUNTER, 50, ts, vb);
    for (size_t i = 0; i < 50; i++)
        assert_int_equal(osp_chunk_app_add(&a, ts[i], dbl(vb[i])), 0);
    b = osp_chunk_app_bytes(&a, &len);
    expect_samples(b, len, ts, vb, 50);
    double vs[50];
    for (size_t i = 0; i < 50; i++)
        vs[i] = dbl(vb[i]);
    uint8_t *enc;
    size_t enclen;
    assert_int_equal(osp_chunk_encode(ts, vs, 50, &enc, &enclen), 0);
    assert_int_equal(enclen, len);
    assert_memory_equal(enc, b, len);
    osp_free(enc);
    osp_chunk_app_fini(&a);
}

/* take hands over exactly the bytes the appender held and leaves it empty and
 * reusable: the next chunk encodes as a fresh one. */
static void
test_take(void **state)
{
    (void)state;
    int64_t ts[300];
    uint64_t vb[300];
    gen_series(T_GAPS, V_RANDOM, 300, ts, vb);
    osp_chunk_app a;
    osp_chunk_app_init(&a);
    size_t len, elen;
    uint8_t *e = osp_chunk_app_take(&a, &elen); /* empty: the 2-byte empty chunk */
    assert_int_equal(elen, 2);
    assert_int_equal(e[0] | e[1], 0);
    osp_free(e);
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < 150; i++)
            assert_int_equal(osp_chunk_app_add(&a, ts[round * 150 + i], dbl(vb[round * 150 + i])),
                             0);
        const uint8_t *b = osp_chunk_app_bytes(&a, &len);
        uint8_t *copy = osp_malloc(len);
        memcpy(copy, b, len);
        uint8_t *t = osp_chunk_app_take(&a, &elen);
        assert_int_equal(elen, len);
        assert_memory_equal(t, copy, len);
        expect_samples(t, len, ts + round * 150, vb + round * 150, 150);
        assert_int_equal(osp_chunk_app_count(&a), 0);
        assert_int_equal(osp_chunk_app_mem(&a), sizeof(a));
        osp_free(t);
        osp_free(copy);
    }
    osp_chunk_app_fini(&a);
}

/* Every strict prefix of a chunk (its header still saying n) must end in
 * OSP_ECORRUPT after at most the samples it holds, never in a crash. */
static void
check_prefixes(const int64_t *ts, const uint64_t *vb, size_t n)
{
    osp_chunk_app a;
    osp_chunk_app_init(&a);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(osp_chunk_app_add(&a, ts[i], dbl(vb[i])), 0);
    size_t len;
    const uint8_t *b = osp_chunk_app_bytes(&a, &len);
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
            assert_int_equal(osp_chunk_count(b, cut, &cnt), OSP_ECORRUPT);
        assert_int_not_equal(
            osp_chunk_decode_range(b, cut, INT64_MIN, INT64_MAX, gt, NULL, n + 1, &dn), 0);
    }
    osp_free(gt);
    osp_free(gv);
    osp_chunk_app_fini(&a);
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
    osp_chunk_it it;
    osp_chunk_it_init(&it, NULL, 0);
    assert_int_equal(osp_chunk_it_next(&it, &t, &v), OSP_ECORRUPT);
}

static void
test_corrupt(void **state)
{
    (void)state;
    /* header claims more samples than the bytes can hold */
    static const uint8_t big[] = {0xff, 0xff, 0x00, 0x00};
    size_t n;
    assert_int_equal(osp_chunk_count(big, sizeof(big), &n), OSP_ECORRUPT);
    /* overlong first varint (11 continuation bytes) */
    uint8_t ov[24] = {0x00, 0x01};
    memset(ov + 2, 0x80, 11);
    int64_t gt[4];
    uint64_t gv[4];
    assert_int_equal(decode_all(ov, sizeof(ov), gt, gv, 4, &n), OSP_ECORRUPT);
    /* a 10th varint byte above 1 overflows 64 bits */
    memset(ov + 2, 0xff, 9);
    ov[11] = 0x02;
    assert_int_equal(decode_all(ov, sizeof(ov), gt, gv, 4, &n), OSP_ECORRUPT);
    ov[11] = 0x01; /* the largest uvarint: zigzag -> INT64_MIN */
    assert_int_equal(decode_all(ov, sizeof(ov), gt, gv, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(gt[0], INT64_MIN);
    /* second sample not after the first (delta 0) */
    static const uint8_t zero_delta[] = {0x00, 0x02, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00};
    assert_int_equal(decode_all(zero_delta, sizeof(zero_delta), gt, gv, 4, &n), OSP_ECORRUPT);
    assert_int_equal(n, 1);
    /* XOR window with leading + significant bits > 64: '11' 11111 (31) 111000 (56) */
    static const uint8_t window[] = {0x00, 0x02, 0x02, 0,    0,    0,    0,    0,    0,    0,
                                     0,    0x01, 0xff, 0xc2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(decode_all(window, sizeof(window), gt, gv, 4, &n), OSP_ECORRUPT);
    /* leading 31 + 34 significant bits is one too many ('11' 11111 100010),
     * 31 + 33 is fine ('11' 11111 100001, then 33 one bits) */
    uint8_t edge[] = {0x00, 0x02, 0x02, 0,    0,    0,    0,    0,    0,
                      0,    0,    0x01, 0xff, 0x17, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(decode_all(edge, sizeof(edge), gt, gv, 4, &n), OSP_ECORRUPT);
    assert_int_equal(n, 1);
    edge[13] = 0x0f;
    assert_int_equal(decode_all(edge, sizeof(edge), gt, gv, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(gv[1], 0x1ffffffffu);

    /* random bit flips of valid chunks: any outcome but a crash or overread */
    int64_t ts[200];
    uint64_t vb[200];
    int64_t *ot = osp_calloc(201, sizeof(*ot));
    uint64_t *ovb = osp_calloc(201, sizeof(*ovb));
    for (int round = 0; round < 300; round++) {
        gen_series(round % T_NSHAPES, round % V_NSHAPES, 200, ts, vb);
        osp_chunk_app a;
        osp_chunk_app_init(&a);
        for (size_t i = 0; i < 200; i++)
            assert_int_equal(osp_chunk_app_add(&a, ts[i], dbl(vb[i])), 0);
        size_t len;
        const uint8_t *b = osp_chunk_app_bytes(&a, &len);
        uint8_t *m = osp_malloc(len);
        memcpy(m, b, len);
        for (int f = 0; f < 1 + round % 4; f++) {
            size_t pos = 2 + rnd() % (len - 2);
            m[pos] ^= (uint8_t)(1u << (rnd() % 8));
        }
        int rc = decode_all(m, len, ot, ovb, 201, &n);
        assert_true(rc == 0 || rc == OSP_ECORRUPT);
        for (size_t i = 1; i < n; i++)
            assert_true(ot[i] > ot[i - 1]);
        osp_free(m);
        osp_chunk_app_fini(&a);
    }
    osp_free(ot);
    osp_free(ovb);
}

static void
test_decode_range(void **state)
{
    (void)state;
    int64_t ts[100];
    uint64_t vb[100];
    for (size_t i = 0; i < 100; i++) {
        ts[i] = (int64_t)i * 10 - 500; /* -500 .. 490 */
        vb[i] = bits_of((double)i);
    }
    double vs[100];
    for (size_t i = 0; i < 100; i++)
        vs[i] = (double)i;
    uint8_t *c;
    size_t len;
    assert_int_equal(osp_chunk_encode(ts, vs, 100, &c, &len), 0);
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
            osp_chunk_decode_range(c, len, cases[k].mint, cases[k].maxt, ot, ov, 100, &n), 0);
        assert_int_equal(n, cases[k].n);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(ot[i], ts[cases[k].first + i]);
            assert_int_equal(bits_of(ov[i]), vb[cases[k].first + i]);
        }
    }
    size_t n;
    /* exactly enough room, too little room, NULL arrays */
    assert_int_equal(osp_chunk_decode_range(c, len, -5, 25, ot, ov, 3, &n), 0);
    assert_int_equal(n, 3);
    n = 7;
    assert_int_equal(osp_chunk_decode_range(c, len, -5, 25, ot, ov, 2, &n), OSP_ELIMIT);
    assert_int_equal(n, 7);
    assert_int_equal(osp_chunk_decode_range(c, len, INT64_MIN, INT64_MAX, NULL, NULL, 100, &n), 0);
    assert_int_equal(n, 100);
    assert_int_equal(osp_chunk_decode_range(c, len, 0, 100, NULL, ov, 100, &n), 0);
    assert_int_equal(n, 11);
    assert_int_equal(ov[10], 60.0);
    /* samples after maxt are not decoded: a corrupt tail goes unnoticed there */
    assert_int_equal(osp_chunk_decode_range(c, len - 1, INT64_MIN, -400, ot, ov, 100, &n), 0);
    assert_int_equal(n, 11);
    assert_int_equal(osp_chunk_decode_range(c, len - 1, INT64_MIN, 490, ot, ov, 100, &n),
                     OSP_ECORRUPT);
    osp_free(c);
}

static void
test_load_resume(void **state)
{
    (void)state;
    int64_t ts[400];
    uint64_t vb[400];
    static const size_t cuts[] = {0, 1, 2, 3, 17, 399};
    for (int tsh = 0; tsh < T_NSHAPES; tsh++)
        for (int vsh = 0; vsh < V_NSHAPES; vsh++)
            for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
                gen_series(tsh, vsh, 400, ts, vb);
                size_t cut = cuts[c];
                osp_chunk_app a, b, whole;
                osp_chunk_app_init(&a);
                osp_chunk_app_init(&b);
                osp_chunk_app_init(&whole);
                for (size_t i = 0; i < 400; i++) {
                    if (i < cut)
                        assert_int_equal(osp_chunk_app_add(&a, ts[i], dbl(vb[i])), 0);
                    assert_int_equal(osp_chunk_app_add(&whole, ts[i], dbl(vb[i])), 0);
                }
                /* b held an unrelated chunk before: load replaces it */
                assert_int_equal(osp_chunk_app_add(&b, INT64_MAX, 1.0), 0);
                size_t len, wlen;
                const uint8_t *p = osp_chunk_app_bytes(&a, &len);
                assert_int_equal(osp_chunk_app_load(&b, p, len), 0);
                assert_int_equal(osp_chunk_app_count(&b), cut);
                if (cut > 0) {
                    assert_int_equal(osp_chunk_app_min_t(&b), ts[0]);
                    assert_int_equal(osp_chunk_app_max_t(&b), ts[cut - 1]);
                    assert_int_equal(osp_chunk_app_add(&b, ts[cut - 1], 0.0), OSP_EINVAL);
                }
                for (size_t i = cut; i < 400; i++)
                    assert_int_equal(osp_chunk_app_add(&b, ts[i], dbl(vb[i])), 0);
                p = osp_chunk_app_bytes(&b, &len);
                expect_samples(p, len, ts, vb, 400);
                /* same bytes as one appender unless a real 0/0 XOR window was in use */
                const uint8_t *w = osp_chunk_app_bytes(&whole, &wlen);
                if (vsh != V_RANDOM && vsh != V_SPECIAL) {
                    assert_int_equal(len, wlen);
                    assert_memory_equal(p, w, len);
                }
                osp_chunk_app_fini(&a);
                osp_chunk_app_fini(&b);
                osp_chunk_app_fini(&whole);
            }

    /* padding bits after the last sample need not be zero in what is loaded */
    {
        int64_t pts[] = {10, 20, 31};
        uint64_t pvb[] = {bits_of(1.0), bits_of(1.0), bits_of(2.0)};
        osp_chunk_app a, b;
        osp_chunk_app_init(&a);
        osp_chunk_app_init(&b);
        for (size_t i = 0; i < 2; i++)
            assert_int_equal(osp_chunk_app_add(&a, pts[i], dbl(pvb[i])), 0);
        size_t len;
        const uint8_t *p = osp_chunk_app_bytes(&a, &len);
        uint8_t junk[32];
        memcpy(junk, p, len);
        unsigned used = a.nbits & 7;
        assert_true(used != 0);
        junk[len - 1] |= (uint8_t)(0xffu >> used);
        assert_int_equal(osp_chunk_app_load(&b, junk, len), 0);
        assert_int_equal(osp_chunk_app_add(&b, pts[2], dbl(pvb[2])), 0);
        p = osp_chunk_app_bytes(&b, &len);
        expect_samples(p, len, pts, pvb, 3);
        osp_chunk_app_fini(&a);
        osp_chunk_app_fini(&b);
    }

    /* a corrupt chunk leaves the appender empty */
    osp_chunk_app a;
    osp_chunk_app_init(&a);
    static const uint8_t bad[] = {0x00, 0x05, 0x02};
    assert_int_equal(osp_chunk_app_add(&a, 5, 1.0), 0);
    assert_int_equal(osp_chunk_app_load(&a, bad, sizeof(bad)), OSP_ECORRUPT);
    assert_int_equal(osp_chunk_app_count(&a), 0);
    assert_int_equal(osp_chunk_app_add(&a, 1, 1.0), 0);
    osp_chunk_app_fini(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prometheus_layout), cmocka_unit_test(test_empty_and_one),
        cmocka_unit_test(test_dod_buckets),       cmocka_unit_test(test_roundtrip_shapes),
        cmocka_unit_test(test_extremes),          cmocka_unit_test(test_xor_windows),
        cmocka_unit_test(test_full_chunk),        cmocka_unit_test(test_add_rejects_old),
        cmocka_unit_test(test_reset_reuse),       cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt),           cmocka_unit_test(test_decode_range),
        cmocka_unit_test(test_load_resume),       cmocka_unit_test(test_take),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
