/* dchunk_fuzz.c - libFuzzer target of the dense chunk codec: every input is decoded
 * as a chunk, as is, and behind the format byte (never a crash, an overread or
 * a timestamp going back), and read as a recipe for a series that must
 * round-trip bit for bit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osp_dchunk.h"
#include "osp_err.h"
#include "osp_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* At most this many samples per recipe, so one input stays fast. */
#define MAX_RECIPE 4096

static const uint64_t specials[] = {
    0x7ff0000000000002u, 0x7ff8000000000000u, 0xfff8000000000001u, 0x7ff0000000000001u,
    0x8000000000000000u, 0x0000000000000000u, 0x7ff0000000000000u, 0xfff0000000000000u,
    0x0000000000000001u, 0x7fefffffffffffffu, 0x43e0000000000000u, 0xc3e0000000000000u,
};

static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                             1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                             1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23};

typedef struct src {
    const uint8_t *p;
    size_t n;
} src;

static uint64_t
take(src *s, unsigned nbytes)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < nbytes; i++) {
        x = x << 8 | (s->n > 0 ? *s->p : 0);
        if (s->n > 0) {
            s->p++;
            s->n--;
        }
    }
    return x;
}

static uint64_t
bits_of(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

static double
dbl(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

/* The input as a chunk: iterate, count, decode everything and a range. */
static void
as_chunk(const uint8_t *buf, size_t size)
{
    osp_dchunk_it it;
    osp_dchunk_it_init(&it, buf, size);
    int64_t t, last = INT64_MIN, mid = 0;
    double v;
    size_t k = 0;
    int rc;
    while ((rc = osp_dchunk_it_next(&it, &t, &v)) == 1) {
        if (k > 0 && t <= last)
            abort();
        if (k == 0 || k % 7 == 3)
            mid = t;
        last = t;
        k++;
    }
    if ((rc != 0 && rc != OSP_ECORRUPT) || osp_dchunk_it_next(&it, &t, &v) != rc)
        abort();
    size_t cnt;
    int cr = osp_dchunk_count(buf, size, &cnt);
    if (rc == 0 && cr != 0)
        abort(); /* osp_dchunk_count's size check must accept every valid chunk */
    if (cr == 0) {
        if (cnt > OSP_DCHUNK_MAX_SAMPLES || (rc == 0 && cnt != k))
            abort();
        int64_t *ts = osp_calloc(cnt + 1, sizeof(*ts));
        double *vs = osp_calloc(cnt + 1, sizeof(*vs));
        size_t got;
        int r = osp_dchunk_decode_range(buf, size, INT64_MIN, INT64_MAX, ts, vs, cnt, &got);
        if (r != rc || (r == 0 && got != k))
            abort();
        /* a range up to a sample seen and followed by a good one: exactly the
         * samples up to it, even when the chunk is corrupt further on */
        if (k > 0 && (rc == 0 || mid != last)) {
            size_t want = 0;
            osp_dchunk_it_init(&it, buf, size);
            while (osp_dchunk_it_next(&it, &t, &v) == 1 && t <= mid)
                want++;
            if (osp_dchunk_decode_range(buf, size, INT64_MIN, mid, ts, NULL, cnt, &got) != 0 ||
                got != want || ts[got - 1] != mid)
                abort();
        }
        osp_free(ts);
        osp_free(vs);
    }
}

/* The input as a recipe: a start time and step, then per sample one op byte
 * choosing how the time step and the value change, followed by the bytes they
 * need. Values lean towards what the encoder's layouts look for: decimals,
 * counters, repeated steps, special values. */
static void
as_recipe(const uint8_t *data, size_t size)
{
    src s = {data, size};
    int64_t *ts = osp_calloc(MAX_RECIPE, sizeof(*ts));
    double *vs = osp_calloc(MAX_RECIPE, sizeof(*vs));
    int64_t t = (int64_t)take(&s, 8);
    uint64_t step = 1 + take(&s, 2), v = 0, grid = step;
    int64_t m = 0;
    unsigned e = 0;
    size_t n = 0;
    while (n < MAX_RECIPE && (n == 0 || s.n > 0)) {
        unsigned op = (unsigned)take(&s, 1);
        if (n > 0) {
            switch (op & 7) {
            case 0: step = grid; break; /* on the grid */
            case 1: step = grid + (uint64_t)(int64_t)(int8_t)take(&s, 1); break;
            case 2: step += (uint64_t)(int64_t)(int16_t)take(&s, 2); break;
            case 3: step = grid * (1 + take(&s, 1) % 4) + take(&s, 1) % 8; break;
            case 4: step = take(&s, 4); break;
            case 5: step = take(&s, 8); break;
            case 6: grid = 1 + take(&s, 3); break;
            default: break; /* the same step again */
            }
            /* keep 1 <= step <= INT64_MAX - t, i.e. t strictly increasing */
            uint64_t room = (uint64_t)INT64_MAX - (uint64_t)t, st = step;
            if (room == 0)
                break;
            if (st == 0 || st > room)
                st = 1 + st % room;
            t = (int64_t)((uint64_t)t + st);
        }
        switch ((op >> 3) & 7) {
        case 0: break; /* the same value */
        case 1:        /* a counter or decimal: m moves, e stays */
            m = (int64_t)((uint64_t)m + (uint64_t)(int64_t)(int8_t)take(&s, 1));
            v = bits_of((double)m / p10[e]);
            break;
        case 2: /* a new decimal scale */
            e = (unsigned)(take(&s, 1) % 24);
            m = (int16_t)take(&s, 2);
            v = bits_of((double)m / p10[e]);
            break;
        case 3: v = take(&s, 8); break;
        case 4: v = specials[take(&s, 1) % (sizeof(specials) / sizeof(specials[0]))]; break;
        case 5: /* a big decimal */
            m = (int64_t)take(&s, 8);
            v = bits_of((double)m / p10[e]);
            break;
        case 6: v ^= UINT64_C(1) << (take(&s, 1) % 64); break;
        default: v = bits_of(dbl(v) * 4096.0); break;
        }
        ts[n] = t;
        vs[n] = dbl(v);
        n++;
    }

    uint8_t *enc;
    size_t len;
    if (osp_dchunk_encode(ts, vs, n, &enc, &len) != 0)
        abort();
    /* decode from an exact-size copy, so reading past it is caught */
    uint8_t *copy = malloc(len);
    if (copy == NULL)
        abort();
    memcpy(copy, enc, len);
    int64_t *ot = osp_calloc(n + 1, sizeof(*ot));
    double *ov = osp_calloc(n + 1, sizeof(*ov));
    size_t got, cnt;
    if (osp_dchunk_count(copy, len, &cnt) != 0 || cnt != n)
        abort();
    if (osp_dchunk_decode_range(copy, len, INT64_MIN, INT64_MAX, ot, ov, n, &got) != 0 || got != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if (ot[i] != ts[i] || bits_of(ov[i]) != bits_of(vs[i]))
            abort();
    /* a range from the recipe's own timestamps */
    size_t lo = (size_t)(data[0] % n), hi = (size_t)(data[size - 1] % n);
    if (osp_dchunk_decode_range(copy, len, ts[lo], ts[hi], ot, ov, n, &got) != 0 ||
        got != (hi >= lo ? hi - lo + 1 : 0) || (got > 0 && ot[0] != ts[lo]))
        abort();
    free(copy);
    /* every strict prefix is reported as corrupt */
    for (size_t cut = 0; cut < len && cut < 64; cut++) {
        size_t c = len - 1 - cut;
        copy = malloc(c ? c : 1);
        if (copy == NULL)
            abort();
        memcpy(copy, enc, c);
        if (osp_dchunk_decode_range(copy, c, INT64_MIN, INT64_MAX, ot, ov, n, &got) != OSP_ECORRUPT)
            abort();
        free(copy);
    }
    osp_free(enc);
    osp_free(ot);
    osp_free(ov);
    osp_free(ts);
    osp_free(vs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Heap copies of exactly the bytes decoded: reading past them is caught. */
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    if (size > 0)
        memcpy(buf, data, size);
    as_chunk(size > 0 ? buf : NULL, size);
    free(buf);
    buf = malloc(size + 1);
    if (buf == NULL)
        return 0;
    buf[0] = OSP_DCHUNK_FORMAT_V1;
    if (size > 0)
        memcpy(buf + 1, data, size);
    as_chunk(buf, size + 1);
    free(buf);
    if (size > 0)
        as_recipe(data, size);
    return 0;
}
