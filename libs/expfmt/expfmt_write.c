/* expfmt_write.c - text 0.0.4 writer (HELP, TYPE, sample lines), canonical
 * float label text, and dialect choice from a Content-Type. */
#include "expfmt.h"

#include <math.h>
#include <string.h>
#include <strings.h>

static bool
blank(char c)
{
    return c == ' ' || c == '\t';
}

osp_expfmt_dialect
osp_expfmt_dialect_from_content_type(const char *ct)
{
    static const char om[] = "application/openmetrics-text";
    if (ct == NULL)
        return OSP_EXPFMT_TEXT;
    while (blank(*ct))
        ct++;
    size_t n = strcspn(ct, ";");
    while (n > 0 && blank(ct[n - 1]))
        n--;
    if (n == sizeof(om) - 1 && strncasecmp(ct, om, n) == 0)
        return OSP_EXPFMT_OPENMETRICS;
    return OSP_EXPFMT_TEXT;
}

int
osp_expfmt_format_float_label(char *out, double v)
{
    if (v == 0)
        v = 0; /* -0 is written "0.0", as Go's formatOpenMetricsFloat does */
    int n = osp_fmt_double_expfmt(out, v);
    if (isnan(v) || isinf(v) || strpbrk(out, ".e") != NULL)
        return n;
    out[n++] = '.';
    out[n++] = '0';
    out[n] = '\0';
    return n;
}

/* escape: append s[0..n) escaping `\`, newline and, for label values, `"`. */
static void
escape(osp_buf *b, const char *s, size_t n, bool quote)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c != '\\' && c != '\n' && !(quote && c == '"'))
            continue;
        osp_buf_append(b, s + run, i - run);
        osp_buf_putc(b, '\\');
        osp_buf_putc(b, c == '\n' ? 'n' : c);
        run = i + 1;
    }
    osp_buf_append(b, s + run, n - run);
}

void
osp_expfmt_write_help(osp_buf *b, const char *name, const char *help)
{
    osp_buf_puts(b, "# HELP ");
    osp_buf_puts(b, name);
    osp_buf_putc(b, ' ');
    if (help != NULL)
        escape(b, help, strlen(help), false);
    osp_buf_putc(b, '\n');
}

void
osp_expfmt_write_type(osp_buf *b, const char *name, const char *type)
{
    osp_buf_puts(b, "# TYPE ");
    osp_buf_puts(b, name);
    osp_buf_putc(b, ' ');
    osp_buf_puts(b, type);
    osp_buf_putc(b, '\n');
}

/* put_name: a name, quoted (text 1.0.0) when outside the legacy charset. */
static void
put_name(osp_buf *b, osp_str s, bool metric)
{
    bool ok = metric ? osp_metric_name_valid(s.p, s.n) : osp_label_name_valid(s.p, s.n);
    if (ok) {
        osp_buf_append(b, s.p, s.n);
        return;
    }
    osp_buf_putc(b, '"');
    escape(b, s.p, s.n, true);
    osp_buf_putc(b, '"');
}

/* Writer state of one line: the name goes inside the braces when quoted. */
typedef struct line_w {
    osp_buf *b;
    bool open;
} line_w;

static void
line_begin(line_w *w, osp_str name)
{
    w->open = !osp_metric_name_valid(name.p, name.n);
    if (w->open)
        osp_buf_putc(w->b, '{');
    put_name(w->b, name, true);
}

static void
line_label(line_w *w, osp_str name, osp_str value)
{
    if (value.n == 0 || osp_str_eqc(name, "__name__"))
        return;
    osp_buf_putc(w->b, w->open ? ',' : '{');
    w->open = true;
    put_name(w->b, name, false);
    osp_buf_puts(w->b, "=\"");
    escape(w->b, value.p, value.n, true);
    osp_buf_putc(w->b, '"');
}

static void
line_end(line_w *w, double value, bool has_ts, int64_t ts_ms)
{
    char num[32];
    if (w->open)
        osp_buf_putc(w->b, '}');
    osp_buf_putc(w->b, ' ');
    osp_buf_append(w->b, num, (size_t)osp_fmt_double_expfmt(num, value));
    if (has_ts)
        osp_buf_printf(w->b, " %lld", (long long)ts_ms);
    osp_buf_putc(w->b, '\n');
}

void
osp_expfmt_write_sample(osp_buf *b, const char *name, const osp_labels *labels, double value,
                        bool has_ts, int64_t ts_ms)
{
    line_w w = {b, false};
    line_begin(&w, osp_str_c(name));
    for (size_t i = 0; labels != NULL && i < labels->n; i++)
        line_label(&w, osp_str_c(labels->v[i].name), osp_str_c(labels->v[i].value));
    line_end(&w, value, has_ts, ts_ms);
}

void
osp_expfmt_write_parsed(osp_buf *b, const osp_expfmt_sample *s)
{
    line_w w = {b, false};
    line_begin(&w, s->name);
    for (size_t i = 0; i < s->nlabels; i++)
        line_label(&w, s->labels[i].name, s->labels[i].value);
    line_end(&w, s->value, s->has_ts, s->ts_ms);
}
