/* coll_target.c - Prometheus' PopulateLabels for one target, the target URL,
 * and the honor_labels merge of scraped labels. */
#include "coll_target.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "osp_buf.h"
#include "osp_mem.h"
#include "osp_time.h"

void
coll_tdef_fini(coll_tdef *t)
{
    if (!t)
        return;
    osp_labels_fini(&t->labels);
    osp_free(t->url);
    memset(t, 0, sizeof(*t));
}

void
coll_tset_fini(coll_tset *s)
{
    for (size_t i = 0; i < s->n; i++)
        coll_tdef_fini(&s->v[i]);
    osp_free(s->v);
    memset(s, 0, sizeof(*s));
}

static void
set_if_absent(osp_labels *ls, const char *name, const char *value)
{
    if (!osp_labels_get(ls, name))
        osp_labels_set(ls, name, value);
}

static void
urlenc(osp_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
            osp_buf_putc(b, (char)c);
        else
            osp_buf_printf(b, "%%%02X", c);
    }
}

/* build_url: scheme://address/path?params, where __param_<k> labels replace
 * the first value of job param k or add it. */
static char *
build_url(const coll_job *job, const osp_labels *ls)
{
    osp_buf b;
    osp_buf_init(&b);
    const char *scheme = osp_labels_get(ls, "__scheme__");
    const char *path = osp_labels_get(ls, "__metrics_path__");
    osp_buf_printf(&b, "%s://%s", scheme ? scheme : "http", osp_labels_get(ls, "__address__"));
    if (!path || path[0] != '/')
        osp_buf_putc(&b, '/');
    osp_buf_puts(&b, path ? path : "");
    char sep = strchr(osp_buf_cstr(&b), '?') ? '&' : '?';
    for (size_t i = 0; i < job->params.n; i++) {
        const char *k = job->params.v[i].name;
        const char *v = job->params.v[i].value;
        bool first = true;
        for (size_t j = 0; j < i; j++)
            first = first && strcmp(job->params.v[j].name, k) != 0;
        char pl[300];
        snprintf(pl, sizeof(pl), "__param_%s", k);
        const char *ov = first ? osp_labels_get(ls, pl) : NULL;
        osp_buf_putc(&b, sep);
        sep = '&';
        urlenc(&b, k);
        osp_buf_putc(&b, '=');
        urlenc(&b, ov ? ov : v);
    }
    for (size_t i = 0; i < ls->n; i++) {
        const char *n = ls->v[i].name;
        if (strncmp(n, "__param_", 8) != 0 || osp_labels_get(&job->params, n + 8))
            continue;
        osp_buf_putc(&b, sep);
        sep = '&';
        urlenc(&b, n + 8);
        osp_buf_putc(&b, '=');
        urlenc(&b, ls->v[i].value);
    }
    return osp_buf_steal(&b, NULL);
}

int
coll_target_build(const coll_job *job, const coll_tgroup *g, const char *addr, coll_tdef *out,
                  bool *dropped, osp_errinfo *ei)
{
    osp_labels ls;
    osp_labels_init(&ls);
    int rc = 0;
    *dropped = false;
    osp_labels_set(&ls, "__address__", addr);
    for (size_t i = 0; g && i < g->labels.n; i++)
        set_if_absent(&ls, g->labels.v[i].name, g->labels.v[i].value);
    char iv[32], to[32];
    osp_format_duration(job->interval_ms, iv, sizeof(iv));
    osp_format_duration(job->timeout_ms, to, sizeof(to));
    set_if_absent(&ls, "job", job->name);
    set_if_absent(&ls, "__scrape_interval__", iv);
    set_if_absent(&ls, "__scrape_timeout__", to);
    set_if_absent(&ls, "__metrics_path__", job->metrics_path);
    set_if_absent(&ls, "__scheme__", job->scheme);
    for (size_t i = 0; i < job->params.n; i++) {
        char pl[300];
        snprintf(pl, sizeof(pl), "__param_%s", job->params.v[i].name);
        set_if_absent(&ls, pl, job->params.v[i].value);
    }
    if (!coll_relabel_apply(job->relabel, job->nrelabel, &ls) ||
        !osp_labels_get(&ls, "__address__")) {
        *dropped = true;
        goto done;
    }
    int64_t ims = 0, tms = 0;
    const char *s = osp_labels_get(&ls, "__scrape_interval__");
    if (!s || osp_parse_duration(osp_str_c(s), &ims) || ims <= 0) {
        rc = osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "target %s: invalid __scrape_interval__", addr);
        goto done;
    }
    s = osp_labels_get(&ls, "__scrape_timeout__");
    if (!s || osp_parse_duration(osp_str_c(s), &tms) || tms <= 0 || tms > ims) {
        rc = osp_errinfo_set(ei, OSP_EINVAL, 0, 0,
                             "target %s: invalid __scrape_timeout__ (or greater than interval)",
                             addr);
        goto done;
    }
    memset(out, 0, sizeof(*out));
    out->url = build_url(job, &ls);
    out->interval_ms = ims;
    out->timeout_ms = tms;
    out->job = job;
    set_if_absent(&ls, "instance", osp_labels_get(&ls, "__address__"));
    osp_labels_init(&out->labels);
    for (size_t i = 0; i < ls.n; i++)
        if (strncmp(ls.v[i].name, "__", 2) != 0)
            osp_labels_addc(&out->labels, ls.v[i].name, ls.v[i].value);
    osp_labels_sort(&out->labels);
    uint64_t h = osp_hash64(job->name, strlen(job->name), 0x636f6c6cULL);
    h = osp_hash64(out->url, strlen(out->url), h ^ osp_labels_hash(&out->labels));
    out->key = h;
done:
    osp_labels_fini(&ls);
    return rc;
}

void
coll_tset_add_groups(coll_tset *set, const coll_job *job, const coll_tgroup *groups, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < groups[i].ntargets; k++) {
            coll_tdef t;
            bool dropped = false;
            osp_errinfo ei;
            osp_errinfo_clear(&ei);
            if (coll_target_build(job, &groups[i], groups[i].targets[k], &t, &dropped, &ei)) {
                osp_log(OSP_LOG_WARN, "targets", "skipping target", "job", job->name, "error",
                        ei.msg, NULL);
                continue;
            }
            if (dropped)
                continue;
            bool dup = false;
            for (size_t j = 0; j < set->n && !dup; j++)
                dup = set->v[j].key == t.key;
            if (dup) {
                coll_tdef_fini(&t);
                continue;
            }
            if (set->n == set->cap) {
                set->cap = set->cap ? set->cap * 2 : 16;
                set->v = osp_reallocarray(set->v, set->cap, sizeof(*set->v));
            }
            set->v[set->n++] = t;
        }
    }
}

int64_t
coll_target_offset(uint64_t key, int64_t interval_ms)
{
    if (interval_ms <= 0)
        return 0;
    return (int64_t)(key % (uint64_t)interval_ms);
}

void
coll_labels_merge_target(osp_labels *ls, const osp_labels *tl, bool honor_labels)
{
    for (size_t i = 0; i < tl->n; i++) {
        const char *name = tl->v[i].name;
        const char *have = osp_labels_get(ls, name);
        if (honor_labels) {
            if (!have)
                osp_labels_set(ls, name, tl->v[i].value);
            continue;
        }
        if (have) {
            /* Move the scraped value to exported_<name>, prefixing again while
             * the name is taken by a scraped or a target label. */
            char nb[256];
            snprintf(nb, sizeof(nb), "exported_%s", name);
            while (osp_labels_get(ls, nb) || osp_labels_get(tl, nb)) {
                char tmp[256];
                if ((size_t)snprintf(tmp, sizeof(tmp), "exported_%s", nb) >= sizeof(tmp))
                    break;
                memcpy(nb, tmp, sizeof(nb));
            }
            char *v = osp_strdup(have);
            osp_labels_set(ls, nb, v);
            osp_free(v);
        }
        osp_labels_set(ls, name, tl->v[i].value);
    }
}
