/* store_api.h - the Prometheus-compatible HTTP API of the store (query,
 * query_range, series, labels, label values, metadata, buildinfo,
 * format_query, query_exemplars) and the import endpoint. Handlers run on the
 * HTTP loop; queries evaluate there too, reading the head under its read lock. */
#ifndef STORE_API_H
#define STORE_API_H

#include <stdint.h>

#include "http.h"
#include "store_head.h"
#include "store_ingest.h"
#include "store_pg.h"
#include "store_stats.h"

/* Shared state of the handlers; owned by main, borrowed here. The tunables
 * may be changed on the loop (reload) between requests. */
typedef struct store_api {
    store_head *head;
    store_ingest *ingest; /* readiness and retention cut-off; NULL in tests = ready */
    store_stats *stats;   /* may be NULL in tests */
    int64_t lookback_ms;
    int64_t query_timeout_ms;
    uint64_t max_samples;
    /* import: own PostgreSQL connection used on the loop; NULL = imports
     * answer 503 */
    store_pg *import_pg;
    char import_producer[256]; /* "import/<store_id>/<boot-unix-ms>" */
    uint64_t import_seq;
} store_api;

/* store_api_routes: register every API route of a on srv. Returns 0 or the
 * osp_http_route error. Loop thread. */
int store_api_routes(osp_http_server *srv, store_api *a);

/* store_api_import: the POST /api/v1/import/prometheus handler (registered by
 * store_api_routes; in store_import.c). */
void store_api_import(osp_http_req *req, void *ctx);

/* store_api_ready: true when queries may run (head rebuilt). */
bool store_api_ready(const store_api *a);

#endif
