/* promql_funcs.h - private: implementations behind the function table. */
#ifndef OSP_PROMQL_FUNCS_H
#define OSP_PROMQL_FUNCS_H

#include "promql_int.h"

/* promql_fmt_float_f: v as Go strconv.FormatFloat(v, 'f', -1, 64) writes it. */
void promql_fmt_float_f(char *out, size_t outsz, double v);
double promql_kahan_inc(double inc, double sum, double *c);
/* promql_quantile: Prometheus' quantile over v[0..n) (sorts v). */
double promql_quantile(double q, double *v, size_t n);
/* promql_absent: the absent()/absent_over_time() result when out->vec is empty. */
int promql_absent(evctx *c, const expr *e, int64_t t, bool instant, value *out);

int promql_call_matrix(evctx *c, const expr *e, int64_t t, value *args, value *out);
int promql_call_simple(evctx *c, const expr *e, int64_t t, value *args, value *out);
int promql_call_absent(evctx *c, const expr *e, int64_t t, value *args, value *out);
int promql_call_clamp(evctx *c, const expr *e, int64_t t, value *args, value *out);
int promql_call_date(evctx *c, const expr *e, int64_t t, value *args, value *out);
int promql_call_histogram_quantile(evctx *c, const expr *e, int64_t t, value *args, value *out);
int promql_call_label_join(evctx *c, const expr *e, int64_t t, value *args, value *out);
int promql_call_label_replace(evctx *c, const expr *e, int64_t t, value *args, value *out);
int promql_call_scalarfn(evctx *c, const expr *e, int64_t t, value *args, value *out);
int promql_call_sort(evctx *c, const expr *e, int64_t t, value *args, value *out);
int promql_call_timestamp(evctx *c, const expr *e, int64_t t, value *args, value *out);
int promql_call_vector(evctx *c, const expr *e, int64_t t, value *args, value *out);

#endif
