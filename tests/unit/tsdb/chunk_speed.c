/* chunk_speed.c - encode/decode speed (ns/sample) and size (bytes/sample) of the
 * XOR chunk codec on two typical series; built, not run by ctest (timings are
 * not assertions). Usage: tsdb_chunk_speed [samples-per-chunk] [total-samples]. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osp_chunk.h"
#include "osp_mem.h"
#include "osp_time.h"

static uint64_t rng = 88172645463325252u;

static uint64_t
rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* (a) scrape every 1 s exactly, a counter increasing by 0..4. */
static void
gen_counter(size_t n, int64_t *ts, double *vs)
{
    int64_t t = 1700000000000;
    double c = 1000;
    for (size_t i = 0; i < n; i++) {
        ts[i] = t;
        vs[i] = c;
        t += 1000;
        c += (double)(rnd() % 5);
    }
}

/* (b) every 15 s with +-5 ms jitter, a gauge with 2 decimals wandering around 50. */
static void
gen_gauge(size_t n, int64_t *ts, double *vs)
{
    int64_t base = 1700000000000;
    long cents = 5000;
    for (size_t i = 0; i < n; i++) {
        ts[i] = base + (int64_t)i * 15000 + (int64_t)(rnd() % 11) - 5;
        cents += (long)(rnd() % 201) - 100;
        if (cents < 0)
            cents = -cents;
        vs[i] = (double)cents / 100.0;
    }
}

static void
bench(const char *name, size_t n, size_t per_chunk, int64_t *ts, double *vs)
{
    size_t nchunks = (n + per_chunk - 1) / per_chunk;
    uint8_t **chunks = osp_calloc(nchunks, sizeof(*chunks));
    size_t *lens = osp_calloc(nchunks, sizeof(*lens));
    int64_t *ot = osp_calloc(per_chunk, sizeof(*ot));
    double *ov = osp_calloc(per_chunk, sizeof(*ov));

    /* encode: one appender reused per chunk, as a head series does */
    osp_chunk_app a;
    osp_chunk_app_init(&a);
    int64_t best_enc = INT64_MAX;
    size_t bytes = 0;
    for (int rep = 0; rep < 5; rep++) {
        int64_t t0 = osp_mono_ns();
        for (size_t c = 0; c < nchunks; c++) {
            osp_chunk_app_reset(&a);
            size_t end = (c + 1) * per_chunk < n ? (c + 1) * per_chunk : n;
            for (size_t i = c * per_chunk; i < end; i++)
                if (osp_chunk_app_add(&a, ts[i], vs[i]) != 0)
                    abort();
            if (rep == 0) {
                size_t len;
                const uint8_t *b = osp_chunk_app_bytes(&a, &len);
                chunks[c] = osp_malloc(len);
                memcpy(chunks[c], b, len);
                lens[c] = len;
                bytes += len;
            }
        }
        int64_t dt = osp_mono_ns() - t0;
        if (dt < best_enc)
            best_enc = dt;
    }
    osp_chunk_app_fini(&a);

    /* decode with the iterator, and with decode_range over everything */
    int64_t best_it = INT64_MAX, best_range = INT64_MAX;
    double sum = 0;
    for (int rep = 0; rep < 5; rep++) {
        int64_t t0 = osp_mono_ns();
        size_t k = 0;
        for (size_t c = 0; c < nchunks; c++) {
            osp_chunk_it it;
            osp_chunk_it_init(&it, chunks[c], lens[c]);
            int64_t t;
            double v;
            while (osp_chunk_it_next(&it, &t, &v) == 1) {
                sum += v + (double)(t & 1);
                k++;
            }
        }
        int64_t dt = osp_mono_ns() - t0;
        if (k != n)
            abort();
        if (dt < best_it)
            best_it = dt;

        t0 = osp_mono_ns();
        k = 0;
        for (size_t c = 0; c < nchunks; c++) {
            size_t got;
            if (osp_chunk_decode_range(chunks[c], lens[c], INT64_MIN, INT64_MAX, ot, ov, per_chunk,
                                       &got) != 0)
                abort();
            sum += ov[got - 1];
            k += got;
        }
        dt = osp_mono_ns() - t0;
        if (k != n)
            abort();
        if (dt < best_range)
            best_range = dt;
    }

    /* correctness, outside the timing */
    for (size_t c = 0; c < nchunks; c++) {
        size_t got;
        if (osp_chunk_decode_range(chunks[c], lens[c], INT64_MIN, INT64_MAX, ot, ov, per_chunk,
                                   &got) != 0)
            abort();
        for (size_t i = 0; i < got; i++)
            if (ot[i] != ts[c * per_chunk + i] ||
                memcmp(&ov[i], &vs[c * per_chunk + i], sizeof(double)) != 0)
                abort();
    }

    printf("%-34s %6zu/chunk  %6.3f bytes/sample  encode %6.2f ns/sample  decode it %5.2f "
           "ns/sample  range %5.2f ns/sample  (chk %g)\n",
           name, per_chunk, (double)bytes / (double)n, (double)best_enc / (double)n,
           (double)best_it / (double)n, (double)best_range / (double)n, sum > 0 ? 1.0 : 0.0);
    for (size_t c = 0; c < nchunks; c++)
        osp_free(chunks[c]);
    osp_free(chunks);
    osp_free(lens);
    osp_free(ot);
    osp_free(ov);
}

int
main(int argc, char **argv)
{
    size_t per_chunk = argc > 1 ? strtoul(argv[1], NULL, 10) : 120;
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000000;
    if (per_chunk == 0 || per_chunk > OSP_CHUNK_MAX_SAMPLES || n == 0) {
        fprintf(stderr, "usage: %s [samples-per-chunk 1..65535] [total-samples]\n", argv[0]);
        return 2;
    }
    int64_t *ts = osp_calloc(n, sizeof(*ts));
    double *vs = osp_calloc(n, sizeof(*vs));
    gen_counter(n, ts, vs);
    bench("(a) 1s regular, counter +0..4", n, per_chunk, ts, vs);
    gen_gauge(n, ts, vs);
    bench("(b) 15s +-5ms jitter, gauge x.yz", n, per_chunk, ts, vs);
    osp_free(ts);
    osp_free(vs);
    return 0;
}
