/* osp_chunk.h - compressed chunks of time series samples (int64 unix-ms timestamp,
 * double value) in Prometheus's XOR chunk encoding (Gorilla delta-of-delta
 * timestamps, XOR'ed values), byte-compatible with Prometheus's chunkenc. */
#ifndef OSP_CHUNK_H
#define OSP_CHUNK_H

#include <stddef.h>
#include <stdint.h>

/* Most samples one chunk holds: the header counts them in 16 bits. */
#define OSP_CHUNK_MAX_SAMPLES 65535u

/* Layout of an encoded chunk (all bit fields MSB first):
 *   u16 big-endian sample count
 *   sample 0:  t as signed varint (zigzag), v as its raw 64 bits
 *   sample 1:  t - t0 as unsigned varint, v as an XOR field
 *   sample 2+: delta-of-delta of t in a bucket ('0' | '10'+14 | '110'+17 |
 *              '1110'+20 | '1111'+64 bits, two's complement), v as an XOR field
 *   XOR field: '0' same bits as the previous value | '10' + the XOR in the
 *              previous leading/trailing-zero window | '11' + 5 bits leading zeros
 *              + 6 bits significant-bit count (0 means 64) + the significant bits
 * The bits after the last sample up to the byte boundary are zero. */

/* Threads: every function is reentrant and runs on any thread; one appender or
 * iterator must not be used by two threads at once. Encoded bytes are read-only
 * to the decoders, so any number of threads may decode the same chunk. */

/* Appender: builds one chunk in a growable byte buffer. Caller storage; the
 * fields are private. */
typedef struct osp_chunk_app {
    uint8_t *buf;     /* NULL until the first add; bytes past the written bits are 0 */
    size_t cap;       /* bytes allocated in buf */
    size_t nbits;     /* bits written, header included */
    uint32_t n;       /* samples appended */
    uint8_t leading;  /* XOR window of the last '11' field; 0xff: none yet */
    uint8_t trailing; /* trailing zeros of that window */
    int64_t min_t;    /* first timestamp */
    int64_t t;        /* last timestamp */
    uint64_t tdelta;  /* last timestamp delta */
    uint64_t v;       /* bits of the last value */
} osp_chunk_app;

/* osp_chunk_app_init: an empty appender; allocates nothing (the buffer is
 * allocated by the first add). */
void osp_chunk_app_init(osp_chunk_app *a);

/* osp_chunk_app_fini: free the buffer; a must be re-inited before reuse. */
void osp_chunk_app_fini(osp_chunk_app *a);

/* osp_chunk_app_reset: make a empty again, keeping its buffer for the next chunk. */
void osp_chunk_app_reset(osp_chunk_app *a);

/* osp_chunk_app_add: append the sample (t, v); v is stored bit for bit (NaN
 * payloads, -0.0 and infinities round-trip). t must be greater than the last
 * appended timestamp. Returns 0; OSP_EINVAL when t is not greater, OSP_ELIMIT
 * when the chunk already holds OSP_CHUNK_MAX_SAMPLES; on error nothing changes.
 * Allocates only when the buffer grows (geometrically); aborts on OOM. */
int osp_chunk_app_add(osp_chunk_app *a, int64_t t, double v);

/* osp_chunk_app_count: samples appended so far. */
size_t osp_chunk_app_count(const osp_chunk_app *a);

/* osp_chunk_app_min_t: first appended timestamp; 0 when empty. */
int64_t osp_chunk_app_min_t(const osp_chunk_app *a);

/* osp_chunk_app_max_t: last appended timestamp; 0 when empty. */
int64_t osp_chunk_app_max_t(const osp_chunk_app *a);

/* osp_chunk_app_bytes: the encoded chunk of every sample appended so far, a
 * complete chunk at any point (an empty appender gives the 2-byte empty chunk).
 * The bytes stay owned by a and valid until its next add, reset, load or fini.
 * *len receives their length. */
const uint8_t *osp_chunk_app_bytes(const osp_chunk_app *a, size_t *len);

/* osp_chunk_app_take: the encoded chunk (as osp_chunk_app_bytes, *len its
 * length) in a buffer of exactly that size, now the caller's to free; a is
 * left empty, as after init. Cheaper than copying the bytes and resetting. */
uint8_t *osp_chunk_app_take(osp_chunk_app *a, size_t *len);

/* osp_chunk_app_mem: bytes of memory held by the appender, struct included
 * (for head-size metrics). */
size_t osp_chunk_app_mem(const osp_chunk_app *a);

/* osp_chunk_app_load: make a (inited, any state) continue the chunk data[0..len)
 * (copied; e.g. a head chunk read back from disk), so that later adds extend it.
 * Returns 0; OSP_ECORRUPT when data is not a valid chunk, and then a is empty. */
int osp_chunk_app_load(osp_chunk_app *a, const uint8_t *data, size_t len);

/* osp_chunk_encode: encode the n samples ts[i], vs[i] (ts strictly increasing)
 * into a freshly allocated chunk the caller frees with osp_free. Returns 0;
 * OSP_EINVAL when ts is not strictly increasing, OSP_ELIMIT when n exceeds
 * OSP_CHUNK_MAX_SAMPLES; *out and *outlen are written only on success. */
int osp_chunk_encode(const int64_t *ts, const double *vs, size_t n, uint8_t **out, size_t *outlen);

/* Iterator over an encoded chunk whose bytes it borrows (they must outlive it).
 * Caller storage; the fields are private. Reads 64 bits at a time but never
 * past data + len. */
typedef struct osp_chunk_it {
    const uint8_t *p;   /* next unread byte */
    const uint8_t *end; /* data + len */
    uint64_t bits;      /* bit buffer, next bit in the MSB */
    unsigned nbits;     /* valid bits in bits */
    int err;            /* sticky error */
    uint32_t n;         /* samples in the header */
    uint32_t i;         /* samples returned */
    uint8_t leading;    /* current XOR window */
    uint8_t trailing;
    int64_t t;       /* last timestamp */
    uint64_t tdelta; /* last timestamp delta */
    uint64_t v;      /* bits of the last value */
} osp_chunk_it;

/* osp_chunk_it_init: iterate the chunk data[0..len); a malformed header is
 * reported by the first osp_chunk_it_next. */
void osp_chunk_it_init(osp_chunk_it *it, const uint8_t *data, size_t len);

/* osp_chunk_it_next: the next sample. Returns 1 with *t and *v set, 0 at the end
 * (after as many samples as the header counts; bytes after them are ignored),
 * OSP_ECORRUPT on malformed input: truncated data, an overlong varint, an
 * impossible XOR window, or a timestamp not greater than the previous one. An
 * error is sticky: later calls return it again. */
int osp_chunk_it_next(osp_chunk_it *it, int64_t *t, double *v);

/* osp_chunk_count: the sample count of the chunk's header into *n. Returns 0;
 * OSP_ECORRUPT when data is shorter than the header or too short to hold that
 * many samples (the body is not decoded). */
int osp_chunk_count(const uint8_t *data, size_t len, size_t *n);

/* osp_chunk_decode_range: decode the samples with mint <= t <= maxt into ts[0..cap)
 * and vs[0..cap) (either may be NULL when not wanted) and their number into *n.
 * Decoding stops at the first sample after maxt, so bytes past it are not
 * checked. cap >= osp_chunk_count always suffices. Returns 0; OSP_ECORRUPT on
 * malformed input, OSP_ELIMIT when more than cap samples match. On error the
 * arrays may have been partly written and *n is not set. */
int osp_chunk_decode_range(const uint8_t *data, size_t len, int64_t mint, int64_t maxt, int64_t *ts,
                           double *vs, size_t cap, size_t *n);

#endif
