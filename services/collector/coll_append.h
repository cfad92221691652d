/* coll_append.h - per-target scrape state and the append path: parse a page,
 * map each raw series to its final labels through a scrape cache, apply
 * limits, write samples, metadata, synthetic series and stale markers into an
 * osp_mbatch. Single owner: the scrape thread (or a test). */
#ifndef COLL_APPEND_H
#define COLL_APPEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus_pb.h"
#include "coll_map.h"
#include "coll_series.h"
#include "coll_target.h"
#include "expfmt.h"
#include "log.h"
#include "osp_buf.h"

enum {
    COLL_SYNTH_UP,
    COLL_SYNTH_DURATION,
    COLL_SYNTH_SCRAPED,
    COLL_SYNTH_POST_RELABEL,
    COLL_SYNTH_ADDED,
    COLL_SYNTH_PARSE_ERRORS,
    COLL_SYNTH_N
};

/* Per-target state. */
typedef struct coll_tstate {
    coll_tdef def;          /* owned copy; def.job borrowed from a referenced config */
    coll_map cache;         /* raw series hash -> cache entry */
    size_t cache_used;      /* entries used by the current scrape */
    coll_map meta;          /* family hash -> content hash (metadata already sent) */
    coll_series_set series; /* for staleness */
    osp_labels synth[COLL_SYNTH_N];
    bool synth_published; /* synthetic series were written at least once */
    osp_ratelim err_rl;   /* bad-line complaints */
    osp_ratelim fail_rl;  /* failed scrapes */
    /* scratch reused by every scrape */
    osp_buf key;
    osp_buf s1, s2, s3;
    osp_labels tmp; /* a series' labels while it is resolved */
    osp_buf pb;     /* their packed encoding */
} coll_tstate;

/* What one scrape produced. */
typedef struct coll_scrape_result {
    bool up;
    size_t scraped;      /* samples in the exposition (valid lines) */
    size_t post_relabel; /* samples kept after metric_relabel_configs */
    size_t added;        /* series new in this scrape */
    size_t parse_errors; /* bad lines and duplicate series */
    size_t stale;        /* stale markers written */
    char err[256];       /* why the scrape failed (up=0) */
} coll_scrape_result;

/* coll_tstate_new: state for target def (copied). Never NULL. */
coll_tstate *coll_tstate_new(const coll_tdef *def);
/* coll_tstate_free: NULL-safe; writes nothing (call coll_append_stale_all first). */
void coll_tstate_free(coll_tstate *st);
/* coll_tstate_set_job: point the target at job (same name, from a reloaded
 * config) and drop the scrape cache, whose entries depend on the job's
 * settings; the series set is kept, so staleness continues across reloads. */
void coll_tstate_set_job(coll_tstate *st, const coll_job *job);

/* coll_append_page: append the scrape of page[0..len) (dialect d) started at
 * ts_ms and lasting duration_s to b: samples, metadata, stale markers and the
 * synthetic series. Bad lines are skipped and counted; sample_limit or
 * label_limit exceeded fails the scrape (up=0, samples discarded, all previous
 * series staled). *res is filled. Never fails otherwise. */
void coll_append_page(coll_tstate *st, osp_expfmt_dialect d, const char *page, size_t len,
                      int64_t ts_ms, double duration_s, osp_mbatch *b, coll_scrape_result *res);

/* coll_append_failure: a scrape that got no page (HTTP error, timeout, body
 * limit): stale-mark previous series, write the synthetic series with up=0.
 * why (may be NULL) is copied to res->err. */
void coll_append_failure(coll_tstate *st, int64_t ts_ms, double duration_s, const char *why,
                         osp_mbatch *b, coll_scrape_result *res);

/* coll_append_stale_all: end of the target (removed, shutdown): stale markers
 * for every series including the synthetic ones. Returns the markers written. */
size_t coll_append_stale_all(coll_tstate *st, int64_t ts_ms, osp_mbatch *b);

#endif
