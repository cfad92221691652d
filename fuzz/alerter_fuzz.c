/* alerter_fuzz.c - libFuzzer target for the alerter's JSON parser (bodies of
 * POST /api/v2/alerts and /api/v2/silences come from the network). */
#include <stddef.h>
#include <stdint.h>

#include "alert_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    osp_arena *a = osp_arena_new(0);
    alert_json *j;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    if (alert_json_parse((const char *)data, size, a, &j, &ei) == 0)
        (void)alert_json_get(j, "labels");
    osp_arena_free(a);
    return 0;
}
