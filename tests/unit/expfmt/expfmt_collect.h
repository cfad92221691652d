/* expfmt_collect.h - test helper: parse an exposition into owned samples and
 * a text log of every callback, so cases can compare one string. */
#ifndef EXPFMT_COLLECT_H
#define EXPFMT_COLLECT_H

#include "expfmt.h"
#include "osp_buf.h"
#include "osp_labels.h"

typedef struct xt_sample {
    char *name;
    osp_labels labels; /* in input order */
    double value;
    bool has_ts;
    int64_t ts_ms;
    int line;
} xt_sample;

typedef struct xt_coll {
    xt_sample *v;
    size_t n, cap;
    osp_buf log; /* "S ...", "M ...", "E line:col msg" lines */
    osp_expfmt_stats st;
} xt_coll;

void xt_coll_init(xt_coll *c);
void xt_coll_fini(xt_coll *c);
/* xt_parse: reset c, parse buf[0..len) with the collecting handler. */
int xt_parse(xt_coll *c, osp_expfmt_dialect d, const char *buf, size_t len);
/* xt_write: all samples of c as text 0.0.4 with the writer. */
void xt_write(const xt_coll *c, osp_buf *out);
/* xt_same: a and b hold the same samples (NaN equals NaN); names the first
 * difference in why (64+ bytes). */
bool xt_same(const xt_coll *a, const xt_coll *b, char *why, size_t whysz);

#endif
