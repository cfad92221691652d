/* bus_pb.c - MetricBatch/LogBatch builders, Envelope framing and decoding. */
#include "bus_pb.h"

#include <assert.h>
#include <string.h>

#include "bus_int.h"
#include "osp_err.h"
#include "osp_mem.h"

/* ---- shared helpers ---- */

static Osprey__Label **
labels_copy(const osp_labels *ls, size_t *n_out)
{
    size_t n = ls ? ls->n : 0;
    *n_out = n;
    if (n == 0)
        return NULL;
    Osprey__Label **v = osp_calloc(n, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        Osprey__Label *l = osp_malloc(sizeof(*l));
        osprey__label__init(l);
        l->name = osp_strdup(ls->v[i].name);
        l->value = osp_strdup(ls->v[i].value);
        v[i] = l;
    }
    return v;
}

static void
labels_free(Osprey__Label **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        osp_free(v[i]->name);
        osp_free(v[i]->value);
        osp_free(v[i]);
    }
    osp_free(v);
}

static bool
labels_eq(Osprey__Label *const *v, size_t n, const osp_labels *ls)
{
    size_t m = ls ? ls->n : 0;
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i]->name, ls->v[i].name) != 0 || strcmp(v[i]->value, ls->v[i].value) != 0)
            return false;
    return true;
}

static void
pack_append(const ProtobufCMessage *msg, osp_buf *out)
{
    size_t sz = protobuf_c_message_get_packed_size(msg);
    osp_buf_reserve(out, sz);
    size_t w = protobuf_c_message_pack(msg, (uint8_t *)out->data + out->len);
    assert(w == sz);
    out->len += w;
    out->data[out->len] = '\0';
}

/* ---- metric batches ----
 * The builder encodes as it goes: Series fields into one growing buffer,
 * metadata fields into another, so a batch costs no allocation per series or
 * sample and encoding is a copy. The bytes are those protobuf-c would pack
 * (proto3: empty strings and zero numbers are left out; fields in number
 * order). */

struct osp_mbatch {
    osp_buf series; /* packed MetricBatch.series fields */
    osp_buf meta;   /* packed MetricBatch.metadata fields */
    osp_buf lab;    /* scratch: the labels of osp_mbatch_add_series */
    size_t n_series, samples;
};

static inline size_t
varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline char *
put_varint_raw(char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (char)v;
    return p;
}

/* a length-delimited string field, left out when empty (proto3) */
static inline char *
put_str_raw(char *p, unsigned field, const char *s, size_t n)
{
    if (n == 0)
        return p;
    *p++ = (char)((field << 3) | 2);
    p = put_varint_raw(p, n);
    memcpy(p, s, n);
    return p + n;
}

static inline size_t
str_field_size(size_t n)
{
    return n ? 1 + varint_size(n) + n : 0;
}

void
osp_pb_encode_labels(const osp_labels *ls, osp_buf *out)
{
    size_t n = ls ? ls->n : 0;
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(ls->v[i].name), vl = strlen(ls->v[i].value);
        size_t body = str_field_size(nl) + str_field_size(vl);
        osp_buf_reserve(out, 1 + varint_size(body) + body);
        char *p = out->data + out->len;
        *p++ = (char)((1 << 3) | 2); /* Series.labels */
        p = put_varint_raw(p, body);
        p = put_str_raw(p, 1, ls->v[i].name, nl);
        p = put_str_raw(p, 2, ls->v[i].value, vl);
        out->len = (size_t)(p - out->data);
    }
    if (out->data != NULL)
        out->data[out->len] = '\0';
}

/* proto3 leaves zero out; protobuf-c compares doubles as numbers, so -0.0 is
 * left out too (and read back as +0.0): kept for identical bytes */
static inline size_t
sample_size(int64_t ts, double v)
{
    return (ts != 0 ? 1 + varint_size((uint64_t)ts) : 0) + (v != 0.0 ? 9 : 0);
}

osp_mbatch *
osp_mbatch_new(void)
{
    osp_mbatch *b = osp_calloc(1, sizeof(osp_mbatch));
    osp_buf_init(&b->series);
    osp_buf_init(&b->meta);
    osp_buf_init(&b->lab);
    return b;
}

void
osp_mbatch_reset(osp_mbatch *b)
{
    osp_buf_reset(&b->series);
    osp_buf_reset(&b->meta);
    b->n_series = b->samples = 0;
}

void
osp_mbatch_free(osp_mbatch *b)
{
    if (b == NULL)
        return;
    osp_buf_fini(&b->series);
    osp_buf_fini(&b->meta);
    osp_buf_fini(&b->lab);
    osp_free(b);
}

void
osp_mbatch_add_series_pb(osp_mbatch *b, const void *labels_pb, size_t len, const int64_t *ts_ms,
                         const double *vals, size_t n)
{
    size_t body = len;
    for (size_t i = 0; i < n; i++) {
        size_t ss = sample_size(ts_ms[i], vals[i]);
        body += 1 + varint_size(ss) + ss;
    }
    osp_buf_reserve(&b->series, 1 + varint_size(body) + body);
    char *p = b->series.data + b->series.len;
    *p++ = (char)((1 << 3) | 2); /* MetricBatch.series */
    p = put_varint_raw(p, body);
    if (len > 0)
        memcpy(p, labels_pb, len);
    p += len;
    for (size_t i = 0; i < n; i++) {
        uint64_t bits;
        memcpy(&bits, &vals[i], sizeof(bits));
        *p++ = (char)((2 << 3) | 2); /* Series.samples */
        p = put_varint_raw(p, sample_size(ts_ms[i], vals[i]));
        if (ts_ms[i] != 0) {
            *p++ = (char)((1 << 3) | 0); /* timestamp_ms: varint */
            p = put_varint_raw(p, (uint64_t)ts_ms[i]);
        }
        if (vals[i] != 0.0) {
            *p++ = (char)((2 << 3) | 1); /* value: fixed64 */
            for (int k = 0; k < 8; k++)
                *p++ = (char)(bits >> (8 * k));
        }
    }
    b->series.len = (size_t)(p - b->series.data);
    b->series.data[b->series.len] = '\0';
    b->n_series++;
    b->samples += n;
}

void
osp_mbatch_add_series(osp_mbatch *b, const osp_labels *sorted_labels, const int64_t *ts_ms,
                      const double *vals, size_t n)
{
    osp_buf_reset(&b->lab);
    osp_pb_encode_labels(sorted_labels, &b->lab);
    osp_mbatch_add_series_pb(b, b->lab.data, b->lab.len, ts_ms, vals, n);
}

void
osp_mbatch_add_meta(osp_mbatch *b, const char *family, const char *type, const char *help,
                    const char *unit)
{
    const char *f[4] = {family ? family : "", type ? type : "", help ? help : "", unit ? unit : ""};
    size_t l[4], body = 0;
    for (int i = 0; i < 4; i++) {
        l[i] = strlen(f[i]);
        body += str_field_size(l[i]);
    }
    osp_buf_reserve(&b->meta, 1 + varint_size(body) + body);
    char *p = b->meta.data + b->meta.len;
    *p++ = (char)((2 << 3) | 2); /* MetricBatch.metadata */
    p = put_varint_raw(p, body);
    for (int i = 0; i < 4; i++)
        p = put_str_raw(p, (unsigned)i + 1, f[i], l[i]);
    b->meta.len = (size_t)(p - b->meta.data);
    b->meta.data[b->meta.len] = '\0';
}

size_t
osp_mbatch_samples(const osp_mbatch *b)
{
    return b->samples;
}

size_t
osp_mbatch_series_count(const osp_mbatch *b)
{
    return b->n_series;
}

size_t
osp_mbatch_packed_size(const osp_mbatch *b)
{
    return b->series.len + b->meta.len;
}

int
osp_mbatch_encode(const osp_mbatch *b, osp_buf *out)
{
    osp_buf_reserve(out, b->series.len + b->meta.len);
    if (b->series.len)
        osp_buf_append(out, b->series.data, b->series.len);
    if (b->meta.len)
        osp_buf_append(out, b->meta.data, b->meta.len);
    if (out->data != NULL)
        out->data[out->len] = '\0';
    return 0;
}

void
osp_mbatch_view(const osp_mbatch *m, const void **a, size_t *alen, const void **b, size_t *blen)
{
    *a = m->series.data;
    *alen = m->series.len;
    *b = m->meta.data;
    *blen = m->meta.len;
}

/* ---- log batches ---- */

struct osp_lbatch {
    Osprey__LogStream **streams;
    size_t n_streams, cap_streams;
    size_t *cap_entries; /* per stream */
    size_t entries;
    size_t line_bytes;
};

osp_lbatch *
osp_lbatch_new(void)
{
    return osp_calloc(1, sizeof(osp_lbatch));
}

void
osp_lbatch_reset(osp_lbatch *b)
{
    for (size_t i = 0; i < b->n_streams; i++) {
        Osprey__LogStream *s = b->streams[i];
        labels_free(s->labels, s->n_labels);
        for (size_t j = 0; j < s->n_entries; j++) {
            Osprey__LogEntry *e = s->entries[j];
            osp_free(e->line);
            labels_free(e->structured_metadata, e->n_structured_metadata);
            osp_free(e);
        }
        osp_free(s->entries);
        osp_free(s);
    }
    b->n_streams = b->entries = b->line_bytes = 0;
}

void
osp_lbatch_free(osp_lbatch *b)
{
    if (b == NULL)
        return;
    osp_lbatch_reset(b);
    osp_free(b->streams);
    osp_free(b->cap_entries);
    osp_free(b);
}

size_t
osp_lbatch_stream(osp_lbatch *b, const osp_labels *sorted_labels)
{
    for (size_t i = 0; i < b->n_streams; i++)
        if (labels_eq(b->streams[i]->labels, b->streams[i]->n_labels, sorted_labels))
            return i;
    if (b->n_streams == b->cap_streams) {
        b->cap_streams = b->cap_streams ? b->cap_streams * 2 : 8;
        b->streams = osp_reallocarray(b->streams, b->cap_streams, sizeof(*b->streams));
        b->cap_entries = osp_reallocarray(b->cap_entries, b->cap_streams, sizeof(size_t));
    }
    Osprey__LogStream *s = osp_malloc(sizeof(*s));
    osprey__log_stream__init(s);
    s->labels = labels_copy(sorted_labels, &s->n_labels);
    b->cap_entries[b->n_streams] = 0;
    b->streams[b->n_streams] = s;
    return b->n_streams++;
}

void
osp_lbatch_add_entry(osp_lbatch *b, size_t stream, int64_t ts_ns, const char *line, size_t len,
                     const osp_labels *structured_md)
{
    assert(stream < b->n_streams);
    Osprey__LogStream *s = b->streams[stream];
    Osprey__LogEntry *e = osp_malloc(sizeof(*e));
    osprey__log_entry__init(e);
    e->timestamp_ns = ts_ns;
    e->line = osp_strndup(line ? line : "", line ? len : 0);
    e->structured_metadata = labels_copy(structured_md, &e->n_structured_metadata);
    if (s->n_entries == b->cap_entries[stream]) {
        size_t cap = b->cap_entries[stream] ? b->cap_entries[stream] * 2 : 16;
        s->entries = osp_reallocarray(s->entries, cap, sizeof(*s->entries));
        b->cap_entries[stream] = cap;
    }
    s->entries[s->n_entries++] = e;
    b->entries++;
    b->line_bytes += line ? len : 0;
}

size_t
osp_lbatch_entries(const osp_lbatch *b)
{
    return b->entries;
}

size_t
osp_lbatch_line_bytes(const osp_lbatch *b)
{
    return b->line_bytes;
}

int
osp_lbatch_encode(const osp_lbatch *b, osp_buf *out)
{
    Osprey__LogBatch lb;
    osprey__log_batch__init(&lb);
    lb.streams = b->streams;
    lb.n_streams = b->n_streams;
    pack_append(&lb.base, out);
    return 0;
}

/* ---- envelope ---- */

size_t
osp_envelope_header(char *out, size_t cap, const char *producer_id, uint64_t seq, int64_t sent_ms,
                    char topic, size_t len)
{
    /* Hand-written so the batch bytes are copied, not unpacked and repacked.
     * Field order and wire types follow proto/osprey.proto (Envelope). */
    size_t idlen = strlen(producer_id);
    if (cap < idlen + 48)
        return 0;
    char *p = out;
    *p++ = (char)((1 << 3) | 2); /* producer_id: string */
    p = put_varint_raw(p, idlen);
    memcpy(p, producer_id, idlen);
    p += idlen;
    *p++ = (char)((2 << 3) | 0); /* seq: uint64 */
    p = put_varint_raw(p, seq);
    *p++ = (char)((3 << 3) | 0); /* sent_ms: int64 */
    p = put_varint_raw(p, (uint64_t)sent_ms);
    *p++ = (char)(((topic == 'l' ? 11 : 10) << 3) | 2); /* metrics | logs */
    p = put_varint_raw(p, len);
    return (size_t)(p - out);
}

void
osp_envelope_frame(osp_buf *out, const char *producer_id, uint64_t seq, int64_t sent_ms, char topic,
                   const void *batch, size_t len)
{
    size_t cap = strlen(producer_id) + 48;
    osp_buf_reserve(out, cap + len);
    size_t hl =
        osp_envelope_header(out->data + out->len, cap, producer_id, seq, sent_ms, topic, len);
    out->len += hl;
    osp_buf_append(out, batch, len);
}

int
osp_envelope_decode(const void *buf, size_t len, Osprey__Envelope **out)
{
    Osprey__Envelope *env = osprey__envelope__unpack(NULL, len, buf);
    if (env == NULL)
        return OSP_EPARSE;
    if (env->producer_id == NULL || env->producer_id[0] == '\0' ||
        (env->payload_case != OSPREY__ENVELOPE__PAYLOAD_METRICS &&
         env->payload_case != OSPREY__ENVELOPE__PAYLOAD_LOGS)) {
        osprey__envelope__free_unpacked(env, NULL);
        return OSP_EPARSE;
    }
    *out = env;
    return 0;
}

void
osp_envelope_free(Osprey__Envelope *env)
{
    if (env != NULL)
        osprey__envelope__free_unpacked(env, NULL);
}

void
osp_pb_labels(Osprey__Label *const *v, size_t n, osp_labels *out)
{
    osp_labels_reset(out);
    for (size_t i = 0; i < n; i++)
        osp_labels_addc(out, v[i]->name ? v[i]->name : "", v[i]->value ? v[i]->value : "");
}
