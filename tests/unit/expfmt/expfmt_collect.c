/* expfmt_collect.c - the collecting handler behind the expfmt tests. */
#include "expfmt_collect.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "osp_mem.h"

void
xt_coll_init(xt_coll *c)
{
    memset(c, 0, sizeof(*c));
    osp_buf_init(&c->log);
}

static void
clear(xt_coll *c)
{
    for (size_t i = 0; i < c->n; i++) {
        osp_free(c->v[i].name);
        osp_labels_fini(&c->v[i].labels);
    }
    c->n = 0;
    osp_buf_reset(&c->log);
}

void
xt_coll_fini(xt_coll *c)
{
    clear(c);
    osp_free(c->v);
    osp_buf_fini(&c->log);
}

/* show: bytes with `\`, `"` and newline escaped, so logs stay one line. */
static void
show(osp_buf *b, osp_str s)
{
    for (size_t i = 0; i < s.n; i++) {
        char ch = s.p[i];
        if (ch == '\\' || ch == '"')
            osp_buf_putc(b, '\\');
        if (ch == '\n')
            osp_buf_puts(b, "\\n");
        else
            osp_buf_putc(b, ch);
    }
}

static int
on_sample(void *ctx, const osp_expfmt_sample *s)
{
    xt_coll *c = ctx;
    char num[32];
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = osp_reallocarray(c->v, c->cap, sizeof(*c->v));
    }
    xt_sample *x = &c->v[c->n++];
    x->name = osp_strndup(s->name.p, s->name.n);
    osp_labels_init(&x->labels);
    x->value = s->value;
    x->has_ts = s->has_ts;
    x->ts_ms = s->ts_ms;
    x->line = s->line;

    osp_buf_puts(&c->log, "S ");
    show(&c->log, s->name);
    for (size_t i = 0; i < s->nlabels; i++) {
        osp_labels_add(&x->labels, s->labels[i].name.p, s->labels[i].name.n, s->labels[i].value.p,
                       s->labels[i].value.n);
        osp_buf_putc(&c->log, i == 0 ? '{' : ',');
        show(&c->log, s->labels[i].name);
        osp_buf_putc(&c->log, '=');
        show(&c->log, s->labels[i].value);
    }
    if (s->nlabels > 0)
        osp_buf_putc(&c->log, '}');
    osp_fmt_double_expfmt(num, s->value);
    osp_buf_printf(&c->log, " %s", num);
    if (s->has_ts)
        osp_buf_printf(&c->log, " @%lld", (long long)s->ts_ms);
    if (s->type != OSP_EXPFMT_TYPE_NONE)
        osp_buf_printf(&c->log, " %s", osp_expfmt_type_name(s->type));
    osp_buf_putc(&c->log, '\n');
    return 0;
}

static int
on_meta(void *ctx, const osp_expfmt_meta *m)
{
    xt_coll *c = ctx;
    osp_buf_puts(&c->log, "M ");
    show(&c->log, m->name);
    if (m->type != OSP_EXPFMT_TYPE_NONE)
        osp_buf_printf(&c->log, " type=%.*s", (int)m->type_str.n, m->type_str.p);
    if (m->unit.n > 0)
        osp_buf_printf(&c->log, " unit=%.*s", (int)m->unit.n, m->unit.p);
    if (m->has_help) {
        osp_buf_puts(&c->log, " help=");
        show(&c->log, m->help);
    }
    osp_buf_putc(&c->log, '\n');
    return 0;
}

static void
on_error(void *ctx, const osp_expfmt_error *e)
{
    xt_coll *c = ctx;
    osp_buf_printf(&c->log, "E %d:%d %s\n", e->line, e->col, e->msg);
}

int
xt_parse(xt_coll *c, osp_expfmt_dialect d, const char *buf, size_t len)
{
    clear(c);
    osp_buf_puts(&c->log, ""); /* log.data is never NULL after this */
    osp_expfmt_handler h = {c, on_sample, on_meta, on_error};
    return osp_expfmt_parse(d, buf, len, &h, &c->st);
}

void
xt_write(const xt_coll *c, osp_buf *out)
{
    for (size_t i = 0; i < c->n; i++) {
        const xt_sample *x = &c->v[i];
        osp_expfmt_write_sample(out, x->name, &x->labels, x->value, x->has_ts, x->ts_ms);
    }
}

bool
xt_same(const xt_coll *a, const xt_coll *b, char *why, size_t whysz)
{
    if (a->n != b->n) {
        snprintf(why, whysz, "sample count %zu != %zu", a->n, b->n);
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        const xt_sample *x = &a->v[i], *y = &b->v[i];
        bool val = x->value == y->value || (isnan(x->value) && isnan(y->value));
        bool lab = x->labels.n == y->labels.n;
        for (size_t j = 0; lab && j < x->labels.n; j++)
            lab = strcmp(x->labels.v[j].name, y->labels.v[j].name) == 0 &&
                  strcmp(x->labels.v[j].value, y->labels.v[j].value) == 0;
        if (strcmp(x->name, y->name) != 0 || !val || !lab || x->has_ts != y->has_ts ||
            x->ts_ms != y->ts_ms) {
            snprintf(why, whysz, "sample %zu (%s, line %d) differs from (%s, line %d)", i, x->name,
                     x->line, y->name, y->line);
            return false;
        }
    }
    return true;
}
