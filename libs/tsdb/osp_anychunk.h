/* osp_anychunk.h - read a stored chunk of either codec: an XOR chunk
 * (osp_chunk.h, written while data is fresh) or a dense chunk (osp_dchunk.h,
 * written by compaction), told apart by the first byte. An XOR chunk begins
 * with the high byte of its sample count, which is OSP_DCHUNK_FORMAT_V1 only
 * for counts 53504..53759; chunks read through this API must hold fewer XOR
 * samples (the store's hold at most a few thousand). */
#ifndef OSP_ANYCHUNK_H
#define OSP_ANYCHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_chunk.h"
#include "osp_dchunk.h"

/* osp_anychunk_dense: true when data is a dense chunk. */
bool osp_anychunk_dense(const uint8_t *data, size_t len);

/* Iterator over either kind; caller storage, fields private. */
typedef struct osp_anychunk_it {
    bool dense;
    union {
        osp_chunk_it x;
        osp_dchunk_it d;
    } u;
} osp_anychunk_it;

/* As osp_chunk_it_init / osp_chunk_it_next (same returns and errors). */
void osp_anychunk_it_init(osp_anychunk_it *it, const uint8_t *data, size_t len);
int osp_anychunk_it_next(osp_anychunk_it *it, int64_t *t, double *v);

/* As osp_chunk_count. */
int osp_anychunk_count(const uint8_t *data, size_t len, size_t *n);

/* As osp_chunk_decode_range. */
int osp_anychunk_decode_range(const uint8_t *data, size_t len, int64_t mint, int64_t maxt,
                              int64_t *ts, double *vs, size_t cap, size_t *n);

#endif
