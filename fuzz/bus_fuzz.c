/* bus_fuzz.c - the store decodes Envelopes from the network: decoding arbitrary
 * bytes must fail cleanly or give an Envelope whose batches can be walked, and
 * the zero-copy reader (bus_wire.h) must accept exactly what protobuf-c
 * accepts and read the same values from it (abort otherwise). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "bus_wire.h"
#include "osp_labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
same_str(const char *c, osp_wire_view v)
{
    size_t n = osp_wire_cstr_len(v);
    if (c == NULL || strlen(c) != n || memcmp(c, v.p, n) != 0)
        abort();
}

static void
same_series(const Osprey__Series *s, osp_wire_view msg)
{
    osp_wire_series ws;
    osp_wire_series_scan(msg, &ws);
    if (ws.n_labels != s->n_labels || ws.n_samples != s->n_samples)
        abort();
    osp_wire_it it;
    osp_wire_it_init(&it, msg);
    osp_wire_view nv, vv;
    size_t k = 0;
    while (osp_wire_next_label(&it, &nv, &vv)) {
        if (k >= s->n_labels)
            abort();
        same_str(s->labels[k]->name, nv);
        same_str(s->labels[k]->value, vv);
        k++;
    }
    if (k != s->n_labels)
        abort();
    osp_wire_it_init(&it, msg);
    int64_t t;
    double v;
    k = 0;
    while (osp_wire_next_sample(&it, &t, &v)) {
        if (k >= s->n_samples || t != s->samples[k]->timestamp_ms ||
            memcmp(&v, &s->samples[k]->value, sizeof(v)) != 0)
            abort();
        k++;
    }
    if (k != s->n_samples)
        abort();
}

static void
compare_decoders(const uint8_t *data, size_t size)
{
    Osprey__Envelope *env = NULL;
    osp_wire_env w;
    int rc1 = osp_envelope_decode(data, size, &env);
    int rc2 = osp_wire_envelope(data, size, &w);
    if ((rc1 == 0) != (rc2 == 0))
        abort();
    if (rc1 != 0)
        return;
    same_str(env->producer_id, w.producer_id);
    if (env->seq != w.seq || env->sent_ms != w.sent_ms || (int)env->payload_case != w.payload_case)
        abort();
    if (env->payload_case == OSPREY__ENVELOPE__PAYLOAD_METRICS) {
        const Osprey__MetricBatch *mb = env->metrics;
        size_t ns = 0, nm = 0;
        osp_wire_it it;
        osp_wire_it_init(&it, w.payload);
        int field;
        osp_wire_view msg;
        while (osp_wire_mbatch_next(&it, &field, &msg)) {
            if (field == 1) {
                if (ns >= mb->n_series)
                    abort();
                same_series(mb->series[ns++], msg);
            } else {
                if (nm >= mb->n_metadata)
                    abort();
                const Osprey__MetricMetadata *m = mb->metadata[nm++];
                osp_wire_view n, t, h, u;
                osp_wire_metadata(msg, &n, &t, &h, &u);
                same_str(m->name, n);
                same_str(m->type, t);
                same_str(m->help, h);
                same_str(m->unit, u);
            }
        }
        if (ns != mb->n_series || nm != mb->n_metadata)
            abort();
    }
    osp_envelope_free(env);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    compare_decoders(data, size);
    Osprey__Envelope *env = NULL;
    if (osp_envelope_decode(data, size, &env) != 0)
        return 0;
    if (env->payload_case == OSPREY__ENVELOPE__PAYLOAD_METRICS && env->metrics != NULL) {
        osp_labels ls;
        osp_labels_init(&ls);
        for (size_t i = 0; i < env->metrics->n_series; i++) {
            const Osprey__Series *s = env->metrics->series[i];
            osp_labels_reset(&ls);
            osp_pb_labels(s->labels, s->n_labels, &ls);
            osp_labels_sort(&ls);
            (void)osp_labels_hash(&ls);
        }
        osp_labels_fini(&ls);
    }
    osp_envelope_free(env);
    return 0;
}
