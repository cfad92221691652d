/* promql_series.c - series sets that sources fill, label-array helpers of the evaluator,
 * and the JSON form of results. */
#include "promql_funcs.h"

#include <assert.h>
#include <inttypes.h>
#include "osp_mem.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
label_cmp(const void *a, const void *b)
{
    return strcmp(((const osp_label *)a)->name, ((const osp_label *)b)->name);
}

osp_promql_series *
osp_promql_series_set_add_raw(osp_promql_series_set *set, osp_arena *a, const osp_label *labels,
                              size_t nl)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        osp_promql_series **nv = osp_arena_alloc(a, cap * sizeof(*nv));
        if (set->n)
            memcpy(nv, set->v, set->n * sizeof(*nv));
        set->v = nv;
        set->cap = cap;
    }
    osp_promql_series *s = osp_arena_calloc(a, sizeof(*s));
    s->labels = osp_arena_alloc(a, (nl ? nl : 1) * sizeof(osp_label));
    bool sorted = true;
    for (size_t i = 0; i < nl; i++) {
        s->labels[i].name = osp_arena_strndup(a, labels[i].name, strlen(labels[i].name));
        s->labels[i].value = osp_arena_strndup(a, labels[i].value, strlen(labels[i].value));
        if (i > 0 && strcmp(labels[i - 1].name, labels[i].name) > 0)
            sorted = false;
    }
    if (!sorted)
        osp_qsort(s->labels, nl, sizeof(osp_label), label_cmp);
    s->nlabels = nl;
    set->v[set->n++] = s;
    return s;
}

osp_promql_series *
osp_promql_series_set_add(osp_promql_series_set *set, osp_arena *a, const osp_labels *labels)
{
    return osp_promql_series_set_add_raw(set, a, labels->v, labels->n);
}

static void
grow_points(osp_promql_series *s, osp_arena *a, size_t need)
{
    if (s->npts + need <= s->cap)
        return;
    /* doubling, or exactly what a bulk append needs (a selection's series get their
     * points in one go: rounding up would waste up to half of every array) */
    size_t cap = s->cap ? s->cap * 2 : 16;
    if (cap < s->npts + need)
        cap = s->npts + need;
    osp_promql_point *np = osp_arena_alloc(a, cap * sizeof(*np));
    if (s->npts)
        memcpy(np, s->pts, s->npts * sizeof(*np));
    s->pts = np;
    s->cap = cap;
}

void
osp_promql_series_push(osp_promql_series *s, osp_arena *a, int64_t t_ms, double v)
{
    grow_points(s, a, 1);
    s->pts[s->npts++] = (osp_promql_point){t_ms, v};
}

void
osp_promql_series_push_many(osp_promql_series *s, osp_arena *a, const int64_t *t_ms,
                            const double *v, size_t n)
{
    grow_points(s, a, n);
    for (size_t i = 0; i < n; i++)
        s->pts[s->npts++] = (osp_promql_point){t_ms[i], v[i]};
}

void
osp_promql_series_adopt(osp_promql_series *s, osp_promql_point *pts, size_t n)
{
    assert(s->npts == 0);
    s->pts = pts;
    s->npts = n;
    s->cap = n;
}

void
vec_push(vec *v, osp_arena *a, sample s)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        sample *nv = osp_arena_alloc(a, cap * sizeof(*nv));
        if (v->n)
            memcpy(nv, v->v, v->n * sizeof(*nv));
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = s;
}

void
mat_push(mat *m, osp_arena *a, mser s)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        mser *nv = osp_arena_alloc(a, cap * sizeof(*nv));
        if (m->n)
            memcpy(nv, m->v, m->n * sizeof(*nv));
        m->v = nv;
        m->cap = cap;
    }
    m->v[m->n++] = s;
}

const char *
lbl_get(const osp_label *l, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].name, name) == 0)
            return l[i].value;
    return NULL;
}

void
lbl_drop_name(osp_arena *a, osp_label **l, size_t *n)
{
    /* sorted labels usually start with __name__: share the tail instead of copying */
    if (*n > 0 && strcmp((*l)[0].name, "__name__") == 0) {
        (*l)++;
        (*n)--;
        return;
    }
    lbl_set(a, l, n, "__name__", "");
}

void
lbl_set(osp_arena *a, osp_label **l, size_t *n, const char *name, const char *val)
{
    const char *old = lbl_get(*l, *n, name);
    if ((old == NULL && val[0] == '\0') || (old != NULL && strcmp(old, val) == 0))
        return;
    osp_label *nl = osp_arena_alloc(a, (*n + 1) * sizeof(*nl));
    size_t k = 0;
    bool done = val[0] == '\0';
    for (size_t i = 0; i < *n; i++) {
        int c = strcmp((*l)[i].name, name);
        if (c == 0)
            continue;
        if (c > 0 && !done) {
            nl[k++] = (osp_label){(char *)name, (char *)val};
            done = true;
        }
        nl[k++] = (*l)[i];
    }
    if (!done)
        nl[k++] = (osp_label){(char *)name, (char *)val};
    *l = nl;
    *n = k;
}

int
lbl_cmp(const osp_label *a, size_t na, const osp_label *b, size_t nb)
{
    for (size_t i = 0; i < na && i < nb; i++) {
        int c = strcmp(a[i].name, b[i].name);
        if (c != 0)
            return c;
        c = strcmp(a[i].value, b[i].value);
        if (c != 0)
            return c;
    }
    return na < nb ? -1 : na > nb ? 1 : 0;
}

static uint64_t
mix(uint64_t h, const char *s)
{
    size_t n = strlen(s);
    return osp_hash64(s, n + 1, h * 0x9e3779b97f4a7c15ULL + 1);
}

uint64_t
lbl_hash(const osp_label *l, size_t n)
{
    uint64_t h = 0x1234;
    for (size_t i = 0; i < n; i++) {
        h = mix(h, l[i].name);
        h = mix(h, l[i].value);
    }
    return h;
}

static bool
in_list(const char *s, const char **names, size_t nn)
{
    for (size_t i = 0; i < nn; i++)
        if (strcmp(s, names[i]) == 0)
            return true;
    return false;
}

uint64_t
lbl_sig(const osp_label *l, size_t n, const char **names, size_t nn, bool on)
{
    uint64_t h = 0x5678;
    for (size_t i = 0; i < n; i++) {
        bool in = in_list(l[i].name, names, nn);
        if (on ? !in : (in || strcmp(l[i].name, "__name__") == 0))
            continue;
        h = mix(h, l[i].name);
        h = mix(h, l[i].value);
    }
    return h;
}

void
lbl_keep(osp_arena *a, const osp_label *l, size_t n, const char **names, size_t nn, bool on,
         osp_label **out, size_t *outn)
{
    osp_label *r = osp_arena_alloc(a, (n ? n : 1) * sizeof(*r));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool in = in_list(l[i].name, names, nn);
        if (on ? !in : (in || strcmp(l[i].name, "__name__") == 0))
            continue;
        r[k++] = l[i];
    }
    *out = r;
    *outn = k;
}

void
osp_promql_fmt_ts(osp_buf *out, int64_t t_ms)
{
    char ts[32];
    osp_buf_append(out, ts, (size_t)osp_promql_fmt_ts_c(ts, t_ms));
}

static void
put_point(osp_buf *out, int64_t t, double v)
{
    char tmp[80];
    char *o = tmp;
    *o++ = '[';
    o += osp_promql_fmt_ts_c(o, t);
    *o++ = ',';
    *o++ = '"';
    o += osp_fmt_double(o, v);
    *o++ = '"';
    *o++ = ']';
    osp_buf_append(out, tmp, (size_t)(o - tmp));
}

static void
put_metric(osp_buf *out, const osp_promql_series *s)
{
    osp_buf_puts(out, "{\"metric\":{");
    for (size_t i = 0; i < s->nlabels; i++) {
        if (i)
            osp_buf_putc(out, ',');
        osp_buf_json_cstr(out, s->labels[i].name);
        osp_buf_putc(out, ':');
        osp_buf_json_cstr(out, s->labels[i].value);
    }
    osp_buf_puts(out, "},");
}

void
osp_promql_result_json(const osp_promql_result *r, osp_buf *out)
{
    static const char *const names[] = {"scalar", "string", "vector", "matrix"};
    osp_buf_printf(out, "{\"resultType\":\"%s\",\"result\":", names[r->type]);
    switch (r->type) {
    case OSP_PROMQL_SCALAR: put_point(out, r->t_ms, r->scalar); break;
    case OSP_PROMQL_STRING:
        osp_buf_putc(out, '[');
        osp_promql_fmt_ts(out, r->t_ms);
        osp_buf_putc(out, ',');
        osp_buf_json_cstr(out, r->str);
        osp_buf_putc(out, ']');
        break;
    case OSP_PROMQL_VECTOR:
    case OSP_PROMQL_MATRIX:
        osp_buf_putc(out, '[');
        for (size_t i = 0; i < r->nseries; i++) {
            const osp_promql_series *s = &r->series[i];
            if (i)
                osp_buf_putc(out, ',');
            put_metric(out, s);
            if (r->type == OSP_PROMQL_VECTOR) {
                osp_buf_puts(out, "\"value\":");
                put_point(out, s->pts[0].t, s->pts[0].v);
            } else {
                osp_buf_puts(out, "\"values\":[");
                for (size_t j = 0; j < s->npts; j++) {
                    if (j)
                        osp_buf_putc(out, ',');
                    put_point(out, s->pts[j].t, s->pts[j].v);
                }
                osp_buf_putc(out, ']');
            }
            osp_buf_putc(out, '}');
        }
        osp_buf_putc(out, ']');
        break;
    }
    osp_buf_putc(out, '}');
}

void
osp_promql_result_free(osp_promql_result *r)
{
    if (r == NULL)
        return;
    osp_arena_free(r->arena);
    osp_free(r);
}

void
promql_fmt_float_f(char *out, size_t outsz, double v)
{
    char s[32];
    osp_fmt_double(s, v);
    char *e = strchr(s, 'e');
    if (e == NULL || strcmp(s, "NaN") == 0) {
        snprintf(out, outsz, "%s", s);
        return;
    }
    /* mantissa digits and exponent -> plain decimal */
    int exp = atoi(e + 1);
    *e = '\0';
    char digits[32];
    size_t nd = 0;
    int point = -1;
    bool neg = s[0] == '-';
    for (const char *p = s + (neg ? 1 : 0); *p; p++) {
        if (*p == '.')
            point = (int)nd;
        else
            digits[nd++] = *p;
    }
    if (point < 0)
        point = (int)nd;
    int dp = point + exp; /* position of the decimal point in digits */
    osp_buf b;
    osp_buf_init(&b);
    if (neg)
        osp_buf_putc(&b, '-');
    if (dp <= 0) {
        osp_buf_puts(&b, "0.");
        for (int i = 0; i < -dp; i++)
            osp_buf_putc(&b, '0');
        osp_buf_append(&b, digits, nd);
    } else if ((size_t)dp >= nd) {
        osp_buf_append(&b, digits, nd);
        for (size_t i = nd; i < (size_t)dp; i++)
            osp_buf_putc(&b, '0');
    } else {
        osp_buf_append(&b, digits, (size_t)dp);
        osp_buf_putc(&b, '.');
        osp_buf_append(&b, digits + dp, nd - (size_t)dp);
    }
    snprintf(out, outsz, "%s", osp_buf_cstr(&b));
    osp_buf_fini(&b);
}
