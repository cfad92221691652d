/* tsdb_dchunk_int.h - what the dense chunk encoder and decoder share: the
 * layout's constants (see osp_dchunk.h) and little-endian byte helpers. */
#ifndef TSDB_DCHUNK_INT_H
#define TSDB_DCHUNK_INT_H

#include <endian.h>
#include <float.h>
#include <stdint.h>
#include <string.h>

/* Decimal values are decoded by one IEEE division, which must round the same
 * way on the machine that encodes as on the one that decodes. */
#if FLT_EVAL_METHOD != 0
#error "dense chunks need double arithmetic without excess precision"
#endif

/* Time section modes. */
#define DC_T_DELTA 0
#define DC_T_GRID 1

/* Value section modes: XOR, or decimal of order mode - DC_V_DEC0. */
#define DC_V_XOR 0
#define DC_V_DEC0 1
#define DC_V_MAXORDER 2

/* Largest decimal exponent: 10^22 is the largest power of ten a double holds exactly. */
#define DC_MAX_EXP 22

/* Lane blocks: entries per block, bits of a patch's block index, and the header
 * byte of a block with the previous block's width and base and no patches. */
#define DC_BLOCK 256
#define DC_IDX_BITS 8
#define DC_REPEAT 0x7f

/* The powers of ten 10^0..10^22, all exact doubles. */
extern const double osp_dchunk_p10[DC_MAX_EXP + 1];

static inline uint64_t
dc_load_le64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w));
    return le64toh(w);
}

static inline void
dc_store_le64(uint8_t *p, uint64_t w)
{
    w = htole64(w);
    memcpy(p, &w, sizeof(w));
}

static inline uint64_t
dc_zz(int64_t x)
{
    return ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
}

static inline int64_t
dc_unzz(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static inline uint64_t
dc_bits_of(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

/* dc_dec_value: the double a decimal m with exponent e stands for; the encoder
 * checks each value against exactly this expression. */
static inline double
dc_dec_value(int64_t m, unsigned e)
{
    double d = (double)m;
    return e == 0 ? d : d / osp_dchunk_p10[e];
}

#endif
