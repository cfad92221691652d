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

/* ---- metric batches ---- */

struct osp_mbatch {
    Osprey__Series **series;
    size_t n_series, cap_series;
    Osprey__MetricMetadata **meta;
    size_t n_meta, cap_meta;
    size_t samples;
};

osp_mbatch *
osp_mbatch_new(void)
{
    return osp_calloc(1, sizeof(osp_mbatch));
}

void
osp_mbatch_reset(osp_mbatch *b)
{
    for (size_t i = 0; i < b->n_series; i++) {
        Osprey__Series *s = b->series[i];
        labels_free(s->labels, s->n_labels);
        osp_free(s->samples); /* one block: pointer array + structs */
        osp_free(s);
    }
    for (size_t i = 0; i < b->n_meta; i++) {
        Osprey__MetricMetadata *m = b->meta[i];
        osp_free(m->name);
        osp_free(m->type);
        osp_free(m->help);
        osp_free(m->unit);
        osp_free(m);
    }
    b->n_series = b->n_meta = b->samples = 0;
}

void
osp_mbatch_free(osp_mbatch *b)
{
    if (b == NULL)
        return;
    osp_mbatch_reset(b);
    osp_free(b->series);
    osp_free(b->meta);
    osp_free(b);
}

void
osp_mbatch_add_series(osp_mbatch *b, const osp_labels *sorted_labels, const int64_t *ts_ms,
                      const double *vals, size_t n)
{
    Osprey__Series *s = osp_malloc(sizeof(*s));
    osprey__series__init(s);
    s->labels = labels_copy(sorted_labels, &s->n_labels);
    if (n > 0) {
        /* pointer array followed by the Sample structs, one allocation */
        size_t psz = n * sizeof(Osprey__Sample *);
        char *blk = osp_malloc(psz + n * sizeof(Osprey__Sample));
        Osprey__Sample **pv = (Osprey__Sample **)(void *)blk;
        Osprey__Sample *sv = (Osprey__Sample *)(void *)(blk + psz);
        for (size_t i = 0; i < n; i++) {
            osprey__sample__init(&sv[i]);
            sv[i].timestamp_ms = ts_ms[i];
            sv[i].value = vals[i];
            pv[i] = &sv[i];
        }
        s->samples = pv;
        s->n_samples = n;
    }
    if (b->n_series == b->cap_series) {
        b->cap_series = b->cap_series ? b->cap_series * 2 : 16;
        b->series = osp_reallocarray(b->series, b->cap_series, sizeof(*b->series));
    }
    b->series[b->n_series++] = s;
    b->samples += n;
}

void
osp_mbatch_add_meta(osp_mbatch *b, const char *family, const char *type, const char *help,
                    const char *unit)
{
    Osprey__MetricMetadata *m = osp_malloc(sizeof(*m));
    osprey__metric_metadata__init(m);
    m->name = osp_strdup(family ? family : "");
    m->type = osp_strdup(type ? type : "");
    m->help = osp_strdup(help ? help : "");
    m->unit = osp_strdup(unit ? unit : "");
    if (b->n_meta == b->cap_meta) {
        b->cap_meta = b->cap_meta ? b->cap_meta * 2 : 8;
        b->meta = osp_reallocarray(b->meta, b->cap_meta, sizeof(*b->meta));
    }
    b->meta[b->n_meta++] = m;
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

static void
mbatch_view(const osp_mbatch *b, Osprey__MetricBatch *mb)
{
    osprey__metric_batch__init(mb);
    mb->series = b->series;
    mb->n_series = b->n_series;
    mb->metadata = b->meta;
    mb->n_metadata = b->n_meta;
}

size_t
osp_mbatch_packed_size(const osp_mbatch *b)
{
    Osprey__MetricBatch mb;
    mbatch_view(b, &mb);
    return osprey__metric_batch__get_packed_size(&mb);
}

int
osp_mbatch_encode(const osp_mbatch *b, osp_buf *out)
{
    Osprey__MetricBatch mb;
    mbatch_view(b, &mb);
    pack_append(&mb.base, out);
    return 0;
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

static void
put_varint(osp_buf *out, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (unsigned char)v;
    osp_buf_append(out, tmp, n);
}

void
osp_envelope_frame(osp_buf *out, const char *producer_id, uint64_t seq, int64_t sent_ms, char topic,
                   const void *batch, size_t len)
{
    /* Hand-written so the batch bytes are copied, not unpacked and repacked.
     * Field order and wire types follow proto/osprey.proto (Envelope). */
    size_t idlen = strlen(producer_id);
    osp_buf_reserve(out, idlen + len + 48);
    osp_buf_putc(out, (char)((1 << 3) | 2)); /* producer_id: string */
    put_varint(out, idlen);
    osp_buf_append(out, producer_id, idlen);
    osp_buf_putc(out, (char)((2 << 3) | 0)); /* seq: uint64 */
    put_varint(out, seq);
    osp_buf_putc(out, (char)((3 << 3) | 0)); /* sent_ms: int64 */
    put_varint(out, (uint64_t)sent_ms);
    osp_buf_putc(out, (char)(((topic == 'l' ? 11 : 10) << 3) | 2)); /* metrics | logs */
    put_varint(out, len);
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
