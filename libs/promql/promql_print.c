/* promql_print.c - canonical single-line form of a PromQL tree, as Prometheus' String()
 * methods print it (used by /api/v1/format_query and the fuzzer's round trip). */
#include "promql_funcs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "osp_time.h"
#include "osp_mem.h"

static void print(const expr *e, osp_buf *b);

static void
put_duration(osp_buf *b, int64_t ms)
{
    char d[40];
    osp_format_duration(ms, d, sizeof d);
    osp_buf_puts(b, d);
}

static void
put_list(osp_buf *b, const char **v, size_t n)
{
    osp_buf_putc(b, '(');
    for (size_t i = 0; i < n; i++) {
        if (i)
            osp_buf_puts(b, ", ");
        osp_buf_puts(b, v[i]);
    }
    osp_buf_putc(b, ')');
}

static void
put_at_offset(osp_buf *b, const expr *e)
{
    if (e->at == AT_TS) {
        int64_t s = e->at_ms / 1000, ms = e->at_ms % 1000;
        if (e->at_ms < 0 && ms != 0)
            osp_buf_printf(b, " @ -%lld.%03lld", (long long)(-e->at_ms / 1000),
                           (long long)(-e->at_ms % 1000));
        else
            osp_buf_printf(b, " @ %s%lld.%03lld", e->at_ms < 0 ? "-" : "", (long long)llabs(s),
                           (long long)llabs(ms));
    } else if (e->at == AT_START) {
        osp_buf_puts(b, " @ start()");
    } else if (e->at == AT_END) {
        osp_buf_puts(b, " @ end()");
    }
    if (e->offset_ms > 0) {
        osp_buf_puts(b, " offset ");
        put_duration(b, e->offset_ms);
    } else if (e->offset_ms < 0) {
        osp_buf_puts(b, " offset -");
        put_duration(b, -e->offset_ms);
    }
}

static int
strp_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
print_selector(const expr *e, osp_buf *b)
{
    static const char *const ops[] = {"=", "!=", "=~", "!~"};
    if (e->name)
        osp_buf_puts(b, e->name);
    size_t n = 0;
    char **strs = calloc(e->nms ? e->nms : 1, sizeof(char *));
    for (size_t i = 0; i < e->nms; i++) {
        const osp_matcher *m = &e->ms[i];
        if (e->name && m->type == OSP_MATCH_EQ && strcmp(m->name, "__name__") == 0 &&
            strcmp(m->value, e->name) == 0)
            continue;
        osp_buf t;
        osp_buf_init(&t);
        osp_buf_puts(&t, m->name);
        osp_buf_puts(&t, ops[m->type]);
        promql_quote(&t, m->value);
        strs[n++] = osp_buf_steal(&t, NULL);
    }
    if (n > 0) {
        osp_qsort(strs, n, sizeof(char *), strp_cmp);
        osp_buf_putc(b, '{');
        for (size_t i = 0; i < n; i++) {
            if (i)
                osp_buf_putc(b, ',');
            osp_buf_puts(b, strs[i]);
            free(strs[i]);
        }
        osp_buf_putc(b, '}');
    }
    free(strs);
}

static void
print_num(osp_buf *b, double v)
{
    /* Prometheus prints literals with 'f' formatting: no exponent */
    char s[400];
    if (isinf(v) && v > 0) {
        osp_buf_puts(b, "Inf"); /* "+Inf" would re-parse as a unary plus */
        return;
    }
    promql_fmt_float_f(s, sizeof s, v);
    osp_buf_puts(b, s);
}

static void
print(const expr *e, osp_buf *b)
{
    switch (e->kind) {
    case N_NUM: print_num(b, e->num); break;
    case N_STR: promql_quote(b, e->str); break;
    case N_VSEL:
        print_selector(e, b);
        put_at_offset(b, e);
        break;
    case N_MSEL:
        print_selector(e->arg, b);
        osp_buf_putc(b, '[');
        put_duration(b, e->range_ms);
        osp_buf_putc(b, ']');
        put_at_offset(b, e->arg);
        break;
    case N_SUBQ:
        print(e->arg, b);
        osp_buf_putc(b, '[');
        put_duration(b, e->range_ms);
        osp_buf_putc(b, ':');
        if (e->step_ms)
            put_duration(b, e->step_ms);
        osp_buf_putc(b, ']');
        put_at_offset(b, e);
        break;
    case N_CALL:
        osp_buf_puts(b, e->fn->name);
        osp_buf_putc(b, '(');
        for (size_t i = 0; i < e->nargs; i++) {
            if (i)
                osp_buf_puts(b, ", ");
            print(e->args[i], b);
        }
        osp_buf_putc(b, ')');
        break;
    case N_AGG:
        osp_buf_puts(b, promql_agg_name(e->aop));
        if (e->without) {
            osp_buf_puts(b, " without ");
            put_list(b, e->grouping, e->ngrouping);
            osp_buf_putc(b, ' ');
        } else if (e->ngrouping > 0) {
            osp_buf_puts(b, " by ");
            put_list(b, e->grouping, e->ngrouping);
            osp_buf_putc(b, ' ');
        }
        osp_buf_putc(b, '(');
        if (e->param) {
            print(e->param, b);
            osp_buf_puts(b, ", ");
        }
        print(e->arg, b);
        osp_buf_putc(b, ')');
        break;
    case N_BIN:
        print(e->lhs, b);
        osp_buf_printf(b, " %s", promql_binop_name(e->op));
        if (e->ret_bool)
            osp_buf_puts(b, " bool");
        if (e->matching && (e->nmlabels > 0 || e->on)) {
            osp_buf_puts(b, e->on ? " on " : " ignoring ");
            put_list(b, e->mlabels, e->nmlabels);
            if (e->card == CARD_MANY_TO_ONE || e->card == CARD_ONE_TO_MANY) {
                osp_buf_puts(b, e->card == CARD_MANY_TO_ONE ? " group_left " : " group_right ");
                put_list(b, e->include, e->ninclude);
            }
        }
        osp_buf_putc(b, ' ');
        print(e->rhs, b);
        break;
    case N_UNARY:
        osp_buf_puts(b, e->op == T_SUB ? "-" : "+");
        print(e->arg, b);
        break;
    case N_PAREN:
        osp_buf_putc(b, '(');
        print(e->arg, b);
        osp_buf_putc(b, ')');
        break;
    }
}

void
osp_promql_format(const osp_promql_expr *e, osp_buf *out)
{
    print(e, out);
}
