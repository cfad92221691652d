/* coll_scrape.h - the scrape thread: one libcurl multi handle drives every
 * target at its fixed offset in its interval; each finished scrape is appended
 * (coll_append) into one metric batch and handed to a publish function. */
#ifndef COLL_SCRAPE_H
#define COLL_SCRAPE_H

#include <stdbool.h>
#include <stddef.h>

#include "coll_config.h"
#include "coll_metrics.h"
#include "coll_target.h"
#include "osp_err.h"

typedef struct coll_scraper coll_scraper;

/* coll_publish_fn: send one packed MetricBatch, a[0..alen) followed by
 * b[0..blen) (borrowed for the call; see osp_mbatch_view). Called on the
 * scrape thread. Returns 0 or an osp_err (logged, rate-limited). */
typedef int (*coll_publish_fn)(void *ctx, const void *a, size_t alen, const void *b, size_t blen);

typedef struct coll_scraper_opts {
    coll_publish_fn publish; /* required */
    void *publish_ctx;
    coll_metrics *metrics;   /* may be NULL */
    int64_t ts_tolerance_ms; /* a scrape starting <= this after its slot gets the slot's time */
} coll_scraper_opts;

/* coll_scraper_new: start the scrape thread with no targets. *out only on
 * success (free with coll_scraper_free). Errors: OSP_EIO (curl or thread
 * creation failed). Call curl_global_init before (the daemon does). */
int coll_scraper_new(const coll_scraper_opts *opts, coll_scraper **out, osp_errinfo *ei);

/* coll_scraper_update: replace the target set. cfg: a reference is taken (the
 * targets' jobs point into it); set: its contents are moved (set is left
 * empty). Targets with the same identity keep their state (series for
 * staleness); new ones start at their offset; removed ones get stale markers
 * for all their series. Applied asynchronously on the scrape thread. Any thread. */
void coll_scraper_update(coll_scraper *s, coll_config *cfg, coll_tset *set);

/* coll_scraper_running: true once the thread runs its loop (for /ready). */
bool coll_scraper_running(coll_scraper *s);

/* coll_scraper_stop: stop scraping, write end-of-run stale markers for every
 * target (published through the publish function) and join the thread.
 * Idempotent. Any thread but the scrape thread. */
void coll_scraper_stop(coll_scraper *s);

/* coll_scraper_free: stop (if needed) and free; NULL-safe. */
void coll_scraper_free(coll_scraper *s);

#endif
