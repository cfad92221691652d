/* bus_wire.h - zero-copy reading of packed Envelopes: a validator with exactly
 * protobuf-c's acceptance rules, then iterators over a MetricBatch that give
 * views into the caller's bytes. Nothing is allocated; the store's ingest path
 * uses it instead of unpacking every Series, Label and Sample. */
#ifndef OSP_BUS_WIRE_H
#define OSP_BUS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A view of bytes owned by someone else. Strings are as on the wire: not
 * NUL-terminated and possibly holding a NUL (protobuf-c's C string would end
 * there; osp_wire_cstr_len gives that length). */
typedef struct osp_wire_view {
    const char *p;
    size_t n;
} osp_wire_view;

/* The header of a validated Envelope. */
typedef struct osp_wire_env {
    osp_wire_view producer_id;
    uint64_t seq;
    int64_t sent_ms;
    int payload_case;      /* OSPREY__ENVELOPE__PAYLOAD_METRICS or _LOGS */
    osp_wire_view payload; /* packed MetricBatch or LogBatch (the last occurrence wins) */
} osp_wire_env;

/* osp_wire_envelope: validate buf[0..len) as a packed Envelope, including
 * every nested message, accepting exactly what osp_envelope_decode accepts
 * (protobuf-c's rules, non-empty producer_id, a payload set), and fill *out
 * with views into buf. Returns 0 or OSP_EPARSE (*out untouched). Any thread. */
int osp_wire_envelope(const void *buf, size_t len, osp_wire_env *out);

/* osp_wire_envelope_header: osp_wire_envelope without validating the nested
 * messages, for bytes that were validated before (by osp_wire_envelope or
 * osp_envelope_decode, e.g. on receipt). The iterators stay bounds-checked on
 * any input. Returns 0 or OSP_EPARSE. */
int osp_wire_envelope_header(const void *buf, size_t len, osp_wire_env *out);

/* osp_wire_cstr_len: the length protobuf-c's C string of v would have (up to
 * the first NUL). */
size_t osp_wire_cstr_len(osp_wire_view v);

/* A cursor over the fields of one validated message. */
typedef struct osp_wire_it {
    const uint8_t *p, *end;
} osp_wire_it;

/* osp_wire_it_init: a cursor over the fields of message bytes v. */
void osp_wire_it_init(osp_wire_it *it, osp_wire_view v);

/* osp_wire_mbatch_next: the next Series (*field = 1) or MetricMetadata
 * (*field = 2) of a validated MetricBatch, as its packed bytes in *msg.
 * Unknown fields are skipped. false at the end. */
bool osp_wire_mbatch_next(osp_wire_it *it, int *field, osp_wire_view *msg);

/* What osp_wire_series_scan found in one validated Series. */
typedef struct osp_wire_series {
    osp_wire_view msg;    /* the whole Series */
    osp_wire_view labels; /* the bytes of all label fields, tags included, when no
                           * sample field lies between them (else n = 0, p = NULL):
                           * equal bytes always mean equal labels */
    size_t n_labels;
    size_t n_samples;
    osp_wire_view sample; /* the payload of the last Sample (p = NULL: none) */
} osp_wire_series;

/* osp_wire_series_scan: scan the validated Series msg into *s. */
void osp_wire_series_scan(osp_wire_view msg, osp_wire_series *s);

/* osp_wire_next_label: on a cursor over a validated Series (or LogStream),
 * the next Label as name and value views ("" when absent; the last occurrence
 * of a field wins, as in protobuf-c). false at the end. */
bool osp_wire_next_label(osp_wire_it *it, osp_wire_view *name, osp_wire_view *value);

/* osp_wire_next_sample: on a cursor over a validated Series, the next
 * Sample's fields (0 when absent). false at the end. */
bool osp_wire_next_sample(osp_wire_it *it, int64_t *ts_ms, double *value);

/* osp_wire_sample: the fields of one validated Sample payload (as
 * osp_wire_series.sample; 0 when absent). */
void osp_wire_sample(osp_wire_view sv, int64_t *ts_ms, double *value);

/* osp_wire_metadata: the fields of a validated MetricMetadata ("" when absent). */
void osp_wire_metadata(osp_wire_view msg, osp_wire_view *name, osp_wire_view *type,
                       osp_wire_view *help, osp_wire_view *unit);

#endif
