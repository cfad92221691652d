/* store_logrec.h - the compact record of a metrics batch in the batch log
 * (osprey_batches rows of kind 'c').
 *
 * The bus carries every series with its full label set, ~100-150 bytes a
 * sample. By the time a batch is logged the store has resolved each series to
 * its id, and the series rows commit in the same transaction as the log row,
 * so the log needs only the ids: ~12-20 bytes a sample instead of the raw
 * Envelope. Replay maps ids back through the catalog loaded from
 * osprey_series. Rows of kind 'm' (the raw Envelope, written by older stores)
 * are still replayed.
 *
 * Layout (varints are LEB128; "svarint" zigzagged):
 *   u8 version (1)
 *   then per series, to the end:
 *     uvarint n (samples, >= 1)
 *     u64 series id, little-endian
 *     n times: svarint t - previous t of the record (the first against 0),
 *              uvarint of the value's bits rotated left by 12, so sign and
 *              exponent come lowest and the mantissa's trailing zeros go
 *              high (0: 1 byte, 1.0: 2, integers below 2^20: 2-5)
 */
#ifndef STORE_LOGREC_H
#define STORE_LOGREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_buf.h"

#define STORE_LOGREC_VERSION 1

/* Writer state of one record (caller storage). */
typedef struct store_logrec_w {
    osp_buf *out;
    int64_t prev_t;
} store_logrec_w;

/* store_logrec_begin: start a record in out (appending). */
void store_logrec_begin(store_logrec_w *w, osp_buf *out);

/* store_logrec_series: start a series of n >= 1 samples; exactly n calls of
 * store_logrec_sample follow. */
void store_logrec_series(store_logrec_w *w, uint64_t id, size_t n);
void store_logrec_sample(store_logrec_w *w, int64_t t, double v);

/* Reader of one record: store_logrec_it_init, then store_logrec_next_series
 * and, for each series, store_logrec_next_sample until it returns false. */
typedef struct store_logrec_it {
    const uint8_t *p, *end;
    int64_t prev_t;
    uint64_t left; /* samples left in the current series */
    bool bad;      /* malformed: iteration stopped */
} store_logrec_it;

/* store_logrec_it_init: OSP_EPARSE when the record is empty or of another
 * version, else 0. */
int store_logrec_it_init(store_logrec_it *it, const void *rec, size_t len);

/* store_logrec_next_series: the next series' id and sample count; false at
 * the end or on malformed input (it->bad then). Samples of the previous
 * series not read are skipped. */
bool store_logrec_next_series(store_logrec_it *it, uint64_t *id, uint64_t *n);

/* store_logrec_next_sample: the next sample of the current series; false
 * after its last or on malformed input (it->bad then). */
bool store_logrec_next_sample(store_logrec_it *it, int64_t *t, double *v);

#endif
