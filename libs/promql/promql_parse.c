/* promql_parse.c - recursive-descent PromQL parser with Prometheus' precedence rules and
 * type checks; the tree lives in one arena owned by the root node. */
#include "promql_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "osp_mem.h"
#include "osp_time.h"

typedef struct parser {
    lexer lx;
    tok cur;
    osp_arena *a;
    osp_errinfo *ei;
    int nsel;
    int err;
} parser;

static expr *parse_expr(parser *p, int min_prec);

static void
advance(parser *p)
{
    p->cur = promql_lex_next(&p->lx);
}

static int perr_at(parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
perr_at(parser *p, size_t pos, const char *fmt, ...)
{
    if (p->err)
        return p->err;
    int line = 1, col = 1;
    for (size_t i = 0; i < pos && i < p->lx.n; i++) {
        if (p->lx.q[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->err = OSP_EPARSE;
    osp_errinfo_set(p->ei, OSP_EPARSE, line, col, "%d:%d: parse error: %s", line, col, msg);
    return OSP_EPARSE;
}

static const char *
type_name(osp_promql_vtype t)
{
    switch (t) {
    case OSP_PROMQL_SCALAR: return "scalar";
    case OSP_PROMQL_STRING: return "string";
    case OSP_PROMQL_VECTOR: return "instant vector";
    case OSP_PROMQL_MATRIX: return "range vector";
    }
    return "?";
}

static void
unexpected(parser *p, const char *ctx)
{
    tok t = p->cur;
    if (t.kind == T_EOF)
        perr_at(p, t.pos, "unexpected end of input%s%s", ctx ? " " : "", ctx ? ctx : "");
    else if (t.kind == T_ERR)
        perr_at(p, t.pos, "unexpected character: '%c'", p->lx.q[t.pos]);
    else
        perr_at(p, t.pos, "unexpected \"%.*s\"%s%s", (int)(t.len > 40 ? 40 : t.len),
                p->lx.q + t.pos, ctx ? " " : "", ctx ? ctx : "");
}

static bool
is_kw(parser *p, const char *kw)
{
    return p->cur.kind == T_IDENT && p->cur.len == strlen(kw) &&
           strncasecmp(p->lx.q + p->cur.pos, kw, p->cur.len) == 0;
}

static bool
expect(parser *p, tok_kind k, const char *ctx)
{
    if (p->cur.kind != k) {
        unexpected(p, ctx);
        return false;
    }
    advance(p);
    return true;
}

static expr *
node(parser *p, node_kind k, size_t pos)
{
    expr *e = osp_arena_calloc(p->a, sizeof(*e));
    e->kind = k;
    e->pos = pos;
    e->sel_idx = -1;
    return e;
}

static const char *
tok_str(parser *p, tok t)
{
    return osp_arena_strndup(p->a, p->lx.q + t.pos, t.len);
}

static bool
parse_duration_tok(parser *p, int64_t *ms)
{
    if (p->cur.kind != T_NUMBER) {
        unexpected(p, "in duration");
        return false;
    }
    if (osp_parse_duration((osp_str){p->lx.q + p->cur.pos, p->cur.len}, ms) != 0) {
        perr_at(p, p->cur.pos, "bad duration syntax: \"%.*s\"", (int)p->cur.len,
                p->lx.q + p->cur.pos);
        return false;
    }
    advance(p);
    return true;
}

static bool
parse_number_text(const char *s, size_t n, double *v)
{
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        double r = 0;
        for (size_t i = 2; i < n; i++) {
            int c = tolower((unsigned char)s[i]);
            if (!isxdigit(c))
                return false;
            r = r * 16 + (isdigit(c) ? c - '0' : c - 'a' + 10);
        }
        *v = r;
        return true;
    }
    if (n > 1 && s[0] == '0' && isdigit((unsigned char)s[1])) {
        /* Go's ParseInt(.., 0, ..) reads a leading 0 as octal */
        bool oct = true;
        double r = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i] < '0' || s[i] > '7')
                oct = false;
            else
                r = r * 8 + (s[i] - '0');
        }
        if (oct) {
            *v = r;
            return true;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (isalpha((unsigned char)s[i]) && s[i] != 'e' && s[i] != 'E')
            return false;
    if (osp_parse_double((osp_str){s, n}, v) == 0)
        return true;
    /* very long literals (which the printer produces for big numbers) */
    char *tmp = osp_strndup(s, n), *end;
    *v = strtod(tmp, &end);
    bool ok = n > 0 && *end == '\0';
    osp_free(tmp);
    return ok;
}

/* label name: any identifier (keywords included) without ':' */
static const char *
parse_label_name(parser *p, const char *ctx)
{
    if (p->cur.kind != T_IDENT || memchr(p->lx.q + p->cur.pos, ':', p->cur.len) != NULL) {
        unexpected(p, ctx);
        return NULL;
    }
    const char *s = tok_str(p, p->cur);
    advance(p);
    return s;
}

static bool
parse_label_list(parser *p, const char ***out, size_t *n, const char *ctx)
{
    if (!expect(p, T_LPAREN, ctx))
        return false;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    while (p->cur.kind != T_RPAREN) {
        const char *s = parse_label_name(p, ctx);
        if (s == NULL)
            return false;
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            const char **nv = osp_arena_alloc(p->a, cap * sizeof(*nv));
            if (*n)
                memcpy(nv, *out, *n * sizeof(*nv));
            *out = nv;
        }
        (*out)[(*n)++] = s;
        if (p->cur.kind == T_COMMA)
            advance(p);
        else if (p->cur.kind != T_RPAREN) {
            unexpected(p, ctx);
            return false;
        }
    }
    advance(p);
    return true;
}

static bool
parse_matchers(parser *p, expr *e)
{
    size_t cap = e->nms + 4;
    osp_matcher *ms = osp_arena_calloc(p->a, cap * sizeof(*ms));
    if (e->nms)
        memcpy(ms, e->ms, e->nms * sizeof(*ms));
    advance(p); /* { */
    while (p->cur.kind != T_RBRACE) {
        size_t lpos = p->cur.pos;
        const char *name = parse_label_name(p, "in label matching");
        if (name == NULL)
            return false;
        osp_match_type mt;
        switch (p->cur.kind) {
        case T_ASSIGN: mt = OSP_MATCH_EQ; break;
        case T_NEQ: mt = OSP_MATCH_NEQ; break;
        case T_EQL_REGEX: mt = OSP_MATCH_RE; break;
        case T_NEQ_REGEX: mt = OSP_MATCH_NRE; break;
        default: unexpected(p, "in label matching, expected label matching operator"); return false;
        }
        advance(p);
        if (p->cur.kind != T_STRING) {
            unexpected(p, "in label matching, expected string");
            return false;
        }
        char *val;
        size_t vn;
        if (promql_unquote(p->lx.q + p->cur.pos, p->cur.len, p->a, &val, &vn) != 0) {
            perr_at(p, p->cur.pos, "invalid escape sequence in string");
            return false;
        }
        if (strlen(val) != vn) {
            perr_at(p, p->cur.pos, "NUL byte in label value");
            return false;
        }
        if (e->name != NULL && strcmp(name, "__name__") == 0) {
            perr_at(p, lpos, "metric name must not be set twice: \"%s\" or \"%s\"", e->name, val);
            return false;
        }
        advance(p);
        if (e->nms == cap) {
            cap *= 2;
            osp_matcher *nm = osp_arena_calloc(p->a, cap * sizeof(*nm));
            memcpy(nm, ms, e->nms * sizeof(*nm));
            ms = nm;
        }
        osp_errinfo rei;
        if (osp_matcher_init(&ms[e->nms], mt, name, val, p->a, &rei) != 0) {
            perr_at(p, lpos, "%s", rei.msg);
            return false;
        }
        e->nms++;
        if (p->cur.kind == T_COMMA)
            advance(p);
        else if (p->cur.kind != T_RBRACE) {
            unexpected(p, "in label matching, expected \",\" or \"}\"");
            return false;
        }
    }
    advance(p);
    e->ms = ms;
    return true;
}

static expr *
parse_selector(parser *p)
{
    expr *e = node(p, N_VSEL, p->cur.pos);
    e->type = OSP_PROMQL_VECTOR;
    if (p->cur.kind == T_IDENT) {
        e->name = tok_str(p, p->cur);
        e->ms = osp_arena_calloc(p->a, sizeof(*e->ms));
        osp_matcher_init(&e->ms[0], OSP_MATCH_EQ, "__name__", e->name, p->a, NULL);
        e->nms = 1;
        advance(p);
    }
    if (p->cur.kind == T_LBRACE && !parse_matchers(p, e))
        return NULL;
    bool nonempty = false;
    for (size_t i = 0; i < e->nms; i++)
        if (!osp_matcher_matches_empty(&e->ms[i]))
            nonempty = true;
    if (!nonempty) {
        perr_at(p, e->pos, "vector selector must contain at least one non-empty matcher");
        return NULL;
    }
    e->sel_idx = p->nsel++;
    return e;
}

static bool
check_args(parser *p, expr *e)
{
    const func_def *f = e->fn;
    if ((int)e->nargs < f->nargs || (f->maxargs >= 0 && (int)e->nargs > f->maxargs)) {
        if (f->maxargs == f->nargs)
            perr_at(p, e->pos, "expected %d argument(s) in call to \"%s\", got %zu", f->nargs,
                    f->name, e->nargs);
        else if ((int)e->nargs < f->nargs)
            perr_at(p, e->pos, "expected at least %d argument(s) in call to \"%s\", got %zu",
                    f->nargs, f->name, e->nargs);
        else
            perr_at(p, e->pos, "expected at most %d argument(s) in call to \"%s\", got %zu",
                    f->maxargs, f->name, e->nargs);
        return false;
    }
    for (size_t i = 0; i < e->nargs; i++) {
        osp_promql_vtype want = f->argt[i < 4 ? i : 3];
        if ((int)i >= f->nargs && f->maxargs < 0)
            want = f->argt[f->nargs - 1];
        if (e->args[i]->type != want) {
            perr_at(p, e->args[i]->pos, "expected type %s in call to function \"%s\", got %s",
                    type_name(want), f->name, type_name(e->args[i]->type));
            return false;
        }
    }
    return true;
}

static expr *
parse_call(parser *p, const func_def *f)
{
    expr *e = node(p, N_CALL, p->cur.pos);
    e->fn = f;
    e->type = f->ret;
    advance(p); /* name */
    advance(p); /* ( */
    size_t cap = 0;
    while (p->cur.kind != T_RPAREN) {
        expr *a = parse_expr(p, 0);
        if (a == NULL)
            return NULL;
        if (e->nargs == cap) {
            cap = cap ? cap * 2 : 4;
            expr **nv = osp_arena_alloc(p->a, cap * sizeof(*nv));
            if (e->nargs)
                memcpy(nv, e->args, e->nargs * sizeof(*nv));
            e->args = nv;
        }
        e->args[e->nargs++] = a;
        if (p->cur.kind == T_COMMA)
            advance(p);
        else if (p->cur.kind != T_RPAREN) {
            unexpected(p, "in call to function, expected \",\" or \")\"");
            return NULL;
        }
    }
    advance(p);
    return check_args(p, e) ? e : NULL;
}

static const char *const agg_names[] = {
    "sum",    "avg",    "count", "min",     "max",          "group",
    "stddev", "stdvar", "topk",  "bottomk", "count_values", "quantile",
};

const char *
promql_agg_name(agg_op op)
{
    return agg_names[op];
}

static int
agg_lookup(parser *p)
{
    for (size_t i = 0; i < sizeof agg_names / sizeof agg_names[0]; i++)
        if (is_kw(p, agg_names[i]))
            return (int)i;
    return -1;
}

static bool
parse_grouping(parser *p, expr *e)
{
    e->without = is_kw(p, "without");
    e->by_given = true;
    advance(p);
    return parse_label_list(p, &e->grouping, &e->ngrouping, "in grouping opts");
}

static expr *
parse_agg(parser *p, agg_op op)
{
    expr *e = node(p, N_AGG, p->cur.pos);
    e->aop = op;
    e->type = OSP_PROMQL_VECTOR;
    advance(p);
    if ((is_kw(p, "by") || is_kw(p, "without")) && !parse_grouping(p, e))
        return NULL;
    if (!expect(p, T_LPAREN, "in aggregation"))
        return NULL;
    bool hasparam =
        op == AGG_TOPK || op == AGG_BOTTOMK || op == AGG_COUNT_VALUES || op == AGG_QUANTILE;
    if (hasparam) {
        if ((e->param = parse_expr(p, 0)) == NULL)
            return NULL;
        if (!expect(p, T_COMMA, "in aggregation, expected \",\""))
            return NULL;
    }
    if ((e->arg = parse_expr(p, 0)) == NULL)
        return NULL;
    if (p->cur.kind == T_COMMA)
        advance(p);
    if (!expect(p, T_RPAREN, "in aggregation, expected \")\""))
        return NULL;
    if ((is_kw(p, "by") || is_kw(p, "without"))) {
        if (e->by_given) {
            unexpected(p, "in aggregation");
            return NULL;
        }
        if (!parse_grouping(p, e))
            return NULL;
    }
    if (e->arg->type != OSP_PROMQL_VECTOR) {
        perr_at(p, e->arg->pos, "expected type instant vector in aggregation expression, got %s",
                type_name(e->arg->type));
        return NULL;
    }
    if (hasparam) {
        osp_promql_vtype want = op == AGG_COUNT_VALUES ? OSP_PROMQL_STRING : OSP_PROMQL_SCALAR;
        if (e->param->type != want) {
            perr_at(p, e->param->pos, "expected type %s in aggregation parameter, got %s",
                    type_name(want), type_name(e->param->type));
            return NULL;
        }
    }
    return e;
}

static expr *
parse_atom(parser *p)
{
    tok t = p->cur;
    switch (t.kind) {
    case T_NUMBER: {
        expr *e = node(p, N_NUM, t.pos);
        e->type = OSP_PROMQL_SCALAR;
        if (!parse_number_text(p->lx.q + t.pos, t.len, &e->num)) {
            perr_at(p, t.pos, "bad number or duration syntax: \"%.*s\"", (int)t.len,
                    p->lx.q + t.pos);
            return NULL;
        }
        advance(p);
        return e;
    }
    case T_STRING: {
        expr *e = node(p, N_STR, t.pos);
        e->type = OSP_PROMQL_STRING;
        char *s;
        size_t n;
        if (promql_unquote(p->lx.q + t.pos, t.len, p->a, &s, &n) != 0) {
            perr_at(p, t.pos, "invalid escape sequence in string");
            return NULL;
        }
        e->str = s;
        advance(p);
        return e;
    }
    case T_LPAREN: {
        expr *e = node(p, N_PAREN, t.pos);
        advance(p);
        if ((e->arg = parse_expr(p, 0)) == NULL)
            return NULL;
        if (!expect(p, T_RPAREN, "in parenthesized expression, expected \")\""))
            return NULL;
        e->type = e->arg->type;
        return e;
    }
    case T_LBRACE: return parse_selector(p);
    case T_IDENT: {
        if (is_kw(p, "inf") || is_kw(p, "nan")) {
            expr *e = node(p, N_NUM, t.pos);
            e->type = OSP_PROMQL_SCALAR;
            e->num = is_kw(p, "inf") ? INFINITY : NAN;
            advance(p);
            return e;
        }
        int ag = agg_lookup(p);
        lexer save = p->lx;
        advance(p);
        tok nx = p->cur;
        bool by = is_kw(p, "by") || is_kw(p, "without");
        p->lx = save;
        p->cur = t;
        if (ag >= 0 && (nx.kind == T_LPAREN || by))
            return parse_agg(p, (agg_op)ag);
        if (nx.kind == T_LPAREN) {
            const func_def *f = promql_func_lookup(p->lx.q + t.pos, t.len);
            if (f == NULL) {
                perr_at(p, t.pos, "unknown function with name \"%.*s\"", (int)t.len,
                        p->lx.q + t.pos);
                return NULL;
            }
            return parse_call(p, f);
        }
        static const char *const kws[] = {"and",        "or",          "unless", "atan2",
                                          "by",         "without",     "on",     "ignoring",
                                          "group_left", "group_right", "offset", "bool"};
        for (size_t i = 0; i < sizeof kws / sizeof kws[0]; i++)
            if (is_kw(p, kws[i])) {
                unexpected(p, NULL);
                return NULL;
            }
        return parse_selector(p);
    }
    default: unexpected(p, NULL); return NULL;
    }
}

/* The vector selector an offset/@ applies to, or the subquery itself. */
static expr *
modifier_target(parser *p, expr *e, const char *what)
{
    expr *x = e->kind == N_MSEL ? e->arg : e;
    if (x->kind != N_VSEL && x->kind != N_SUBQ) {
        perr_at(p, p->cur.pos,
                "%s modifier must be preceded by an instant vector selector or range vector "
                "selector or a subquery",
                what);
        return NULL;
    }
    return x;
}

static bool
parse_signed_number(parser *p, double *v)
{
    int sign = 1;
    if (p->cur.kind == T_ADD || p->cur.kind == T_SUB) {
        sign = p->cur.kind == T_SUB ? -1 : 1;
        advance(p);
    }
    if (p->cur.kind != T_NUMBER || !parse_number_text(p->lx.q + p->cur.pos, p->cur.len, v)) {
        unexpected(p, "in @, expected timestamp");
        return false;
    }
    *v *= sign;
    advance(p);
    return true;
}

static expr *
parse_postfix(parser *p, expr *e)
{
    for (;;) {
        if (p->cur.kind == T_LBRACKET) {
            size_t pos = p->cur.pos;
            advance(p);
            int64_t range;
            if (!parse_duration_tok(p, &range))
                return NULL;
            if (p->cur.kind == T_COLON) {
                advance(p);
                expr *s = node(p, N_SUBQ, e->pos);
                if (p->cur.kind != T_RBRACKET && !parse_duration_tok(p, &s->step_ms))
                    return NULL;
                if (!expect(p, T_RBRACKET, "in subquery selector"))
                    return NULL;
                if (e->type != OSP_PROMQL_VECTOR) {
                    perr_at(p, pos, "subquery is only allowed on instant vector, got %s",
                            type_name(e->type));
                    return NULL;
                }
                s->arg = e;
                s->range_ms = range;
                s->type = OSP_PROMQL_MATRIX;
                e = s;
                continue;
            }
            if (!expect(p, T_RBRACKET, "in matrix selector"))
                return NULL;
            if (e->kind != N_VSEL) {
                perr_at(p, pos, "ranges only allowed for vector selectors");
                return NULL;
            }
            if (e->offset_ms != 0 || e->at != AT_NONE) {
                perr_at(p, pos, "no offset or @ modifiers allowed before range");
                return NULL;
            }
            expr *m = node(p, N_MSEL, e->pos);
            m->arg = e;
            m->range_ms = range;
            m->type = OSP_PROMQL_MATRIX;
            e = m;
        } else if (is_kw(p, "offset")) {
            expr *x = modifier_target(p, e, "offset");
            if (x == NULL)
                return NULL;
            advance(p);
            int sign = 1;
            if (p->cur.kind == T_SUB || p->cur.kind == T_ADD) {
                sign = p->cur.kind == T_SUB ? -1 : 1;
                advance(p);
            }
            int64_t off;
            if (!parse_duration_tok(p, &off))
                return NULL;
            if (x->offset_ms != 0) {
                perr_at(p, p->cur.pos, "offset may not be set multiple times");
                return NULL;
            }
            x->offset_ms = sign * off;
        } else if (p->cur.kind == T_AT) {
            expr *x = modifier_target(p, e, "@");
            if (x == NULL)
                return NULL;
            if (x->at != AT_NONE) {
                perr_at(p, p->cur.pos, "@ <timestamp> may not be set multiple times");
                return NULL;
            }
            advance(p);
            if (is_kw(p, "start") || is_kw(p, "end")) {
                x->at = is_kw(p, "start") ? AT_START : AT_END;
                advance(p);
                if (!expect(p, T_LPAREN, "in @") || !expect(p, T_RPAREN, "in @"))
                    return NULL;
            } else {
                double v;
                if (!parse_signed_number(p, &v))
                    return NULL;
                if (!isfinite(v) || fabs(v * 1000) > 9.2e18) {
                    perr_at(p, p->cur.pos, "timestamp out of bounds for @ modifier: %g", v);
                    return NULL;
                }
                x->at = AT_TS;
                x->at_ms = (int64_t)llround(v * 1000);
            }
        } else {
            return e;
        }
    }
}

static expr *
parse_unary(parser *p)
{
    if (p->cur.kind == T_ADD || p->cur.kind == T_SUB) {
        tok t = p->cur;
        advance(p);
        expr *x = parse_expr(p, 6);
        if (x == NULL)
            return NULL;
        if (x->type != OSP_PROMQL_SCALAR && x->type != OSP_PROMQL_VECTOR) {
            perr_at(p, t.pos,
                    "unary expression only allowed on expressions of type scalar or instant "
                    "vector, got %s",
                    type_name(x->type));
            return NULL;
        }
        if (x->kind == N_NUM) {
            if (t.kind == T_SUB)
                x->num = -x->num;
            x->pos = t.pos;
            return x;
        }
        expr *e = node(p, N_UNARY, t.pos);
        e->op = t.kind;
        e->arg = x;
        e->type = x->type;
        return e;
    }
    expr *a = parse_atom(p);
    return a ? parse_postfix(p, a) : NULL;
}

static int
binop_prec(parser *p, tok_kind *k)
{
    switch (p->cur.kind) {
    case T_ADD:
    case T_SUB: *k = p->cur.kind; return 4;
    case T_MUL:
    case T_DIV:
    case T_MOD: *k = p->cur.kind; return 5;
    case T_POW: *k = T_POW; return 6;
    case T_EQLC:
    case T_NEQ:
    case T_LTE:
    case T_LSS:
    case T_GTE:
    case T_GTR: *k = p->cur.kind; return 3;
    default: break;
    }
    if (is_kw(p, "or")) {
        *k = T_LOR;
        return 1;
    }
    if (is_kw(p, "and") || is_kw(p, "unless")) {
        *k = is_kw(p, "and") ? T_LAND : T_LUNLESS;
        return 2;
    }
    if (is_kw(p, "atan2")) {
        *k = T_ATAN2;
        return 5;
    }
    return -1;
}

static bool
is_cmp(tok_kind k)
{
    return k >= T_EQLC && k <= T_GTR;
}

static bool
is_set(tok_kind k)
{
    return k == T_LAND || k == T_LOR || k == T_LUNLESS;
}

static bool
parse_bin_modifiers(parser *p, expr *e)
{
    if (is_kw(p, "bool")) {
        e->ret_bool = true;
        advance(p);
    }
    if (is_kw(p, "on") || is_kw(p, "ignoring")) {
        e->matching = true;
        e->on = is_kw(p, "on");
        advance(p);
        if (!parse_label_list(p, &e->mlabels, &e->nmlabels, "in grouping opts"))
            return false;
        if (is_kw(p, "group_left") || is_kw(p, "group_right")) {
            e->card = is_kw(p, "group_left") ? CARD_MANY_TO_ONE : CARD_ONE_TO_MANY;
            advance(p);
            if (p->cur.kind == T_LPAREN &&
                !parse_label_list(p, &e->include, &e->ninclude, "in grouping opts"))
                return false;
        }
    }
    return true;
}

static bool
check_binary(parser *p, expr *e)
{
    osp_promql_vtype lt = e->lhs->type, rt = e->rhs->type;
    if ((lt != OSP_PROMQL_SCALAR && lt != OSP_PROMQL_VECTOR) ||
        (rt != OSP_PROMQL_SCALAR && rt != OSP_PROMQL_VECTOR)) {
        perr_at(p, e->pos, "binary expression must contain only scalar and instant vector types");
        return false;
    }
    if (e->ret_bool && !is_cmp(e->op)) {
        perr_at(p, e->pos, "bool modifier can only be used on comparison operators");
        return false;
    }
    if (is_cmp(e->op) && !e->ret_bool && lt == OSP_PROMQL_SCALAR && rt == OSP_PROMQL_SCALAR) {
        perr_at(p, e->pos, "comparisons between scalars must use BOOL modifier");
        return false;
    }
    if (e->matching && (lt != OSP_PROMQL_VECTOR || rt != OSP_PROMQL_VECTOR)) {
        perr_at(p, e->pos, "vector matching only allowed between instant vectors");
        return false;
    }
    if (is_set(e->op)) {
        if (lt != OSP_PROMQL_VECTOR || rt != OSP_PROMQL_VECTOR) {
            perr_at(p, e->pos, "set operator \"%s\" not allowed in binary scalar expression",
                    promql_binop_name(e->op));
            return false;
        }
        if (e->card == CARD_MANY_TO_ONE || e->card == CARD_ONE_TO_MANY) {
            perr_at(p, e->pos, "no grouping allowed for \"%s\" operation",
                    promql_binop_name(e->op));
            return false;
        }
        e->card = CARD_MANY_TO_MANY;
    }
    if (e->matching)
        for (size_t i = 0; i < e->nmlabels; i++)
            for (size_t j = 0; j < e->ninclude; j++)
                if (strcmp(e->mlabels[i], e->include[j]) == 0 && e->on) {
                    perr_at(p, e->pos, "label \"%s\" must not occur in ON and GROUP clause at once",
                            e->include[j]);
                    return false;
                }
    e->type = (lt == OSP_PROMQL_VECTOR || rt == OSP_PROMQL_VECTOR) ? OSP_PROMQL_VECTOR
                                                                   : OSP_PROMQL_SCALAR;
    return true;
}

static expr *
parse_expr(parser *p, int min_prec)
{
    expr *lhs = parse_unary(p);
    if (lhs == NULL)
        return NULL;
    for (;;) {
        tok_kind op;
        int prec = binop_prec(p, &op);
        if (prec < 0 || prec < min_prec)
            return lhs;
        expr *e = node(p, N_BIN, p->cur.pos);
        e->op = op;
        advance(p);
        if (!parse_bin_modifiers(p, e))
            return NULL;
        e->lhs = lhs;
        e->rhs = parse_expr(p, op == T_POW ? prec : prec + 1);
        if (e->rhs == NULL || !check_binary(p, e))
            return NULL;
        lhs = e;
    }
}

static int
parse_root(const char *q, size_t n, osp_arena *a, osp_errinfo *ei, expr **out, int *nsel)
{
    parser p = {.a = a, .ei = ei};
    promql_lex_init(&p.lx, q, n);
    advance(&p);
    if (p.cur.kind == T_EOF) {
        perr_at(&p, 0, "no expression found in input");
        return OSP_EPARSE;
    }
    expr *e = parse_expr(&p, 0);
    if (e != NULL && p.cur.kind != T_EOF) {
        unexpected(&p, NULL);
        e = NULL;
    }
    if (e == NULL)
        return p.err ? p.err : OSP_EPARSE;
    *out = e;
    *nsel = p.nsel;
    return 0;
}

int
osp_promql_parse(const char *q, size_t n, osp_promql_expr **out, osp_errinfo *ei)
{
    osp_arena *a = osp_arena_new(0);
    expr *e;
    int nsel;
    int rc = parse_root(q, n, a, ei, &e, &nsel);
    if (rc != 0) {
        osp_arena_free(a);
        return rc;
    }
    e->arena = a;
    e->nsel = nsel;
    *out = e;
    return 0;
}

void
osp_promql_expr_free(osp_promql_expr *e)
{
    if (e != NULL)
        osp_arena_free(e->arena);
}

osp_promql_vtype
osp_promql_expr_type(const osp_promql_expr *e)
{
    return e->type;
}

int
promql_parse_selector_only(const char *q, size_t n, osp_arena *a, osp_matcher **out, size_t *nout,
                           osp_errinfo *ei)
{
    expr *e;
    int nsel;
    int rc = parse_root(q, n, a, ei, &e, &nsel);
    if (rc != 0)
        return rc;
    if (e->kind != N_VSEL || e->offset_ms != 0 || e->at != AT_NONE)
        return osp_errinfo_set(ei, OSP_EPARSE, 1, 1, "1:1: parse error: expected vector selector");
    *out = e->ms;
    *nout = e->nms;
    return 0;
}
