/* promql_memsource.c - an in-memory series source: a flat list of series with sorted
 * labels and time-ordered samples, scanned linearly by select (tests, conformance). */
#include "promql_int.h"

#include <string.h>

#include "osp_mem.h"

typedef struct mseries {
    osp_labels labels;
    uint64_t hash;
    osp_promql_point *pts;
    size_t n, cap;
} mseries;

struct osp_promql_memsource {
    mseries *v;
    size_t n, cap;
};

osp_promql_memsource *
osp_promql_memsource_new(void)
{
    return osp_calloc(1, sizeof(osp_promql_memsource));
}

void
osp_promql_memsource_clear(osp_promql_memsource *ms)
{
    for (size_t i = 0; i < ms->n; i++) {
        osp_labels_fini(&ms->v[i].labels);
        osp_free(ms->v[i].pts);
    }
    ms->n = 0;
}

void
osp_promql_memsource_free(osp_promql_memsource *ms)
{
    if (ms == NULL)
        return;
    osp_promql_memsource_clear(ms);
    osp_free(ms->v);
    osp_free(ms);
}

static mseries *
find_or_add(osp_promql_memsource *ms, const osp_labels *labels)
{
    osp_labels ls;
    osp_labels_init(&ls);
    for (size_t i = 0; i < labels->n; i++)
        if (labels->v[i].value[0] != '\0')
            osp_labels_addc(&ls, labels->v[i].name, labels->v[i].value);
    osp_labels_sort(&ls);
    uint64_t h = osp_labels_hash(&ls);
    for (size_t i = 0; i < ms->n; i++)
        if (ms->v[i].hash == h && osp_labels_equal(&ms->v[i].labels, &ls)) {
            osp_labels_fini(&ls);
            return &ms->v[i];
        }
    if (ms->n == ms->cap) {
        ms->cap = ms->cap ? ms->cap * 2 : 16;
        ms->v = osp_reallocarray(ms->v, ms->cap, sizeof(*ms->v));
    }
    mseries *s = &ms->v[ms->n++];
    memset(s, 0, sizeof(*s));
    s->labels = ls;
    s->hash = h;
    return s;
}

int
osp_promql_memsource_add(osp_promql_memsource *ms, const osp_labels *labels, int64_t t_ms, double v)
{
    mseries *s = find_or_add(ms, labels);
    if (s->n > 0 && s->pts[s->n - 1].t > t_ms)
        return OSP_EINVAL;
    if (s->n > 0 && s->pts[s->n - 1].t == t_ms) {
        s->pts[s->n - 1].v = v;
        return 0;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->pts = osp_reallocarray(s->pts, s->cap, sizeof(*s->pts));
    }
    s->pts[s->n++] = (osp_promql_point){t_ms, v};
    return 0;
}

static bool
series_matches(const mseries *s, const osp_matcher *m, size_t nm)
{
    for (size_t i = 0; i < nm; i++) {
        const char *v = osp_labels_get(&s->labels, m[i].name);
        if (!osp_matcher_matches(&m[i], v ? v : ""))
            return false;
    }
    return true;
}

static int
mem_select(void *ctx, const osp_matcher *m, size_t nm, int64_t mint, int64_t maxt,
           osp_promql_series_set *out, osp_arena *a)
{
    osp_promql_memsource *ms = ctx;
    for (size_t i = 0; i < ms->n; i++) {
        const mseries *s = &ms->v[i];
        if (!series_matches(s, m, nm))
            continue;
        size_t lo = 0, hi = s->n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (s->pts[mid].t < mint)
                lo = mid + 1;
            else
                hi = mid;
        }
        size_t end = lo;
        while (end < s->n && s->pts[end].t <= maxt)
            end++;
        if (end == lo)
            continue;
        osp_promql_series *os = osp_promql_series_set_add(out, a, &s->labels);
        os->pts = osp_arena_alloc(a, (end - lo) * sizeof(osp_promql_point));
        memcpy(os->pts, s->pts + lo, (end - lo) * sizeof(osp_promql_point));
        os->npts = os->cap = end - lo;
    }
    return 0;
}

osp_promql_source
osp_promql_memsource_source(osp_promql_memsource *ms)
{
    return (osp_promql_source){ms, mem_select};
}
