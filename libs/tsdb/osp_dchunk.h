/* osp_dchunk.h - dense read-only chunks of time series samples (int64 unix-ms
 * timestamp, double value) for compacted data: encoded once from arrays,
 * decoded many times; several times smaller than the XOR chunks of osp_chunk.h
 * on scraped series (timestamps on a grid, decimal values). */
#ifndef OSP_DCHUNK_H
#define OSP_DCHUNK_H

#include <stddef.h>
#include <stdint.h>

/* First byte of every dense chunk of this layout. An XOR chunk (osp_chunk.h)
 * starts with the high byte of its 16-bit sample count, so it starts with 0xd1
 * only when it holds 53504..53759 samples: a store whose XOR chunks are
 * smaller can tell the two codecs apart by the first byte. */
#define OSP_DCHUNK_FORMAT_V1 0xd1u

/* Most samples one dense chunk holds (as OSP_CHUNK_MAX_SAMPLES). */
#define OSP_DCHUNK_MAX_SAMPLES 65535u

/* Layout of an encoded chunk (varints are LEB128, "svarint" a zigzagged one;
 * bit fields are packed LSB first: bit j of the stream is bit j % 8 of byte j / 8):
 *   u8 OSP_DCHUNK_FORMAT_V1
 *   uvarint n (sample count); nothing else when n is 0
 *   uvarint tlen, then the time section of tlen bytes:
 *     u8 0 (delta): svarint t0; lane of the n-1 deltas t[i] - t[i-1]
 *     u8 1 (grid):  svarint t0; uvarint step D; uvarint njumps; njumps records
 *                   (uvarint index gap, svarint jump J); lane of the n-1 residuals r.
 *                   Grid points g[0] = t0, g[i] = g[i-1] + (J at a jump index, else D);
 *                   t[i] = g[i] + r[i]. A jump's index is the previous one's + 1 +
 *                   its gap, the first one's 1 + its gap.
 *   value section, to the end of the data:
 *     u8 0 (XOR): bit stream: v[0] as 64 bits, then per value '0' (same bits as
 *                 the previous) | '1','0' + the XOR in the previous window |
 *                 '1','1' + 6 bits leading zeros + 6 bits (significant bits - 1)
 *                 + the significant bits of the XOR; zero-padded to a byte.
 *     u8 1..3 (decimal of order k = mode - 1): u8 e (0..22); uvarint nexc; nexc
 *                 exception records (uvarint index gap as for jumps, the first
 *                 one's index being its gap; the value's 64 bits little-endian);
 *                 min(k, nm) svarints; lane of the rest, where nm =
 *                 n - nexc values are not exceptions, each v = (double)m / 10^e
 *                 (division skipped for e = 0) for the int64 m of the sequence
 *                 m[j] in their order. Order 0: the lane holds m; order 1: svarint
 *                 m[0], the lane m[j] - m[j-1]; order 2: svarints m[0] and
 *                 m[1] - m[0], the lane the second differences.
 *   A lane of c int64 entries (all arithmetic wraps modulo 2^64) is uvarint
 *   multiplier M (>= 1), then ceil(c / 256) blocks of 256 entries (the last one
 *   holds the rest), each:
 *     u8 h: 0x7f: the previous block's w and base, no patches, nothing more
 *           (before the first block w and base are 0); else width w = h & 0x7f
 *           (0..64) and bit 7 set when the block has patches, followed by:
 *     svarint base - the previous block's base
 *     if patched: u8 np (1..entries), u8 pw (1..64)
 *     entries - np slots of w bits, then np patches: 8-bit block index (increasing)
 *     + pw bits zigzagged value; zero-padded to a byte
 *   An entry is M * (base + its slot), or M * (base + the value of the patch at
 *   its index).
 * Timestamps must strictly increase; bytes after the last block or bit that the
 * samples need are ignored. */

/* Threads: every function is reentrant and runs on any thread; one iterator
 * must not be used by two threads at once. Encoded bytes are read-only to the
 * decoders, so any number of threads may decode the same chunk. */

/* osp_dchunk_encode: encode the n samples ts[i], vs[i] (ts strictly increasing)
 * into a freshly allocated chunk the caller frees with osp_free. Every value
 * round-trips bit for bit (NaN payloads and Prometheus's stale marker, -0.0,
 * infinities, denormals). Tries the layouts above and keeps the smallest, so it
 * costs more than osp_chunk_encode: 40-150 ns per sample against about 7.
 * Returns 0; OSP_EINVAL when ts is not strictly increasing, OSP_ELIMIT when n
 * exceeds OSP_DCHUNK_MAX_SAMPLES; *out and *outlen are written only on
 * success. Aborts on OOM. */
int osp_dchunk_encode(const int64_t *ts, const double *vs, size_t n, uint8_t **out, size_t *outlen);

/* osp_dchunk_encode_fit: osp_dchunk_encode of the longest prefix ts[0..k),
 * vs[0..k) of the n samples whose chunk takes at most max_bytes (so that a
 * compactor can cut a series into chunks PostgreSQL stores inline), with k into
 * *used. Encodes a few prefixes (a short one, then two or three guesses from
 * the bytes per sample seen), and settles for a chunk within 2 % of max_bytes
 * or a k within 2 % of the longest; k is at most OSP_DCHUNK_MAX_SAMPLES, and 0
 * only when n is. Returns 0; OSP_EINVAL when ts[0..n) is not strictly
 * increasing, OSP_ELIMIT when not even one sample fits; the out-parameters are
 * written only on success. Aborts on OOM. */
int osp_dchunk_encode_fit(const int64_t *ts, const double *vs, size_t n, size_t max_bytes,
                          uint8_t **out, size_t *outlen, size_t *used);

/* A lane being read; private to the iterator. */
typedef struct osp_dchunk_lane {
    const uint8_t *blk;  /* slots of the current block */
    const uint8_t *next; /* header of the next block */
    const uint8_t *lim;  /* end of the lane's section */
    uint64_t base;       /* base of the current block */
    uint64_t mul;        /* the lane's multiplier */
    uint64_t mask;       /* low w bits set */
    uint32_t left;       /* entries in the blocks not yet loaded */
    uint32_t pos;        /* bit offset of the next slot from blk */
    uint32_t ppos;       /* bit offset of the next patch field from blk */
    uint16_t k;          /* index of the next entry in the block */
    uint16_t cb;         /* entries in the block */
    uint16_t pidx;       /* block index of the next patch; 0xffff: none */
    uint16_t np;         /* patches of the block not yet read */
    uint8_t w;           /* slot width */
    uint8_t pw;          /* patch value width */
} osp_dchunk_lane;

/* Iterator over an encoded chunk whose bytes it borrows (they must outlive it).
 * Caller storage (about 300 bytes); the fields are private. Never reads past
 * data + len. */
typedef struct osp_dchunk_it {
    osp_dchunk_lane tl; /* time lane: deltas or grid residuals */
    osp_dchunk_lane vl; /* value lane: decimal m or its differences */
    const uint8_t *end; /* data + len */
    const uint8_t *tx;  /* grid: the jump J of the next jump record */
    const uint8_t *vx;  /* decimal: the raw bits of the next exception */
    const uint8_t *xs;  /* XOR: first byte of the bit stream */
    size_t xpos;        /* XOR: next bit */
    size_t xbits;       /* XOR: bits in the stream */
    double scale;       /* 10^e */
    int64_t t;          /* last timestamp */
    uint64_t g;         /* grid: last grid point */
    uint64_t step;      /* grid: step D */
    uint64_t m;         /* decimal: last m */
    uint64_t dm;        /* decimal order 2: last first difference */
    uint64_t m0, d0;    /* decimal: the initial svarints */
    uint64_t v;         /* bits of the last value */
    uint32_t n;         /* samples in the header */
    uint32_t i;         /* samples returned */
    uint32_t mi;        /* decimal values returned */
    uint32_t tnext;     /* sample index of the next jump; UINT32_MAX: none */
    uint32_t vnext;     /* sample index of the next exception; UINT32_MAX: none */
    uint32_t tleft;     /* jump records after the next one */
    uint32_t vleft;     /* exception records after the next one */
    int err;            /* sticky error */
    uint8_t tmode;      /* time section mode byte */
    uint8_t vmode;      /* value section mode byte */
    uint8_t e;          /* decimal exponent */
    uint8_t leading;    /* XOR window; 0xff: none yet */
    uint8_t trailing;
} osp_dchunk_it;

/* osp_dchunk_it_init: iterate the chunk data[0..len); a malformed header (or
 * exception list) is reported by the first osp_dchunk_it_next. */
void osp_dchunk_it_init(osp_dchunk_it *it, const uint8_t *data, size_t len);

/* osp_dchunk_it_next: the next sample. Returns 1 with *t and *v set, 0 at the
 * end (after as many samples as the header counts), OSP_ECORRUPT on malformed
 * input: an unknown format byte or mode, truncated data, an overlong varint, an
 * impossible width, index or XOR window, or a timestamp not greater than the
 * previous one. An error is sticky: later calls return it again. */
int osp_dchunk_it_next(osp_dchunk_it *it, int64_t *t, double *v);

/* osp_dchunk_count: the sample count of the chunk's header into *n. Returns 0;
 * OSP_ECORRUPT when the format byte is not OSP_DCHUNK_FORMAT_V1, the count is
 * malformed or above OSP_DCHUNK_MAX_SAMPLES, or data is too short to hold that
 * many samples (the body is not decoded). */
int osp_dchunk_count(const uint8_t *data, size_t len, size_t *n);

/* osp_dchunk_decode_range: decode the samples with mint <= t <= maxt into
 * ts[0..cap) and vs[0..cap) (either may be NULL when not wanted) and their number
 * into *n. Decoding stops at the first sample after maxt, so blocks that only
 * later samples need are not checked. cap >= osp_dchunk_count always suffices. Returns 0;
 * OSP_ECORRUPT on malformed input, OSP_ELIMIT when more than cap samples match. On error the arrays
 * may have been partly written and *n is not set. */
int osp_dchunk_decode_range(const uint8_t *data, size_t len, int64_t mint, int64_t maxt,
                            int64_t *ts, double *vs, size_t cap, size_t *n);

#endif
