/* bus_pb.h - protobuf glue of the wire protocol (proto/osprey.proto): batch
 * builders for producers, so that they never touch protobuf-c structs, and the
 * Envelope decoder of the store. Builders are plain single-owner objects: not
 * thread-safe, use one per thread (or lock around it). */
#ifndef OSP_BUS_PB_H
#define OSP_BUS_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_buf.h"
#include "osp_labels.h"
#include "osprey.pb-c.h"

/* ---- metric batches (MetricBatch) ---- */

typedef struct osp_mbatch osp_mbatch;

/* osp_mbatch_new: an empty metric batch builder. Never NULL (aborts on OOM).
 * Free with osp_mbatch_free. */
osp_mbatch *osp_mbatch_new(void);

/* osp_mbatch_free: free b and everything it copied. NULL-safe. */
void osp_mbatch_free(osp_mbatch *b);

/* osp_mbatch_reset: empty b (series and metadata), keeping its memory for the
 * next batch. */
void osp_mbatch_reset(osp_mbatch *b);

/* osp_mbatch_add_series: append one Series with labels sorted_labels (which
 * must include __name__ and be sorted by name; the caller keeps ownership, the
 * batch copies) and the n samples (ts_ms[i], vals[i]) (copied; n may be 0;
 * stale markers are NaN with the bits 0x7ff0000000000002 and are kept bit for
 * bit). No merging: adding the same label set twice gives two Series. */
void osp_mbatch_add_series(osp_mbatch *b, const osp_labels *sorted_labels, const int64_t *ts_ms,
                           const double *vals, size_t n);

/* osp_pb_encode_labels: append to out the packed Series.labels fields (field 1,
 * one Label {name, value} each, in ls's order; empty strings left out as
 * protobuf-c does) of ls (may be NULL: nothing). Producers cache the result per
 * series and hand it to osp_mbatch_add_series_pb. */
void osp_pb_encode_labels(const osp_labels *ls, osp_buf *out);

/* osp_mbatch_add_series_pb: as osp_mbatch_add_series, with the labels given
 * as the bytes osp_pb_encode_labels wrote for them (labels_pb[0..len), copied;
 * the caller vouches that they are well-formed and sorted). The batch is the
 * same as with osp_mbatch_add_series. */
void osp_mbatch_add_series_pb(osp_mbatch *b, const void *labels_pb, size_t len,
                              const int64_t *ts_ms, const double *vals, size_t n);

/* osp_mbatch_add_meta: append one MetricMetadata {family, type, help, unit}
 * (all copied; NULL is taken as ""). */
void osp_mbatch_add_meta(osp_mbatch *b, const char *family, const char *type, const char *help,
                         const char *unit);

/* osp_mbatch_samples / osp_mbatch_series_count: samples and Series added since
 * the last reset. */
size_t osp_mbatch_samples(const osp_mbatch *b);
size_t osp_mbatch_series_count(const osp_mbatch *b);

/* osp_mbatch_packed_size: exact size of the packed MetricBatch (O(1); use it
 * to cut batches by size). */
size_t osp_mbatch_packed_size(const osp_mbatch *b);

/* osp_mbatch_encode: append the packed MetricBatch bytes to out (the caller's
 * buffer; it is not reset first). Returns 0 (nothing can fail but OOM, which
 * aborts). The result goes to osp_bus_producer_send(p, 'm', ...). */
int osp_mbatch_encode(const osp_mbatch *b, osp_buf *out);

/* osp_mbatch_view: the packed MetricBatch as two pieces, *a[0..*alen) then
 * *b[0..*blen) (valid until the batch changes), for osp_bus_producer_send2
 * without the copy of osp_mbatch_encode. */
void osp_mbatch_view(const osp_mbatch *m, const void **a, size_t *alen, const void **b,
                     size_t *blen);

/* ---- log batches (LogBatch) ---- */

typedef struct osp_lbatch osp_lbatch;

/* osp_lbatch_new / osp_lbatch_free (NULL-safe) / osp_lbatch_reset: as for
 * osp_mbatch. */
osp_lbatch *osp_lbatch_new(void);
void osp_lbatch_free(osp_lbatch *b);
void osp_lbatch_reset(osp_lbatch *b);

/* osp_lbatch_stream: the index of the LogStream with exactly these labels
 * (sorted by name; copied), appending a new stream when the batch has none yet.
 * The index is valid until the next reset. */
size_t osp_lbatch_stream(osp_lbatch *b, const osp_labels *sorted_labels);

/* osp_lbatch_add_entry: append a LogEntry {ts_ns, line[0..len)} to stream
 * (an index from osp_lbatch_stream; asserted in range). structured_md may be
 * NULL; everything is copied. line need not be NUL-terminated. */
void osp_lbatch_add_entry(osp_lbatch *b, size_t stream, int64_t ts_ns, const char *line, size_t len,
                          const osp_labels *structured_md);

/* osp_lbatch_entries / osp_lbatch_line_bytes: entries and the sum of their line
 * lengths since the last reset (for cutting batches). */
size_t osp_lbatch_entries(const osp_lbatch *b);
size_t osp_lbatch_line_bytes(const osp_lbatch *b);

/* osp_lbatch_encode: append the packed LogBatch bytes to out. Returns 0. */
int osp_lbatch_encode(const osp_lbatch *b, osp_buf *out);

/* ---- decoding (store side) ---- */

/* osp_envelope_decode: unpack buf[0..len) (packed Envelope bytes, without the
 * topic byte) into *out, owned by the caller (free with osp_envelope_free).
 * Checks that producer_id is non-empty and that a payload is set. Returns 0,
 * or OSP_EPARSE (not a valid Envelope; *out untouched). Any thread. */
int osp_envelope_decode(const void *buf, size_t len, Osprey__Envelope **out);

/* osp_envelope_free: free an Envelope from osp_envelope_decode. NULL-safe. */
void osp_envelope_free(Osprey__Envelope *env);

/* osp_pb_labels: reset out and fill it with copies of the n protobuf labels v
 * (as found in Series, LogStream, LogEntry). Order is kept (the wire carries
 * them sorted; call osp_labels_sort if unsure). */
void osp_pb_labels(Osprey__Label *const *v, size_t n, osp_labels *out);

#endif
