/* promql_fuzz.c - libFuzzer target: parse a query; when it parses, format it, re-parse the
 * formatted form (must succeed and format identically), and evaluate it on a tiny source. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osp_mem.h"
#include "promql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static osp_promql_memsource *ms;

static void
setup(void)
{
    ms = osp_promql_memsource_new();
    osp_labels l;
    osp_labels_init(&l);
    osp_labels_addc(&l, "__name__", "up");
    osp_labels_addc(&l, "job", "a");
    for (int i = 0; i < 20; i++)
        osp_promql_memsource_add(ms, &l, i * 15000, i);
    osp_labels_set(&l, "job", "b");
    osp_labels_addc(&l, "le", "0.5");
    for (int i = 0; i < 20; i++)
        osp_promql_memsource_add(ms, &l, i * 15000, i % 7 == 3 ? osp_promql_stale_nan() : i * 2);
    osp_labels_fini(&l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ms == NULL)
        setup();
    if (size > 4096)
        return 0;
    osp_promql_expr *e = NULL;
    osp_errinfo ei;
    if (osp_promql_parse((const char *)data, size, &e, &ei) != 0)
        return 0;
    osp_buf b1, b2;
    osp_buf_init(&b1);
    osp_buf_init(&b2);
    osp_promql_format(e, &b1);
    osp_promql_expr *e2 = NULL;
    if (osp_promql_parse(b1.data, b1.len, &e2, &ei) != 0)
        abort();
    osp_promql_format(e2, &b2);
    if (strcmp(osp_buf_cstr(&b1), osp_buf_cstr(&b2)) != 0)
        abort();
    osp_promql_source src = osp_promql_memsource_source(ms);
    osp_promql_opts opts = {.max_samples = 100000, .timeout_ms = 200};
    osp_promql_result *r = NULL;
    if (osp_promql_eval_instant(e, &src, 300000, &opts, &r, &ei) == 0) {
        osp_buf_reset(&b1);
        osp_promql_result_json(r, &b1);
        osp_promql_result_free(r);
    }
    osp_promql_expr_free(e2);
    osp_promql_expr_free(e);
    osp_buf_fini(&b1);
    osp_buf_fini(&b2);
    return 0;
}
