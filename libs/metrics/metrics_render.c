/* metrics_render.c - text exposition 0.0.4 of a registry, and the standard
 * process_* metrics read from /proc/self at render time. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "metrics.h"
#include "metrics_int.h"
#include "osp_mem.h"

static void
put_escaped(osp_buf *out, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            osp_buf_puts(out, "\\\\");
        else if (*s == '\n')
            osp_buf_puts(out, "\\n");
        else if (quote && *s == '"')
            osp_buf_puts(out, "\\\"");
        else
            osp_buf_putc(out, *s);
    }
}

static void
put_value(osp_buf *out, double v)
{
    char num[32];
    int n = osp_fmt_double_expfmt(num, v);
    osp_buf_append(out, num, (size_t)n);
}

static void
put_header(osp_buf *out, const osp_family *f)
{
    static const char *types[] = {"counter", "gauge", "histogram"};
    osp_buf_printf(out, "# HELP %s ", f->name);
    put_escaped(out, f->help, false);
    osp_buf_printf(out, "\n# TYPE %s %s\n", f->name, types[f->kind]);
}

/* name{labels[,le="x"]} — suffix may be "", le may be NULL. */
static void
put_series_name(osp_buf *out, const osp_family *f, const osp_metric *m, const char *suffix,
                const char *le)
{
    osp_buf_puts(out, f->name);
    osp_buf_puts(out, suffix);
    if (m->values == NULL && le == NULL)
        return;
    osp_buf_putc(out, '{');
    size_t i = 0;
    for (; m->values != NULL && i < f->nlabels; i++) {
        if (i > 0)
            osp_buf_putc(out, ',');
        osp_buf_printf(out, "%s=\"", f->label_names[i]);
        put_escaped(out, m->values[i], true);
        osp_buf_putc(out, '"');
    }
    if (le != NULL)
        osp_buf_printf(out, "%sle=\"%s\"", i > 0 ? "," : "", le);
    osp_buf_putc(out, '}');
}

static void
render_series(osp_buf *out, const osp_family *f, osp_metric *m)
{
    if (f->kind != OSP_MK_HISTOGRAM) {
        put_series_name(out, f, m, "", NULL);
        osp_buf_putc(out, ' ');
        put_value(out, u2d_load(&m->val));
        osp_buf_putc(out, '\n');
        return;
    }
    uint64_t cum = 0;
    char le[32];
    for (size_t i = 0; i <= f->nb; i++) {
        cum += atomic_load_explicit(&m->counts[i], memory_order_relaxed);
        if (i < f->nb)
            osp_fmt_double_expfmt(le, f->buckets[i]);
        else
            strcpy(le, "+Inf");
        put_series_name(out, f, m, "_bucket", le);
        osp_buf_printf(out, " %llu\n", (unsigned long long)cum);
    }
    put_series_name(out, f, m, "_sum", NULL);
    osp_buf_putc(out, ' ');
    put_value(out, u2d_load(&m->sum));
    osp_buf_putc(out, '\n');
    /* _count equals the +Inf bucket, so a scrape is self-consistent. */
    put_series_name(out, f, m, "_count", NULL);
    osp_buf_printf(out, " %llu\n", (unsigned long long)cum);
}

void
osp_metrics_render(osp_metrics *reg, osp_buf *out)
{
    pthread_mutex_lock(&reg->mu);
    size_t n = reg->nfams, nc = reg->ncollectors;
    osp_family **fams = osp_calloc(n ? n : 1, sizeof(*fams));
    if (n > 0)
        memcpy(fams, reg->fams, n * sizeof(*fams));
    struct osp_collector *cols = osp_calloc(nc ? nc : 1, sizeof(*cols));
    if (nc > 0)
        memcpy(cols, reg->collectors, nc * sizeof(*cols));
    pthread_mutex_unlock(&reg->mu);

    for (size_t i = 0; i < n; i++) {
        osp_family *f = fams[i];
        if (f->fn != NULL) {
            /* Computed outside the lock: fn may touch other metrics. */
            double v = f->fn(f->ctx);
            put_header(out, f);
            osp_buf_printf(out, "%s ", f->name);
            put_value(out, v);
            osp_buf_putc(out, '\n');
            continue;
        }
        pthread_mutex_lock(&reg->mu);
        if (!f->is_vec) {
            put_header(out, f);
            render_series(out, f, &f->head);
        } else {
            bool any = false;
            for (size_t j = 0; j < f->nchildren; j++) {
                if (atomic_load(&f->children[j]->hidden))
                    continue;
                if (!any)
                    put_header(out, f);
                any = true;
                render_series(out, f, f->children[j]);
            }
        }
        pthread_mutex_unlock(&reg->mu);
    }
    for (size_t i = 0; i < nc; i++)
        cols[i].fn(cols[i].ctx, out);
    osp_free(fams);
    osp_free(cols);
}

/* ---- process metrics ---------------------------------------------------- */

static void
put_process_metric(osp_buf *out, const char *name, const char *type, const char *help, double v)
{
    osp_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s ", name, help, name, type, name);
    put_value(out, v);
    osp_buf_putc(out, '\n');
}

static void
process_collect(void *ctx, osp_buf *out)
{
    (void)ctx;
    long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    char buf[4096];
    FILE *fp = fopen("/proc/self/stat", "r");
    size_t n = fp ? fread(buf, 1, sizeof(buf) - 1, fp) : 0;
    if (fp)
        fclose(fp);
    buf[n] = '\0';
    /* Fields after the command name, which may contain spaces and ')'. */
    char *p = strrchr(buf, ')');
    unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
    long long rss = 0;
    bool have_stat = p != NULL && tck > 0 &&
                     sscanf(p + 2,
                            "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d "
                            "%*d %*d %*d %llu %llu %lld",
                            &utime, &stime, &start, &vsize, &rss) == 5;
    if (have_stat)
        put_process_metric(out, "process_cpu_seconds_total", "counter",
                           "Total user and system CPU time spent in seconds.",
                           (double)(utime + stime) / (double)tck);

    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        long fds = 0;
        while (readdir(d) != NULL)
            fds++;
        closedir(d);
        put_process_metric(out, "process_open_fds", "gauge", "Number of open file descriptors.",
                           (double)(fds - 3)); /* ".", ".." and the DIR's own fd */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        put_process_metric(out, "process_max_fds", "gauge",
                           "Maximum number of open file descriptors.", (double)rl.rlim_cur);
    if (have_stat) {
        put_process_metric(out, "process_resident_memory_bytes", "gauge",
                           "Resident memory size in bytes.", (double)rss * (double)page);
        double btime = 0;
        FILE *sf = fopen("/proc/stat", "r");
        char line[256];
        while (sf != NULL && fgets(line, sizeof(line), sf) != NULL)
            if (sscanf(line, "btime %lf", &btime) == 1)
                break;
        if (sf)
            fclose(sf);
        if (btime > 0)
            put_process_metric(out, "process_start_time_seconds", "gauge",
                               "Start time of the process since unix epoch in seconds.",
                               btime + (double)start / (double)tck);
        put_process_metric(out, "process_virtual_memory_bytes", "gauge",
                           "Virtual memory size in bytes.", (double)vsize);
    }
}

void
osp_metrics_add_process(osp_metrics *reg)
{
    pthread_mutex_lock(&reg->mu);
    bool done = reg->process;
    reg->process = true;
    pthread_mutex_unlock(&reg->mu);
    if (!done)
        osp_metrics_add_collector(reg, process_collect, NULL);
}
