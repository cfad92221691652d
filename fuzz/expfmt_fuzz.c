/* expfmt_fuzz.c - libFuzzer target of the exposition parser: every input is
 * parsed in both dialects, and what parses is written back and re-parsed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz {
    osp_buf out;
    size_t labels;
} fz;

static int
on_sample(void *ctx, const osp_expfmt_sample *s)
{
    fz *f = ctx;
    /* Touch every byte of every view so ASan sees a bad one. */
    for (size_t i = 0; i < s->nlabels; i++)
        f->labels += s->labels[i].name.n + s->labels[i].value.n +
                     (size_t)(s->labels[i].value.p[s->labels[i].value.n - 1] == 0);
    osp_expfmt_write_parsed(&f->out, s);
    return 0;
}

static int
on_meta(void *ctx, const osp_expfmt_meta *m)
{
    fz *f = ctx;
    f->labels += m->name.n + m->help.n + m->unit.n + m->type_str.n;
    if (m->help.n > 0)
        f->labels += (size_t)(m->help.p[m->help.n - 1] == 0);
    return 0;
}

static void
on_error(void *ctx, const osp_expfmt_error *e)
{
    fz *f = ctx;
    f->labels += strlen(e->msg) + e->line_text.n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A heap copy of exactly size bytes: reading past it is caught. */
    char *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    if (size > 0)
        memcpy(buf, data, size);
    for (int d = OSP_EXPFMT_TEXT; d <= OSP_EXPFMT_OPENMETRICS; d++) {
        fz f = {.labels = 0};
        osp_buf_init(&f.out);
        osp_expfmt_handler h = {&f, on_sample, on_meta, on_error};
        osp_expfmt_stats st;
        osp_expfmt_parse((osp_expfmt_dialect)d, buf, size, &h, &st);
        /* What the writer emits must parse again without errors. */
        if (f.out.len > 0) {
            fz g = {.labels = 0};
            osp_buf_init(&g.out);
            osp_expfmt_handler h2 = {&g, on_sample, on_meta, on_error};
            osp_expfmt_parse(OSP_EXPFMT_TEXT, f.out.data, f.out.len, &h2, &st);
            if (st.errors != 0 || strcmp(osp_buf_cstr(&g.out), osp_buf_cstr(&f.out)) != 0)
                abort();
            osp_buf_fini(&g.out);
        }
        osp_buf_fini(&f.out);
    }
    free(buf);
    return 0;
}
