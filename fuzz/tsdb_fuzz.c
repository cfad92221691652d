/* tsdb_fuzz.c - libFuzzer target of the XOR chunk codec: every input is decoded
 * as a chunk (never a crash or an overread), resumed with an extra sample, and
 * also read as a recipe for a sample series that must round-trip bit for bit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osp_chunk.h"
#include "osp_err.h"
#include "osp_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* At most this many samples per recipe, so one input stays fast. */
#define MAX_RECIPE 4096

static const uint64_t specials[] = {
    0x7ff0000000000002u, 0x7ff8000000000000u, 0xfff8000000000001u, 0x7ff0000000000001u,
    0x8000000000000000u, 0x0000000000000000u, 0x7ff0000000000000u, 0xfff0000000000000u,
    0x0000000000000001u, 0x7fefffffffffffffu,
};

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

/* The input as a chunk: iterate, count, decode a range, resume and extend. */
static void
as_chunk(const uint8_t *buf, size_t size)
{
    osp_chunk_it it;
    osp_chunk_it_init(&it, buf, size);
    int64_t t, last = INT64_MIN;
    double v;
    size_t k = 0;
    int rc;
    while ((rc = osp_chunk_it_next(&it, &t, &v)) == 1) {
        if (k > 0 && t <= last)
            abort();
        last = t;
        k++;
    }
    if (rc != 0 && rc != OSP_ECORRUPT)
        abort();
    size_t cnt;
    int cr = osp_chunk_count(buf, size, &cnt);
    if (rc == 0 && cr != 0)
        abort(); /* osp_chunk_count's size check must accept every valid chunk */
    if (cr == 0) {
        if (rc == 0 && cnt != k)
            abort();
        int64_t *ts = osp_calloc(cnt + 1, sizeof(*ts));
        double *vs = osp_calloc(cnt + 1, sizeof(*vs));
        size_t got;
        int r = osp_chunk_decode_range(buf, size, INT64_MIN, INT64_MAX, ts, vs, cnt, &got);
        if (r != rc || (r == 0 && got != k))
            abort();
        osp_free(ts);
        osp_free(vs);
    }

    osp_chunk_app a;
    osp_chunk_app_init(&a);
    int lr = osp_chunk_app_load(&a, buf, size);
    if (lr != rc || (lr == 0 && osp_chunk_app_count(&a) != k))
        abort();
    if (lr == 0 && k < OSP_CHUNK_MAX_SAMPLES && (k == 0 || last < INT64_MAX)) {
        int64_t nt = k == 0 ? 0 : last + 1;
        if (osp_chunk_app_add(&a, nt, -0.0) != 0)
            abort();
        size_t len;
        const uint8_t *b = osp_chunk_app_bytes(&a, &len);
        osp_chunk_it it2;
        osp_chunk_it_init(&it, buf, size);
        osp_chunk_it_init(&it2, b, len);
        int64_t t2;
        double v2;
        for (size_t i = 0; i < k; i++) {
            if (osp_chunk_it_next(&it, &t, &v) != 1 || osp_chunk_it_next(&it2, &t2, &v2) != 1 ||
                t != t2 || bits_of(v) != bits_of(v2))
                abort();
        }
        if (osp_chunk_it_next(&it2, &t2, &v2) != 1 || t2 != nt || bits_of(v2) != bits_of(-0.0) ||
            osp_chunk_it_next(&it2, &t2, &v2) != 0)
            abort();
    }
    osp_chunk_app_fini(&a);
}

/* The input as a recipe: a start time, then per sample one op byte choosing how
 * the time step and the value change, followed by the bytes they need. */
static void
as_recipe(const uint8_t *data, size_t size)
{
    src s = {data, size};
    int64_t *ts = osp_calloc(MAX_RECIPE, sizeof(*ts));
    double *vs = osp_calloc(MAX_RECIPE, sizeof(*vs));
    int64_t t = (int64_t)take(&s, 8);
    uint64_t step = 1 + take(&s, 2), v = 0;
    size_t n = 0;
    while (n < MAX_RECIPE && (n == 0 || s.n > 0)) {
        unsigned op = (unsigned)take(&s, 1);
        if (n > 0) {
            switch (op & 7) {
            case 0: break; /* same step: dod 0 */
            case 1: step += (uint64_t)(int64_t)(int8_t)take(&s, 1); break;
            case 2: step += (uint64_t)(int64_t)(int16_t)take(&s, 2); break;
            case 3: step = take(&s, 3); break;
            case 4: step = take(&s, 4); break;
            case 5: step = take(&s, 8); break;
            case 6: step ^= UINT64_C(1) << (take(&s, 1) % 64); break;
            default: step = 1; break;
            }
            /* keep 1 <= step <= INT64_MAX - t, i.e. t strictly increasing */
            uint64_t room = (uint64_t)INT64_MAX - (uint64_t)t;
            if (room == 0)
                break;
            if (step == 0 || step > room)
                step = 1 + step % room;
            t = (int64_t)((uint64_t)t + step);
        }
        switch ((op >> 3) & 7) {
        case 0: break;
        case 1: v = bits_of(dbl(v) + (double)(int8_t)take(&s, 1)); break;
        case 2: v = bits_of((double)(int16_t)take(&s, 2) / 100.0); break;
        case 3: v = take(&s, 8); break;
        case 4: v = specials[take(&s, 1) % (sizeof(specials) / sizeof(specials[0]))]; break;
        case 5: v ^= take(&s, 1) << (op >> 6) * 16; break;
        case 6: v ^= UINT64_C(1) << (take(&s, 1) % 64); break;
        default: v = ~v; break;
        }
        ts[n] = t;
        vs[n] = dbl(v);
        n++;
    }

    uint8_t *enc;
    size_t len;
    if (osp_chunk_encode(ts, vs, n, &enc, &len) != 0)
        abort();
    int64_t *ot = osp_calloc(n + 1, sizeof(*ot));
    double *ov = osp_calloc(n + 1, sizeof(*ov));
    size_t got;
    if (osp_chunk_decode_range(enc, len, INT64_MIN, INT64_MAX, ot, ov, n, &got) != 0 || got != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if (ot[i] != ts[i] || bits_of(ov[i]) != bits_of(vs[i]))
            abort();
    /* a range from the recipe's own timestamps */
    if (n > 0) {
        size_t lo = (size_t)(data[0] % n), hi = (size_t)(data[size - 1] % n);
        if (osp_chunk_decode_range(enc, len, ts[lo], ts[hi], ot, ov, n, &got) != 0 ||
            got != (hi >= lo ? hi - lo + 1 : 0) || (got > 0 && ot[0] != ts[lo]))
            abort();
    }
    /* every strict prefix is reported as corrupt */
    for (size_t cut = 0; cut < len && cut < 64; cut++) {
        size_t c = len - 1 - cut;
        if (osp_chunk_decode_range(enc, c, INT64_MIN, INT64_MAX, ot, ov, n, &got) != OSP_ECORRUPT)
            abort();
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
    /* A heap copy of exactly size bytes: reading past it is caught. */
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    if (size > 0)
        memcpy(buf, data, size);
    as_chunk(size > 0 ? buf : NULL, size);
    if (size > 0)
        as_recipe(buf, size);
    free(buf);
    return 0;
}
