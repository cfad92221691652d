/* bus_fuzz.c - the store decodes Envelopes from the network: decoding arbitrary
 * bytes must fail cleanly or give an Envelope whose batches can be walked. */
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "osp_labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
