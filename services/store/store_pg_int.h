/* store_pg_int.h - the store_pg internals shared by the files that speak SQL
 * (store_pg.c, store_chunks.c): the connection and result checking. */
#ifndef STORE_PG_INT_H
#define STORE_PG_INT_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "osp_buf.h"
#include "store_pg.h"

struct store_pg {
    char *conninfo;
    char *who;
    PGconn *conn;
};

/* store_pg_check: translate result r of what into 0 or OSP_EUNAVAIL (the
 * connection is gone: it is closed) / OSP_EIO; frees r unless it is OK and
 * keep is set. */
int store_pg_check(store_pg *pg, PGresult *r, const char *what, bool keep, osp_errinfo *ei);

/* store_pg_values_sql: statement text for n rows of k parameters each:
 * prefix ($1,$2),($3,$4) suffix. */
void store_pg_values_sql(osp_buf *sql, const char *prefix, size_t n, size_t k, const char *suffix);

#endif
