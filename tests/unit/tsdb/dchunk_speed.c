/* dchunk_speed.c - size (bytes/sample) and encode/decode speed (ns/sample) of the
 * XOR chunk codec against the dense one on series shapes, the benchmark fleet's
 * among them; built, not run by ctest (timings are not assertions).
 * Usage: tsdb_dchunk_speed [samples-per-dense-chunk] [samples-per-shape]. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osp_chunk.h"
#include "osp_dchunk.h"
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

/* A data set: nser series of len samples each, stored one after the other. */
typedef struct dataset {
    const char *name;
    size_t nser, len;
    int64_t *ts;
    double *vs;
} dataset;

static void
ds_alloc(dataset *d, const char *name, size_t nser, size_t len)
{
    d->name = name;
    d->nser = nser;
    d->len = len;
    d->ts = osp_calloc(nser * len, sizeof(*d->ts));
    d->vs = osp_calloc(nser * len, sizeof(*d->vs));
}

static void
ds_free(dataset *d)
{
    osp_free(d->ts);
    osp_free(d->vs);
}

/* ---- shapes -------------------------------------------------------------- */

enum { J_ALIGNED, J_JITTER, J_LATE };

/* Timestamps every interval ms: on the schedule, +-8 ms around it, or 1..8 ms
 * after it (the collector's timestamp is the time it started the scrape). */
static void
gen_times(int64_t *ts, size_t n, int64_t interval, int jitter)
{
    int64_t base = 1700000000000 + (int64_t)(rnd() % (uint64_t)interval);
    for (size_t i = 0; i < n; i++) {
        int64_t j = 0;
        if (jitter == J_JITTER)
            j = (int64_t)(rnd() % 17) - 8;
        else if (jitter == J_LATE)
            j = 1 + (int64_t)(rnd() % 8);
        ts[i] = base + (int64_t)i * interval + j;
    }
}

/* The benchmark fleet (bench/fleet.c): every value is a function of the
 * target's request counter r, which three scrapers (Prometheus, VictoriaMetrics,
 * Osprey) each advance once a second, so one of them sees r grow by 3 per scrape,
 * by 2 then 4 now and then (1 %) when another scraper's request lands on the
 * other side of its own. A page has 70 % counters (steps 1..7), 20 % gauges
 * (two decimals) and 10 % one histogram child (12 cumulative buckets, _sum, _count). */
enum { F_COUNTER, F_GAUGE, F_BUCKET, F_HSUM, F_HCOUNT };

static double
fleet_value(int kind, unsigned step, unsigned seed, uint64_t r)
{
    switch (kind) {
    case F_COUNTER: return (double)(1000 + r * step);
    case F_GAUGE: {
        char buf[48];
        snprintf(buf, sizeof(buf), "%llu.%llu", (unsigned long long)((seed + r * 37) % 5000),
                 (unsigned long long)(10 + (r + seed) % 90));
        return strtod(buf, NULL);
    }
    case F_BUCKET:
    case F_HCOUNT: return (double)(r * step);
    default: {
        char buf[48];
        snprintf(buf, sizeof(buf), "%llu.%llu", (unsigned long long)(r * 3),
                 (unsigned long long)(10 + r % 90));
        return strtod(buf, NULL);
    }
    }
}

static void
gen_fleet_series(int64_t *ts, double *vs, size_t n, int kind, unsigned step, unsigned seed,
                 int jitter)
{
    gen_times(ts, n, 1000, jitter);
    uint64_t r = 1000 + rnd() % 100000;
    int flip = 0;
    for (size_t i = 0; i < n; i++) {
        if (flip) {
            r += 4;
            flip = 0;
        } else if (rnd() % 100 == 0) {
            r += 2;
            flip = 1;
        } else {
            r += 3;
        }
        vs[i] = fleet_value(kind, step, seed, r);
    }
}

/* A fleet page of 100 series: 66 counters, 20 gauges, one histogram child; or
 * 100 series of one kind (only_kind >= 0). */
static void
gen_fleet(dataset *d, const char *name, size_t len, int jitter, int only_kind)
{
    ds_alloc(d, name, 100, len);
    for (size_t s = 0; s < 100; s++) {
        int kind = s < 66 ? F_COUNTER : s < 86 ? F_GAUGE : s < 98 ? F_BUCKET : F_HSUM;
        if (s == 99)
            kind = F_HCOUNT;
        if (only_kind >= 0)
            kind = only_kind;
        /* counters step by 1..7, buckets by their index + 1, _count by 12 */
        unsigned step = kind == F_COUNTER  ? 1 + (unsigned)(s % 7)
                        : kind == F_BUCKET ? 1 + (unsigned)(s % 12)
                        : kind == F_HCOUNT ? 12
                                           : 0;
        unsigned seed = (unsigned)(s * 7919 % 1000);
        gen_fleet_series(d->ts + s * len, d->vs + s * len, len, kind, step, seed, jitter);
    }
}

static void
gen_simple(dataset *d, const char *name, size_t len, int kind)
{
    ds_alloc(d, name, 1, len);
    int64_t *ts = d->ts;
    double *vs = d->vs;
    double c = 1000;
    long cents = 5000, iv = 50;
    switch (kind) {
    case 0: /* (a) of chunk_speed: 1 s regular, counter +0..4 */
        gen_times(ts, len, 1000, J_ALIGNED);
        for (size_t i = 0; i < len; i++) {
            vs[i] = c;
            c += (double)(rnd() % 5);
        }
        break;
    case 1: /* (b) of chunk_speed: 15 s +-5 ms, gauge with two decimals */
        for (size_t i = 0; i < len; i++) {
            ts[i] = 1700000000000 + (int64_t)i * 15000 + (int64_t)(rnd() % 11) - 5;
            cents += (long)(rnd() % 201) - 100;
            if (cents < 0)
                cents = -cents;
            vs[i] = (double)cents / 100.0;
        }
        break;
    case 2: /* 15 s regular, integer gauge random walk */
        gen_times(ts, len, 15000, J_ALIGNED);
        for (size_t i = 0; i < len; i++) {
            iv += (long)(rnd() % 7) - 3;
            vs[i] = (double)iv;
        }
        break;
    case 3: /* 1 s regular, computed floats (non-decimal) */
        gen_times(ts, len, 1000, J_ALIGNED);
        for (size_t i = 0; i < len; i++)
            vs[i] = 100.0 + 10.0 * sin((double)i / 50.0);
        break;
    case 4: /* 1 s regular, random bits (every double, NaNs included) */
        gen_times(ts, len, 1000, J_ALIGNED);
        for (size_t i = 0; i < len; i++) {
            uint64_t b = rnd();
            memcpy(&vs[i], &b, sizeof(b));
        }
        break;
    case 5: /* 1 s +-8 ms, counter above 2^53 */
        gen_times(ts, len, 1000, J_JITTER);
        for (size_t i = 0; i < len; i++)
            vs[i] = 0x1p60 + (double)((uint64_t)i * 8192 + 4096 * (rnd() % 2));
        break;
    default: /* 1 s late 1..8 ms, constant */
        gen_times(ts, len, 1000, J_LATE);
        for (size_t i = 0; i < len; i++)
            vs[i] = 1.0;
        break;
    }
}

/* ---- measuring ----------------------------------------------------------- */

typedef struct result {
    double bps;     /* bytes per sample */
    double enc;     /* ns per sample */
    double dec_it;  /* ns per sample, iterator */
    double dec_rng; /* ns per sample, decode_range */
    size_t maxlen;  /* largest chunk */
} result;

typedef int (*encode_fn)(const int64_t *, const double *, size_t, uint8_t **, size_t *);
typedef int (*range_fn)(const uint8_t *, size_t, int64_t, int64_t, int64_t *, double *, size_t,
                        size_t *);

static double
iterate(int dense, uint8_t **chunks, size_t *lens, size_t nchunks, size_t *k)
{
    double sum = 0;
    int64_t t;
    double v;
    for (size_t c = 0; c < nchunks; c++) {
        if (dense) {
            osp_dchunk_it it;
            osp_dchunk_it_init(&it, chunks[c], lens[c]);
            while (osp_dchunk_it_next(&it, &t, &v) == 1) {
                sum += v + (double)(t & 1);
                (*k)++;
            }
        } else {
            osp_chunk_it it;
            osp_chunk_it_init(&it, chunks[c], lens[c]);
            while (osp_chunk_it_next(&it, &t, &v) == 1) {
                sum += v + (double)(t & 1);
                (*k)++;
            }
        }
    }
    return sum;
}

static result
measure(const dataset *d, int dense, size_t per_chunk)
{
    encode_fn enc = dense ? osp_dchunk_encode : osp_chunk_encode;
    range_fn range = dense ? osp_dchunk_decode_range : osp_chunk_decode_range;
    size_t per_ser = (d->len + per_chunk - 1) / per_chunk, nchunks = per_ser * d->nser;
    size_t total = d->nser * d->len;
    uint8_t **chunks = osp_calloc(nchunks, sizeof(*chunks));
    size_t *lens = osp_calloc(nchunks, sizeof(*lens));
    int64_t *ot = osp_calloc(per_chunk, sizeof(*ot));
    double *ov = osp_calloc(per_chunk, sizeof(*ov));
    result r = {0};
    int64_t best_enc = INT64_MAX, best_it = INT64_MAX, best_rng = INT64_MAX;
    size_t bytes = 0;
    for (int rep = 0; rep < 3; rep++) {
        int64_t t0 = osp_mono_ns();
        for (size_t c = 0; c < nchunks; c++) {
            size_t s = c / per_ser, off = (c % per_ser) * per_chunk;
            size_t n = d->len - off < per_chunk ? d->len - off : per_chunk;
            osp_free(chunks[c]);
            if (enc(d->ts + s * d->len + off, d->vs + s * d->len + off, n, &chunks[c], &lens[c]) !=
                0)
                abort();
        }
        int64_t dt = osp_mono_ns() - t0;
        best_enc = dt < best_enc ? dt : best_enc;
    }
    for (size_t c = 0; c < nchunks; c++) {
        bytes += lens[c];
        r.maxlen = lens[c] > r.maxlen ? lens[c] : r.maxlen;
    }
    double sum = 0;
    for (int rep = 0; rep < 5; rep++) {
        size_t k = 0;
        int64_t t0 = osp_mono_ns();
        sum += iterate(dense, chunks, lens, nchunks, &k);
        int64_t dt = osp_mono_ns() - t0;
        if (k != total)
            abort();
        best_it = dt < best_it ? dt : best_it;
        k = 0;
        t0 = osp_mono_ns();
        for (size_t c = 0; c < nchunks; c++) {
            size_t got;
            if (range(chunks[c], lens[c], INT64_MIN, INT64_MAX, ot, ov, per_chunk, &got) != 0)
                abort();
            sum += ov[got - 1];
            k += got;
        }
        dt = osp_mono_ns() - t0;
        if (k != total)
            abort();
        best_rng = dt < best_rng ? dt : best_rng;
    }
    /* correctness, outside the timing: bit for bit */
    for (size_t c = 0; c < nchunks; c++) {
        size_t s = c / per_ser, off = (c % per_ser) * per_chunk, got;
        if (range(chunks[c], lens[c], INT64_MIN, INT64_MAX, ot, ov, per_chunk, &got) != 0)
            abort();
        for (size_t i = 0; i < got; i++)
            if (ot[i] != d->ts[s * d->len + off + i] ||
                memcmp(&ov[i], &d->vs[s * d->len + off + i], sizeof(double)) != 0)
                abort();
    }
    r.bps = (double)bytes / (double)total;
    r.enc = (double)best_enc / (double)total;
    r.dec_it = (double)best_it / (double)total;
    r.dec_rng = (double)best_rng / (double)total;
    if (sum == 12345.678)
        printf("!");
    for (size_t c = 0; c < nchunks; c++)
        osp_free(chunks[c]);
    osp_free(chunks);
    osp_free(lens);
    osp_free(ot);
    osp_free(ov);
    return r;
}

static void
row(const dataset *d, size_t dense_chunk)
{
    result x120 = measure(d, 0, 120), x = measure(d, 0, dense_chunk);
    result dn = measure(d, 1, dense_chunk);
    printf("| %-34s | %6.3f | %6.3f | %6.3f | %5.1fx | %5.1f / %5.1f | %5.1f / %5.1f | %5.1f / "
           "%5.1f | %5zu |\n",
           d->name, x120.bps, x.bps, dn.bps, x.bps / dn.bps, x.enc, dn.enc, x.dec_it, dn.dec_it,
           x.dec_rng, dn.dec_rng, dn.maxlen);
    fflush(stdout);
}

/* Chunks cut to a byte budget with osp_dchunk_encode_fit, as a compactor
 * would: samples per chunk, bytes per sample and encode cost, search included. */
static void
fit_row(const dataset *d, size_t budget)
{
    size_t chunks = 0, bytes = 0, maxlen = 0;
    int64_t t0 = osp_mono_ns();
    for (size_t s = 0; s < d->nser; s++) {
        size_t off = 0;
        while (off < d->len) {
            uint8_t *c;
            size_t len, used;
            if (osp_dchunk_encode_fit(d->ts + s * d->len + off, d->vs + s * d->len + off,
                                      d->len - off, budget, &c, &len, &used) != 0)
                abort();
            osp_free(c);
            off += used;
            bytes += len;
            maxlen = len > maxlen ? len : maxlen;
            chunks++;
        }
    }
    int64_t dt = osp_mono_ns() - t0;
    size_t total = d->nser * d->len;
    printf("| %-26s | %6zu | %8.0f | %6.3f | %5zu | %6.1f |\n", d->name, budget,
           (double)total / (double)chunks, (double)bytes / (double)total, maxlen,
           (double)dt / (double)total);
    fflush(stdout);
}

int
main(int argc, char **argv)
{
    size_t per_chunk = argc > 1 ? strtoul(argv[1], NULL, 10) : 1200;
    size_t total = argc > 2 ? strtoul(argv[2], NULL, 10) : 1200000;
    if (per_chunk == 0 || per_chunk > OSP_DCHUNK_MAX_SAMPLES || total < 100) {
        fprintf(stderr, "usage: %s [samples-per-dense-chunk 1..65535] [samples-per-shape]\n",
                argv[0]);
        return 2;
    }
    printf("dense chunks of %zu samples; XOR at 120 (head chunks) and at the same size.\n"
           "ns/sample: XOR / dense; the last column is the largest dense chunk in bytes.\n\n",
           per_chunk);
    printf("| shape | XOR 120 B/s | XOR B/s | dense B/s | gain | encode ns | decode it ns | "
           "decode range ns | max B |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    size_t flen = total / 100;
    static const struct {
        const char *name;
        int jitter, kind;
    } fleets[] = {
        {"fleet page, aligned", J_ALIGNED, -1},
        {"fleet page, late 1..8 ms", J_LATE, -1},
        {"fleet page, +-8 ms", J_JITTER, -1},
        {"fleet counters, +-8 ms", J_JITTER, F_COUNTER},
        {"fleet gauges x.yz, +-8 ms", J_JITTER, F_GAUGE},
        {"fleet buckets, +-8 ms", J_JITTER, F_BUCKET},
        {"fleet _sum, +-8 ms", J_JITTER, F_HSUM},
    };
    for (size_t f = 0; f < sizeof(fleets) / sizeof(fleets[0]); f++) {
        dataset d;
        gen_fleet(&d, fleets[f].name, flen, fleets[f].jitter, fleets[f].kind);
        row(&d, per_chunk);
        ds_free(&d);
    }
    printf(
        "\nFleet pages in dense chunks of other sizes (B/s, largest chunk, decode ns/sample):\n\n"
        "| shape | samples/chunk | B/s | max B | decode it ns |\n|---|---:|---:|---:|---:|\n");
    static const size_t sweep[] = {120, 600, 1200, 2400, 3600, 7200};
    for (size_t f = 0; f < 3; f++) {
        dataset d;
        gen_fleet(&d, fleets[f].name, 14400, fleets[f].jitter, fleets[f].kind);
        for (size_t k = 0; k < sizeof(sweep) / sizeof(sweep[0]); k++) {
            result r = measure(&d, 1, sweep[k]);
            printf("| %-26s | %5zu | %6.3f | %5zu | %5.1f |\n", d.name, sweep[k], r.bps, r.maxlen,
                   r.dec_it);
        }
        ds_free(&d);
    }
    printf("\nCut by osp_dchunk_encode_fit to a byte budget (2 h of 1 s samples per series):\n\n"
           "| shape | budget B | samples/chunk | B/s | max B | encode ns/sample |\n"
           "|---|---:|---:|---:|---:|---:|\n");
    for (size_t f = 0; f < 3; f++) {
        dataset d;
        gen_fleet(&d, fleets[f].name, 7200, fleets[f].jitter, fleets[f].kind);
        fit_row(&d, 1900);
        fit_row(&d, 8000);
        ds_free(&d);
    }
    printf("\n");
    static const char *const simple[] = {
        "1 s, counter +0..4",           "15 s +-5 ms, gauge x.yz walk",
        "15 s, integer gauge walk",     "1 s, computed floats (sin)",
        "1 s, random 64-bit patterns",  "1 s +-8 ms, counter > 2^53",
        "1 s late 1..8 ms, constant 1",
    };
    for (int k = 0; k < 7; k++) {
        dataset d;
        gen_simple(&d, simple[k], total, k);
        row(&d, per_chunk);
        ds_free(&d);
    }
    return 0;
}
