/* metrics.c - the self-metrics registry: families and children under one
 * mutex, values as lock-free atomic doubles, text exposition rendering. */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_int.h"
#include "osp_labels.h"
#include "osp_mem.h"

static const double default_buckets[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};

const double *
osp_metrics_default_buckets(size_t *nb)
{
    *nb = sizeof(default_buckets) / sizeof(default_buckets[0]);
    return default_buckets;
}

static void
die(const char *what, const char *name)
{
    fprintf(stderr, "osp_metrics: %s: %s\n", what, name);
    abort();
}

/* Atomic doubles are stored as their bit patterns. */
static uint64_t
d2u(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    return u;
}

static double
u2d(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

static void
atomic_add_double(_Atomic uint64_t *p, double v)
{
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(p, &old, d2u(u2d(old) + v), memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

osp_metrics *
osp_metrics_new(void)
{
    osp_metrics *reg = osp_calloc(1, sizeof(*reg));
    pthread_mutex_init(&reg->mu, NULL);
    return reg;
}

static void
series_free(osp_metric *m, size_t nlabels)
{
    for (size_t i = 0; m->values != NULL && i < nlabels; i++)
        osp_free(m->values[i]);
    osp_free(m->values);
    osp_free(m->counts);
}

static void
family_free(osp_family *f)
{
    for (size_t i = 0; i < f->nchildren; i++) {
        series_free(f->children[i], f->nlabels);
        osp_free(f->children[i]);
    }
    osp_free(f->children);
    series_free(&f->head, 0);
    for (size_t i = 0; i < f->nlabels; i++)
        osp_free(f->label_names[i]);
    osp_free(f->label_names);
    osp_free(f->buckets);
    osp_free(f->name);
    osp_free(f->help);
    osp_free(f);
}

void
osp_metrics_free(osp_metrics *reg)
{
    if (reg == NULL)
        return;
    for (size_t i = 0; i < reg->nfams; i++)
        family_free(reg->fams[i]);
    osp_free(reg->fams);
    osp_free(reg->collectors);
    pthread_mutex_destroy(&reg->mu);
    osp_free(reg);
}

static void
series_init(osp_metric *m, osp_family *f)
{
    m->fam = f;
    if (f->kind == OSP_MK_HISTOGRAM)
        m->counts = osp_calloc(f->nb + 1, sizeof(*m->counts));
}

static bool
same_shape(const osp_family *f, osp_mkind kind, bool vec, const double *buckets, size_t nb,
           size_t nlabels, const char *const *names)
{
    if (f->kind != kind || f->is_vec != vec || f->nlabels != nlabels || f->fn != NULL)
        return false;
    for (size_t i = 0; i < nlabels; i++)
        if (strcmp(f->label_names[i], names[i]) != 0)
            return false;
    if (kind == OSP_MK_HISTOGRAM) {
        if (f->nb != nb)
            return false;
        for (size_t i = 0; i < nb; i++)
            if (f->buckets[i] != buckets[i])
                return false;
    }
    return true;
}

/* Find the index where name is or would be inserted (fams stay sorted). */
static size_t
find_family(const osp_metrics *reg, const char *name, bool *found)
{
    size_t lo = 0, hi = reg->nfams;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(reg->fams[mid]->name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static osp_family *
family_get(osp_metrics *reg, osp_mkind kind, bool vec, const char *name, const char *help,
           const double *buckets, size_t nb, size_t nlabels, const char *const *names,
           double (*fn)(void *), void *ctx)
{
    if (name == NULL || !osp_metric_name_valid(name, strlen(name)))
        die("invalid metric name", name ? name : "(null)");
    for (size_t i = 0; i < nlabels; i++) {
        if (!osp_label_name_valid(names[i], strlen(names[i])) || strncmp(names[i], "__", 2) == 0)
            die("invalid label name", names[i]);
        if (kind == OSP_MK_HISTOGRAM && strcmp(names[i], "le") == 0)
            die("histogram label \"le\" is reserved", name);
    }
    if (kind == OSP_MK_HISTOGRAM && (buckets == NULL || nb == 0))
        buckets = osp_metrics_default_buckets(&nb);
    for (size_t i = 0; kind == OSP_MK_HISTOGRAM && i < nb; i++)
        if (isnan(buckets[i]) || isinf(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
            die("histogram buckets must be finite and strictly increasing", name);

    pthread_mutex_lock(&reg->mu);
    bool found;
    size_t at = find_family(reg, name, &found);
    if (found) {
        osp_family *f = reg->fams[at];
        bool ok = fn != NULL ? (f->fn == fn && f->ctx == ctx && f->kind == kind)
                             : same_shape(f, kind, vec, buckets, nb, nlabels, names);
        pthread_mutex_unlock(&reg->mu);
        if (!ok)
            die("metric registered twice with a different shape", name);
        return f;
    }
    osp_family *f = osp_calloc(1, sizeof(*f));
    f->name = osp_strdup(name);
    f->help = osp_strdup(help ? help : "");
    f->kind = kind;
    f->is_vec = vec;
    f->fn = fn;
    f->ctx = ctx;
    f->nlabels = nlabels;
    if (nlabels > 0) {
        f->label_names = osp_calloc(nlabels, sizeof(char *));
        for (size_t i = 0; i < nlabels; i++)
            f->label_names[i] = osp_strdup(names[i]);
    }
    if (kind == OSP_MK_HISTOGRAM) {
        f->nb = nb;
        f->buckets = osp_calloc(nb, sizeof(double));
        memcpy(f->buckets, buckets, nb * sizeof(double));
    }
    series_init(&f->head, f);
    f->head.is_vec = vec;
    if (reg->nfams == reg->capfams) {
        reg->capfams = reg->capfams ? reg->capfams * 2 : 16;
        reg->fams = osp_reallocarray(reg->fams, reg->capfams, sizeof(*reg->fams));
    }
    memmove(reg->fams + at + 1, reg->fams + at, (reg->nfams - at) * sizeof(*reg->fams));
    reg->fams[at] = f;
    reg->nfams++;
    f->reg = reg;
    pthread_mutex_unlock(&reg->mu);
    return f;
}

osp_metric *
osp_metrics_counter(osp_metrics *reg, const char *name, const char *help)
{
    return &family_get(reg, OSP_MK_COUNTER, false, name, help, NULL, 0, 0, NULL, NULL, NULL)->head;
}

osp_metric *
osp_metrics_gauge(osp_metrics *reg, const char *name, const char *help)
{
    return &family_get(reg, OSP_MK_GAUGE, false, name, help, NULL, 0, 0, NULL, NULL, NULL)->head;
}

osp_metric *
osp_metrics_histogram(osp_metrics *reg, const char *name, const char *help, const double *buckets,
                      size_t nb)
{
    return &family_get(reg, OSP_MK_HISTOGRAM, false, name, help, buckets, nb, 0, NULL, NULL, NULL)
                ->head;
}

osp_metric *
osp_metrics_counter_vec(osp_metrics *reg, const char *name, const char *help, size_t nlabels,
                        const char *const *label_names)
{
    return &family_get(reg, OSP_MK_COUNTER, true, name, help, NULL, 0, nlabels, label_names, NULL,
                       NULL)
                ->head;
}

osp_metric *
osp_metrics_gauge_vec(osp_metrics *reg, const char *name, const char *help, size_t nlabels,
                      const char *const *label_names)
{
    return &family_get(reg, OSP_MK_GAUGE, true, name, help, NULL, 0, nlabels, label_names, NULL,
                       NULL)
                ->head;
}

osp_metric *
osp_metrics_histogram_vec(osp_metrics *reg, const char *name, const char *help,
                          const double *buckets, size_t nb, size_t nlabels,
                          const char *const *label_names)
{
    return &family_get(reg, OSP_MK_HISTOGRAM, true, name, help, buckets, nb, nlabels, label_names,
                       NULL, NULL)
                ->head;
}

void
osp_metrics_gauge_func(osp_metrics *reg, const char *name, const char *help,
                       double (*fn)(void *ctx), void *ctx)
{
    family_get(reg, OSP_MK_GAUGE, false, name, help, NULL, 0, 0, NULL, fn, ctx);
}

void
osp_metrics_counter_func(osp_metrics *reg, const char *name, const char *help,
                         double (*fn)(void *ctx), void *ctx)
{
    family_get(reg, OSP_MK_COUNTER, false, name, help, NULL, 0, 0, NULL, fn, ctx);
}

void
osp_metrics_add_collector(osp_metrics *reg, void (*fn)(void *ctx, osp_buf *out), void *ctx)
{
    pthread_mutex_lock(&reg->mu);
    reg->collectors =
        osp_reallocarray(reg->collectors, reg->ncollectors + 1, sizeof(*reg->collectors));
    reg->collectors[reg->ncollectors].fn = fn;
    reg->collectors[reg->ncollectors].ctx = ctx;
    reg->ncollectors++;
    pthread_mutex_unlock(&reg->mu);
}

static int
cmp_values(char *const *a, const char *const *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int c = strcmp(a[i], b[i]);
        if (c != 0)
            return c;
    }
    return 0;
}

/* Binary search of the sorted children; caller holds the lock. */
static size_t
find_child(const osp_family *f, const char *const *values, bool *found)
{
    size_t lo = 0, hi = f->nchildren;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_values(f->children[mid]->values, values, f->nlabels);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static void
series_zero(osp_metric *m)
{
    atomic_store(&m->val, d2u(0));
    atomic_store(&m->sum, d2u(0));
    atomic_store(&m->count, 0);
    for (size_t i = 0; m->counts != NULL && i <= m->fam->nb; i++)
        atomic_store(&m->counts[i], 0);
}

osp_metric *
osp_metric_with(osp_metric *vec, const char *const *label_values)
{
    osp_family *f = vec->fam;
    if (!vec->is_vec)
        die("osp_metric_with on a metric without labels", f->name);
    for (size_t i = 0; i < f->nlabels; i++)
        if (label_values[i] == NULL)
            die("NULL label value", f->name);
    osp_metrics *reg = f->reg;
    pthread_mutex_lock(&reg->mu);
    bool found;
    size_t at = find_child(f, label_values, &found);
    osp_metric *m;
    if (found) {
        m = f->children[at];
        if (atomic_load(&m->hidden)) {
            series_zero(m);
            atomic_store(&m->hidden, false);
        }
    } else {
        m = osp_calloc(1, sizeof(*m));
        series_init(m, f);
        m->values = osp_calloc(f->nlabels, sizeof(char *));
        for (size_t i = 0; i < f->nlabels; i++)
            m->values[i] = osp_strdup(label_values[i]);
        if (f->nchildren == f->capchildren) {
            f->capchildren = f->capchildren ? f->capchildren * 2 : 8;
            f->children = osp_reallocarray(f->children, f->capchildren, sizeof(*f->children));
        }
        memmove(f->children + at + 1, f->children + at, (f->nchildren - at) * sizeof(*f->children));
        f->children[at] = m;
        f->nchildren++;
    }
    pthread_mutex_unlock(&reg->mu);
    return m;
}

bool
osp_metric_remove(osp_metric *vec, const char *const *label_values)
{
    osp_family *f = vec->fam;
    if (!vec->is_vec)
        die("osp_metric_remove on a metric without labels", f->name);
    pthread_mutex_lock(&f->reg->mu);
    bool found;
    size_t at = find_child(f, label_values, &found);
    bool was = found && !atomic_load(&f->children[at]->hidden);
    if (found)
        atomic_store(&f->children[at]->hidden, true);
    pthread_mutex_unlock(&f->reg->mu);
    return was;
}

static void
check_kind(const osp_metric *m, unsigned kinds, const char *op)
{
    if (m->is_vec || m->fam->fn != NULL || !((1u << m->fam->kind) & kinds))
        die(op, m->fam->name);
}

void
osp_metric_inc(osp_metric *m)
{
    osp_metric_add(m, 1);
}

void
osp_metric_add(osp_metric *m, double v)
{
    check_kind(m, (1u << OSP_MK_COUNTER) | (1u << OSP_MK_GAUGE), "add on a non-counter/gauge");
    if (m->fam->kind == OSP_MK_COUNTER && !(v >= 0))
        return;
    atomic_add_double(&m->val, v);
}

void
osp_metric_dec(osp_metric *m)
{
    check_kind(m, 1u << OSP_MK_GAUGE, "dec on a non-gauge");
    atomic_add_double(&m->val, -1);
}

void
osp_metric_set(osp_metric *m, double v)
{
    check_kind(m, (1u << OSP_MK_COUNTER) | (1u << OSP_MK_GAUGE), "set on a non-counter/gauge");
    atomic_store_explicit(&m->val, d2u(v), memory_order_relaxed);
}

void
osp_metric_observe(osp_metric *m, double v)
{
    check_kind(m, 1u << OSP_MK_HISTOGRAM, "observe on a non-histogram");
    const osp_family *f = m->fam;
    size_t i = 0;
    while (i < f->nb && !(v <= f->buckets[i]))
        i++;
    /* counts[i] is per-bucket (not cumulative); counts[nb] is the +Inf rest. */
    atomic_fetch_add_explicit(&m->counts[i], 1, memory_order_relaxed);
    atomic_add_double(&m->sum, v);
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
}

double
osp_metric_value(const osp_metric *m)
{
    if (m->fam->fn != NULL)
        return m->fam->fn(m->fam->ctx);
    if (m->fam->kind == OSP_MK_HISTOGRAM)
        return (double)atomic_load(&((osp_metric *)m)->count);
    return u2d(atomic_load(&((osp_metric *)m)->val));
}
