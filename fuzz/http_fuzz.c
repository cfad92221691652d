/* http_fuzz.c - libFuzzer target for the query-string/form parser and
 * percent-decoding (untrusted input of every HTTP endpoint), and gunzip. */
#include <stdint.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
sink(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    size_t *total = ctx;
    /* Touch every byte so ASan sees out-of-bounds results. */
    for (size_t i = 0; i < nlen; i++)
        *total += (unsigned char)name[i];
    for (size_t i = 0; i < vlen; i++)
        *total += (unsigned char)value[i];
    if (name[nlen] != '\0' || value[vlen] != '\0')
        __builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t total = 0;
    osp_errinfo ei;
    osp_http_parse_form((const char *)data, size, sink, &total, &ei);
    osp_buf b;
    osp_buf_init(&b);
    if (osp_http_urldecode((const char *)data, size, true, &b) == 0 && b.len > size)
        __builtin_trap();
    osp_buf_reset(&b);
    osp_http_gunzip(data, size, 1 << 20, &b, &ei);
    if (b.len > (1 << 20))
        __builtin_trap();
    osp_buf_fini(&b);
    return 0;
}
