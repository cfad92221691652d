/* promql_int.h - private types of the PromQL library: tokens, the syntax tree, the
 * function table and the evaluator's values. */
#ifndef OSP_PROMQL_INT_H
#define OSP_PROMQL_INT_H

#include "promql.h"

/* ---- lexer -------------------------------------------------------------------------- */

typedef enum tok_kind {
    T_EOF,
    T_ERR,
    T_IDENT,  /* names, keywords, function names (keywords are checked by the parser) */
    T_NUMBER, /* digits/letters run: a number or a duration, decided by the parser */
    T_STRING,
    T_LBRACE,
    T_RBRACE,
    T_LPAREN,
    T_RPAREN,
    T_LBRACKET,
    T_RBRACKET,
    T_COMMA,
    T_COLON,
    T_AT,
    /* operators, in the order of binop_names[] */
    T_ADD,
    T_SUB,
    T_MUL,
    T_DIV,
    T_MOD,
    T_POW,
    T_EQLC, /* == */
    T_NEQ,
    T_LTE,
    T_LSS,
    T_GTE,
    T_GTR,
    T_LAND,
    T_LOR,
    T_LUNLESS,
    T_ATAN2,
    /* matcher operators */
    T_ASSIGN, /* = */
    T_EQL_REGEX,
    T_NEQ_REGEX,
} tok_kind;

typedef struct tok {
    tok_kind kind;
    size_t pos; /* byte offset into the query */
    size_t len;
} tok;

typedef struct lexer {
    const char *q;
    size_t n;
    size_t pos;
    int brackets; /* depth of [ ]: inside, ':' is a colon, not part of a name */
} lexer;

void promql_lex_init(lexer *lx, const char *q, size_t n);
/* promql_lex_next: the next token; T_ERR when the input has an invalid character or an
 * unterminated string (pos points at it). */
tok promql_lex_next(lexer *lx);
/* promql_unquote: decode a Go-style string literal token into arena memory; 0 or
 * OSP_EPARSE. */
int promql_unquote(const char *s, size_t n, osp_arena *a, char **out, size_t *outn);
/* promql_binop_name: "+", "and", "atan2", ... for T_ADD..T_ATAN2. */
const char *promql_binop_name(tok_kind k);
/* promql_quote: append s as Go's %q does. */
void promql_quote(osp_buf *b, const char *s);

/* ---- syntax tree -------------------------------------------------------------------- */

typedef enum node_kind {
    N_NUM,
    N_STR,
    N_VSEL,
    N_MSEL,
    N_SUBQ,
    N_CALL,
    N_AGG,
    N_BIN,
    N_UNARY,
    N_PAREN,
} node_kind;

typedef enum at_kind { AT_NONE, AT_TS, AT_START, AT_END } at_kind;

typedef enum agg_op {
    AGG_SUM,
    AGG_AVG,
    AGG_COUNT,
    AGG_MIN,
    AGG_MAX,
    AGG_GROUP,
    AGG_STDDEV,
    AGG_STDVAR,
    AGG_TOPK,
    AGG_BOTTOMK,
    AGG_COUNT_VALUES,
    AGG_QUANTILE,
} agg_op;

typedef enum card { CARD_ONE_TO_ONE, CARD_MANY_TO_ONE, CARD_ONE_TO_MANY, CARD_MANY_TO_MANY } card;

typedef struct func_def func_def;
typedef struct osp_promql_expr expr;

struct osp_promql_expr {
    node_kind kind;
    osp_promql_vtype type;
    size_t pos;
    osp_arena *arena; /* the tree's arena; set on the root only */
    int nsel;         /* root only: number of selectors (sel_idx 0..nsel-1) */

    double num;      /* N_NUM */
    const char *str; /* N_STR */

    /* N_VSEL (and the offset/at of N_SUBQ) */
    const char *name; /* metric name or NULL */
    osp_matcher *ms;
    size_t nms;
    int sel_idx;
    int64_t offset_ms;
    at_kind at;
    int64_t at_ms;

    /* N_MSEL, N_SUBQ */
    int64_t range_ms;
    int64_t step_ms; /* N_SUBQ, 0 = default */

    /* N_CALL */
    const func_def *fn;
    expr **args;
    size_t nargs;

    /* N_AGG */
    agg_op aop;
    expr *param;
    const char **grouping;
    size_t ngrouping;
    bool without;
    bool by_given;

    /* N_BIN (op), N_UNARY (op), N_PAREN/N_MSEL/N_SUBQ/N_UNARY/N_AGG (arg) */
    tok_kind op;
    expr *lhs, *rhs, *arg;
    bool ret_bool;
    bool matching; /* on/ignoring given */
    bool on;
    const char **mlabels;
    size_t nmlabels;
    card card;
    const char **include;
    size_t ninclude;
};

const char *promql_agg_name(agg_op op);

/* ---- evaluator values --------------------------------------------------------------- */

/* Instant-vector element. Labels are sorted; t is the sample time (for timestamp()). */
typedef struct sample {
    osp_label *l;
    size_t nl;
    int64_t t;
    double v;
} sample;

typedef struct vec {
    sample *v;
    size_t n, cap;
} vec;

/* Range-vector element: a view of points (no stale markers). */
typedef struct mser {
    osp_label *l;
    size_t nl;
    osp_promql_point *p;
    size_t n;
} mser;

typedef struct mat {
    mser *v;
    size_t n, cap;
} mat;

typedef struct value {
    osp_promql_vtype type;
    double scalar;
    const char *str;
    vec vec;
    mat mat;
} value;

typedef struct evctx {
    const osp_promql_source *src;
    int64_t start, end, interval; /* query range (instant: start == end) */
    int64_t lookback;
    int64_t deadline_ns; /* 0 = none */
    size_t max_samples;
    size_t nsamples;            /* samples selected plus subquery points built, for max_samples */
    osp_arena *qa;              /* per-query arena: selections, the result */
    osp_arena *sa;              /* per-step scratch arena */
    osp_promql_series_set *sel; /* per selector index */
    struct lset_reg *reg;       /* range queries: what is known of persistent label arrays */
    osp_errinfo *ei;
} evctx;

/* promql_eval_node: evaluate e at time t into *out (memory from ctx->sa). */
int promql_eval_node(evctx *c, const expr *e, int64_t t, value *out);

void vec_push(vec *v, osp_arena *a, sample s);
void mat_push(mat *m, osp_arena *a, mser s);

/* label helpers over arena-owned sorted arrays */
const char *lbl_get(const osp_label *l, size_t n, const char *name);
/* lbl_drop_name: copy without __name__ (returns l itself when it has none). */
void lbl_drop_name(osp_arena *a, osp_label **l, size_t *n);
/* lbl_set: copy with name set to value ("" deletes). */
void lbl_set(osp_arena *a, osp_label **l, size_t *n, const char *name, const char *val);
int lbl_cmp(const osp_label *a, size_t na, const osp_label *b, size_t nb);
uint64_t lbl_hash(const osp_label *l, size_t n);
/* lbl_sig: hash of the labels named in names (on=true) or all but those and __name__
 * (on=false). */
uint64_t lbl_sig(const osp_label *l, size_t n, const char **names, size_t nn, bool on);
/* lbl_keep: copy of the labels named in names (on) or all but names (and __name__). */
void lbl_keep(osp_arena *a, const osp_label *l, size_t n, const char **names, size_t nn, bool on,
              osp_label **out, size_t *outn);

/* Label arrays that outlive a step (promql_lset.c). A range evaluation registers the
 * arrays of its selections (and their name-less tails); results derived from registered
 * arrays are remembered (and registered) per operation, so that hashes, matching
 * signatures and derived arrays are computed once per query, not once per step. Every
 * function takes r == NULL (instant queries) and unregistered arrays, and then computes. A
 * tag is the address of the tree node whose operation it is. Per query, one thread. */
typedef struct lset_reg lset_reg;

/* lset_reg_new: an empty registry in a, the query's arena. */
lset_reg *lset_reg_new(osp_arena *a);
/* lset_register: l[0..n) and its strings stay unchanged until the query ends. */
void lset_register(lset_reg *r, const osp_label *l, size_t n);
/* lset_hash: lbl_hash(l, n). */
uint64_t lset_hash(lset_reg *r, const osp_label *l, size_t n);
/* lset_sig: lbl_sig(l, n, names, nn, on), which must depend only on tag and l. */
uint64_t lset_sig(lset_reg *r, const void *tag, const osp_label *l, size_t n, const char **names,
                  size_t nn, bool on);
/* lset_memo_get: the labels that operation tag derived from a (and b unless NULL) when
 * lset_memo_put remembered them; false otherwise. One derived array is remembered per
 * registered array (the first put). */
bool lset_memo_get(lset_reg *r, const void *tag, const osp_label *a, size_t na, const osp_label *b,
                   size_t nb, osp_label **out, size_t *nout);
/* lset_memo_put: remember *l[0..*n), derived by tag from a (and b), when a and b are
 * registered: a copy of the array goes into the registry's arena, is registered and
 * replaces *l. Its strings must outlive the query (strings of a, b or the tree). */
void lset_memo_put(lset_reg *r, const void *tag, const osp_label *a, size_t na, const osp_label *b,
                   size_t nb, osp_label **l, size_t *n);
/* lset_drop_name: lbl_drop_name(a, l, n), remembered for registered arrays (the result is
 * then registered too). */
void lset_drop_name(lset_reg *r, osp_arena *a, osp_label **l, size_t *n);
/* lset_out: where the range driver keeps the index + 1 of l's series in the result (0:
 * not yet known), or NULL when l is not registered. *hint (NULL at first) is the caller's
 * guess, checked and updated: samples come in the same order at every step. */
int *lset_out(lset_reg *r, const osp_label *l, size_t n, void **hint);

/* Hash -> int map in an arena (open addressing; identity by 64-bit hash, as Prometheus'
 * signatures). */
typedef struct hmap {
    uint64_t *keys;
    int *vals;
    unsigned char *used;
    size_t cap, n;
} hmap;

void hmap_init(hmap *m, osp_arena *a, size_t hint);
/* hmap_get: pointer to the value of key, or NULL. */
int *hmap_get(const hmap *m, uint64_t key);
/* hmap_put: pointer to the value slot of key (inserted with *found=false if new). */
int *hmap_put(hmap *m, osp_arena *a, uint64_t key, bool *found);

/* check_unique: OSP_EINVAL "vector cannot contain metrics with the same labelset" when
 * two samples of v share labels. */
int promql_check_unique(evctx *c, const vec *v);

/* ---- functions and aggregations ----------------------------------------------------- */

struct func_def {
    const char *name;
    osp_promql_vtype argt[4];
    int nargs;   /* required arguments */
    int maxargs; /* -1 = variadic */
    osp_promql_vtype ret;
    int (*call)(evctx *c, const expr *e, int64_t t, value *args, value *out);
};

const func_def *promql_func_lookup(const char *name, size_t n);
int promql_eval_call(evctx *c, const expr *e, int64_t t, value *out);
int promql_eval_agg(evctx *c, const expr *e, int64_t t, value *out);

/* promql_eval_fail: set an execution error (OSP_EINVAL) message. */
int promql_eval_fail(evctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* promql_select_range: the points of a selection's series in [lo, hi], without stale
 * markers, as a view when possible (copies into the scratch arena otherwise). */
void promql_series_range(evctx *c, osp_promql_series *s, int64_t lo, int64_t hi,
                         osp_promql_point **out, size_t *n);

/* promql_parse_selector: parse the selector part of a query (used by osp_matchers_parse). */
int promql_parse_selector_only(const char *q, size_t n, osp_arena *a, osp_matcher **out,
                               size_t *nout, osp_errinfo *ei);

#endif
