/* store_query.h - the PromQL source of the store: samples of the head merged
 * with the chunks in PostgreSQL. A query whose range starts at or after the
 * head's memory cut reads memory only; an older one reads the persisted
 * chunks of its series and time range from PostgreSQL (partitions before the
 * range are pruned), or takes them from the head's query cache (store_qcache)
 * when it holds that range, and merges them with the samples not yet
 * persisted. Selections come out in label order. */
#ifndef STORE_QUERY_H
#define STORE_QUERY_H

#include "promql.h"
#include "store_head.h"
#include "store_pg.h"

/* A reader: one per thread that evaluates queries (pg is used by that thread
 * only; NULL: memory only). Fields are borrowed. */
typedef struct store_reader {
    store_head *head;
    store_pg *pg;
} store_reader;

/* store_reader_source: the PromQL source over r (r must outlive it). */
osp_promql_source store_reader_source(store_reader *r);

#endif
