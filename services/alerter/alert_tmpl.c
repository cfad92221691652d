/* alert_tmpl.c - parser and executor of the Go text/template subset (see
 * alert_tmpl.h). The tree lives in the template's arena; execution allocates
 * from the caller's arena. Functions are in alert_tmpl_funcs.c. */
#include "alert_tmpl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_tmpl_int.h"
#include "osp_mem.h"

/* ---------------- values ---------------- */

alert_tval
alert_tval_str(const char *s)
{
    return (alert_tval){.kind = ALERT_TV_STR, .s = s ? s : ""};
}

alert_tval
alert_tval_num(double v)
{
    return (alert_tval){.kind = ALERT_TV_NUM, .num = v};
}

alert_tval
alert_tval_labels(const osp_labels *ls, unsigned flags, osp_arena *a)
{
    size_t n = ls ? ls->n : 0;
    const char **keys = osp_arena_alloc(a, sizeof(*keys) * (n + 1));
    alert_tval *vals = osp_arena_alloc(a, sizeof(*vals) * (n + 1));
    for (size_t i = 0; i < n; i++) {
        keys[i] = osp_arena_strndup(a, ls->v[i].name, strlen(ls->v[i].name));
        vals[i] = alert_tval_str(osp_arena_strndup(a, ls->v[i].value, strlen(ls->v[i].value)));
    }
    return (alert_tval){.kind = ALERT_TV_MAP, .flags = flags, .n = n, .keys = keys, .items = vals};
}

alert_tval
alert_tval_struct(const char *const *names, const alert_tval *vals, size_t n, osp_arena *a)
{
    const char **keys = osp_arena_alloc(a, sizeof(*keys) * (n + 1));
    alert_tval *v = osp_arena_alloc(a, sizeof(*v) * (n + 1));
    for (size_t i = 0; i < n; i++) {
        keys[i] = osp_arena_strndup(a, names[i], strlen(names[i]));
        v[i] = vals[i];
    }
    return (alert_tval){
        .kind = ALERT_TV_MAP, .flags = ALERT_TV_STRUCT, .n = n, .keys = keys, .items = v};
}

/* ---------------- lexer of one action ---------------- */

typedef struct lexer {
    const char *src; /* whole template (for positions) */
    const char *p, *end;
    osp_arena *a;
    osp_errinfo *ei;
} lexer;

static void
pos_of(const char *src, const char *p, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *q = src; q < p; q++) {
        if (*q == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* subst: fmt with its one "%s" replaced by arg (messages are our own
 * constants; this keeps -Wformat-nonliteral happy). */
static void
subst(char *out, size_t sz, const char *fmt, const char *arg)
{
    const char *p = strstr(fmt, "%s");
    if (p == NULL)
        snprintf(out, sz, "%s", fmt);
    else
        snprintf(out, sz, "%.*s%s%s", (int)(p - fmt), fmt, arg ? arg : "", p + 2);
}

static int
lex_err(lexer *lx, const char *at, const char *fmt, const char *arg)
{
    int line, col;
    char msg[300];
    pos_of(lx->src, at, &line, &col);
    subst(msg, sizeof(msg), fmt, arg);
    return osp_errinfo_set(lx->ei, OSP_EPARSE, line, col, "%s", msg);
}

static void
skip_ws(lexer *lx)
{
    while (lx->p < lx->end && isspace((unsigned char)*lx->p))
        lx->p++;
}

static bool
is_ident(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* word: the next identifier-ish token (keyword, function name) or NULL. */
static char *
word(lexer *lx)
{
    skip_ws(lx);
    const char *s = lx->p;
    while (lx->p < lx->end && is_ident(*lx->p))
        lx->p++;
    if (lx->p == s)
        return NULL;
    return osp_arena_strndup(lx->a, s, (size_t)(lx->p - s));
}

/* Go string literal (interpreted "..." or raw `...`) at lx->p. */
static int
lex_string(lexer *lx, char **out)
{
    const char *start = lx->p;
    char q = *lx->p++;
    osp_buf b;
    osp_buf_init(&b);
    while (lx->p < lx->end && *lx->p != q) {
        char c = *lx->p++;
        if (q == '"' && c == '\\' && lx->p < lx->end) {
            char e = *lx->p++;
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '\\': c = '\\'; break;
            case '"': c = '"'; break;
            case '\'': c = '\''; break;
            case 'a': c = '\a'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'v': c = '\v'; break;
            case 'x': {
                if (lx->end - lx->p < 2 || !isxdigit((unsigned char)lx->p[0]) ||
                    !isxdigit((unsigned char)lx->p[1])) {
                    osp_buf_fini(&b);
                    return lex_err(lx, lx->p, "invalid escape in string literal%s", NULL);
                }
                char hx[3] = {lx->p[0], lx->p[1], 0};
                c = (char)strtol(hx, NULL, 16);
                lx->p += 2;
                break;
            }
            default:
                osp_buf_fini(&b);
                return lex_err(lx, lx->p - 1, "invalid escape in string literal%s", NULL);
            }
        } else if (q == '"' && c == '\n') {
            break;
        }
        osp_buf_putc(&b, c);
    }
    if (lx->p >= lx->end || *lx->p != q) {
        osp_buf_fini(&b);
        return lex_err(lx, start, "unterminated quoted string%s", NULL);
    }
    lx->p++;
    *out = osp_arena_strndup(lx->a, b.data ? b.data : "", b.len);
    osp_buf_fini(&b);
    return 0;
}

/* fields: ".a.b.c" after an operand; appends names to arg. */
static void
lex_fields(lexer *lx, tnode_arg *arg)
{
    while (lx->p + 1 < lx->end && lx->p[0] == '.' && is_ident(lx->p[1])) {
        lx->p++;
        const char *s = lx->p;
        while (lx->p < lx->end && is_ident(*lx->p))
            lx->p++;
        if (arg->nfields < TMPL_MAX_FIELDS)
            arg->fields[arg->nfields++] = osp_arena_strndup(lx->a, s, (size_t)(lx->p - s));
    }
}

static int parse_pipe(lexer *lx, bool allow_decl, char close, tnode_pipe **out);

static int
parse_arg(lexer *lx, tnode_arg *arg, bool first)
{
    memset(arg, 0, sizeof(*arg));
    const char *at = lx->p;
    char c = *lx->p;
    int rc;
    if (c == '"' || c == '`') {
        arg->kind = A_STR;
        return lex_string(lx, &arg->str);
    }
    if (c == '(') {
        lx->p++;
        arg->kind = A_PIPE;
        if ((rc = parse_pipe(lx, false, ')', &arg->pipe)))
            return rc;
        lex_fields(lx, arg);
        return 0;
    }
    if (c == '.') {
        arg->kind = A_DOT;
        if (lx->p + 1 < lx->end && is_ident(lx->p[1]))
            lex_fields(lx, arg);
        else
            lx->p++;
        return 0;
    }
    if (c == '$') {
        lx->p++;
        const char *s = lx->p;
        while (lx->p < lx->end && is_ident(*lx->p))
            lx->p++;
        arg->kind = A_VAR;
        arg->str = osp_arena_strndup(lx->a, s, (size_t)(lx->p - s));
        lex_fields(lx, arg);
        return 0;
    }
    if (isdigit((unsigned char)c) || ((c == '-' || c == '+' || c == '.') && lx->p + 1 < lx->end &&
                                      isdigit((unsigned char)lx->p[1]))) {
        char *e;
        const char *s = lx->p;
        long long iv = strtoll(s, &e, 0);
        if (e < lx->end && (*e == '.' || *e == 'e' || *e == 'E')) {
            arg->kind = A_NUM;
            arg->num = strtod(s, &e);
        } else {
            arg->kind = A_INT;
            arg->ival = iv;
        }
        if (e > lx->end)
            return lex_err(lx, at, "bad number syntax%s", NULL);
        lx->p = e;
        return 0;
    }
    if (is_ident(c)) {
        char *w = word(lx);
        if (strcmp(w, "true") == 0 || strcmp(w, "false") == 0) {
            arg->kind = A_BOOL;
            arg->b = w[0] == 't';
            return 0;
        }
        if (strcmp(w, "nil") == 0) {
            arg->kind = A_NIL;
            return 0;
        }
        arg->func = alert_tmpl_func_find(w);
        if (arg->func == NULL)
            return lex_err(lx, at, "function \"%s\" not defined", w);
        arg->kind = A_FUNC;
        arg->str = w;
        (void)first;
        return 0;
    }
    char bad[2] = {c, 0};
    return lex_err(lx, at, "unexpected \"%s\" in command", bad);
}

/* parse_pipe: [decl :=|=] cmd | cmd ..., up to close (0 = end of the action). */
static int
parse_pipe(lexer *lx, bool allow_decl, char close, tnode_pipe **out)
{
    tnode_pipe *pp = osp_arena_calloc(lx->a, sizeof(*pp));
    skip_ws(lx);
    if (allow_decl && lx->p < lx->end && *lx->p == '$') {
        /* look ahead for "$x :=", "$x =" or "$i, $e :=" */
        const char *save = lx->p;
        char *names[2] = {NULL, NULL};
        size_t nn = 0;
        for (;;) {
            if (lx->p >= lx->end || *lx->p != '$')
                break;
            lx->p++;
            const char *s = lx->p;
            while (lx->p < lx->end && is_ident(*lx->p))
                lx->p++;
            names[nn++] = osp_arena_strndup(lx->a, s, (size_t)(lx->p - s));
            skip_ws(lx);
            if (nn < 2 && lx->p < lx->end && *lx->p == ',') {
                lx->p++;
                skip_ws(lx);
                continue;
            }
            break;
        }
        if (lx->p + 1 < lx->end && lx->p[0] == ':' && lx->p[1] == '=') {
            lx->p += 2;
            pp->ndecl = nn;
            pp->decl[0] = names[0];
            pp->decl[1] = names[1];
        } else if (nn == 1 && lx->p < lx->end && lx->p[0] == '=' &&
                   (lx->p + 1 >= lx->end || lx->p[1] != '=')) {
            lx->p++;
            pp->ndecl = 1;
            pp->assign = true;
            pp->decl[0] = names[0];
        } else {
            lx->p = save;
        }
    }
    tnode_cmd *cur = NULL;
    for (;;) {
        skip_ws(lx);
        if (lx->p >= lx->end) {
            if (close)
                return lex_err(lx, lx->p, "unclosed left paren%s", NULL);
            break;
        }
        if (close && *lx->p == close) {
            lx->p++;
            break;
        }
        if (*lx->p == '|') {
            if (cur == NULL || cur->nargs == 0)
                return lex_err(lx, lx->p, "missing command before '|'%s", NULL);
            lx->p++;
            cur = NULL;
            continue;
        }
        if (cur == NULL) {
            if (pp->ncmds == TMPL_MAX_CMDS)
                return lex_err(lx, lx->p, "pipeline too long%s", NULL);
            cur = &pp->cmds[pp->ncmds++];
        }
        if (cur->nargs == TMPL_MAX_ARGS)
            return lex_err(lx, lx->p, "too many arguments%s", NULL);
        int rc = parse_arg(lx, &cur->args[cur->nargs], cur->nargs == 0);
        if (rc)
            return rc;
        cur->nargs++;
    }
    if (pp->ncmds == 0 || pp->cmds[pp->ncmds - 1].nargs == 0)
        return lex_err(lx, lx->p, "missing value for command%s", NULL);
    for (size_t i = 0; i < pp->ncmds; i++) {
        const tnode_arg *a0 = &pp->cmds[i].args[0];
        bool method = a0->nfields > 0 && strcmp(a0->fields[a0->nfields - 1], "Remove") == 0;
        if (pp->cmds[i].nargs > 1 && a0->kind != A_FUNC && !method)
            return lex_err(lx, lx->p, "can't give argument to non-function%s", NULL);
    }
    *out = pp;
    return 0;
}

/* ---------------- the tree ---------------- */

struct alert_tmpl {
    osp_arena *arena;
    const char *name;
    tnode *root;
    tdefine *defines;
    bool plain;
};

typedef struct parser {
    alert_tmpl *t;
    const char *src, *p, *end;
    osp_errinfo *ei;
} parser;

/* One action's text: [start, stop) inside {{ }} (trim markers removed). */
typedef struct action {
    const char *start, *stop;
    const char *open; /* the "{{" (positions) */
} action;

static int
perr(parser *ps, const char *at, const char *fmt, const char *arg)
{
    int line, col;
    char msg[300];
    pos_of(ps->src, at, &line, &col);
    subst(msg, sizeof(msg), fmt, arg);
    return osp_errinfo_set(ps->ei, OSP_EPARSE, line, col, "%s", msg);
}

/* next_piece: text up to the next action (trimmed as the markers say) into
 * *text, the action into *act. Returns 1 with an action, 0 at the end. */
static int
next_piece(parser *ps, tnode **text, action *act, int *rc)
{
    const char *open = NULL;
    for (const char *q = ps->p; q + 1 < ps->end; q++)
        if (q[0] == '{' && q[1] == '{') {
            open = q;
            break;
        }
    const char *tend = open ? open : ps->end;
    const char *astart = NULL;
    bool ltrim = false;
    if (open) {
        astart = open + 2;
        if (astart + 1 < ps->end && astart[0] == '-' && isspace((unsigned char)astart[1])) {
            ltrim = true;
            astart += 2;
        }
    }
    const char *tstart = ps->p;
    if (ltrim)
        while (tend > tstart && isspace((unsigned char)tend[-1]))
            tend--;
    *text = NULL;
    if (tend > tstart) {
        tnode *n = osp_arena_calloc(ps->t->arena, sizeof(*n));
        n->kind = N_TEXT;
        n->text = tstart;
        n->len = (size_t)(tend - tstart);
        *text = n;
    }
    if (!open) {
        ps->p = ps->end;
        return 0;
    }
    /* find the closing }} outside string literals */
    const char *q = astart;
    const char *close = NULL;
    while (q + 1 < ps->end) {
        if (*q == '"' || *q == '`') {
            char qc = *q++;
            while (q < ps->end && *q != qc) {
                if (qc == '"' && *q == '\\')
                    q++;
                q++;
            }
            q++;
            continue;
        }
        if (q[0] == '/' && q + 1 < ps->end && q[1] == '*') {
            const char *e = strstr(q + 2, "*/");
            if (e == NULL || e >= ps->end) {
                *rc = perr(ps, q, "unclosed comment%s", NULL);
                return -1;
            }
            q = e + 2;
            continue;
        }
        if (q[0] == '}' && q[1] == '}') {
            close = q;
            break;
        }
        q++;
    }
    if (close == NULL) {
        *rc = perr(ps, open, "unclosed action%s", NULL);
        return -1;
    }
    const char *astop = close;
    bool rtrim = false;
    if (astop - 2 >= astart && astop[-1] == '-' && isspace((unsigned char)astop[-2])) {
        rtrim = true;
        astop -= 2;
    }
    ps->p = close + 2;
    if (rtrim)
        while (ps->p < ps->end && isspace((unsigned char)*ps->p))
            ps->p++;
    act->start = astart;
    act->stop = astop;
    act->open = open;
    return 1;
}

typedef enum endkind { END_EOF, END_END, END_ELSE } endkind;

static int parse_list(parser *ps, tnode **out, endkind *ek, action *last);

static lexer
lexer_of(parser *ps, const action *a)
{
    return (lexer){.src = ps->src, .p = a->start, .end = a->stop, .a = ps->t->arena, .ei = ps->ei};
}

/* control: if/range/with: pipeline, body, optional else / else if. */
static int
parse_control(parser *ps, tnode_kind kind, lexer *lx, tnode **out)
{
    tnode *n = osp_arena_calloc(ps->t->arena, sizeof(*n));
    n->kind = kind;
    int rc = parse_pipe(lx, kind != N_IF, 0, &n->pipe);
    if (rc)
        return rc;
    endkind ek;
    action last;
    if ((rc = parse_list(ps, &n->body, &ek, &last)))
        return rc;
    if (ek == END_EOF)
        return perr(ps, lx->src + (n->pipe ? 0 : 0), "unexpected EOF: missing {{end}}%s", NULL);
    if (ek == END_ELSE) {
        lexer el = lexer_of(ps, &last);
        char *w = word(&el); /* "else" */
        (void)w;
        skip_ws(&el);
        if (el.p < el.end) {
            char *w2 = word(&el);
            if (w2 == NULL || (strcmp(w2, "if") != 0 && strcmp(w2, "with") != 0))
                return perr(ps, last.start, "unexpected token after else%s", NULL);
            /* else if / else with: a nested control that consumes the {{end}} */
            tnode *nested;
            if ((rc = parse_control(ps, w2[0] == 'i' ? N_IF : N_WITH, &el, &nested)))
                return rc;
            n->else_body = nested;
        } else {
            if ((rc = parse_list(ps, &n->else_body, &ek, &last)))
                return rc;
            if (ek != END_END)
                return perr(ps, last.start ? last.start : ps->end,
                            "expected {{end}} after {{else}}%s", NULL);
        }
    }
    *out = n;
    return 0;
}

static int
parse_action(parser *ps, const action *act, tnode **out, endkind *ek)
{
    lexer lx = lexer_of(ps, act);
    skip_ws(&lx);
    *out = NULL;
    if (lx.p + 1 < lx.end && lx.p[0] == '/' && lx.p[1] == '*')
        return 0; /* comment */
    if (lx.p >= lx.end)
        return perr(ps, act->open, "missing value for command%s", NULL);
    const char *save = lx.p;
    char *w = word(&lx);
    if (w != NULL) {
        if (strcmp(w, "end") == 0) {
            *ek = END_END;
            return 0;
        }
        if (strcmp(w, "else") == 0) {
            *ek = END_ELSE;
            return 0;
        }
        if (strcmp(w, "if") == 0)
            return parse_control(ps, N_IF, &lx, out);
        if (strcmp(w, "range") == 0)
            return parse_control(ps, N_RANGE, &lx, out);
        if (strcmp(w, "with") == 0)
            return parse_control(ps, N_WITH, &lx, out);
        if (strcmp(w, "define") == 0 || strcmp(w, "template") == 0 || strcmp(w, "block") == 0) {
            skip_ws(&lx);
            char *name;
            if (lx.p >= lx.end || (*lx.p != '"' && *lx.p != '`'))
                return perr(ps, lx.p, "%s needs a quoted template name", NULL);
            int rc = lex_string(&lx, &name);
            if (rc)
                return rc;
            if (w[0] == 'd') {
                tdefine *d = osp_arena_calloc(ps->t->arena, sizeof(*d));
                d->name = name;
                endkind dk;
                action last;
                if ((rc = parse_list(ps, &d->body, &dk, &last)))
                    return rc;
                if (dk != END_END)
                    return perr(ps, act->open, "unexpected EOF: missing {{end}} of define%s", NULL);
                d->next = ps->t->defines;
                ps->t->defines = d;
                return 0;
            }
            if (w[0] == 'b')
                return perr(ps, act->open, "block is not supported%s", NULL);
            tnode *n = osp_arena_calloc(ps->t->arena, sizeof(*n));
            n->kind = N_TEMPLATE;
            n->text = name;
            skip_ws(&lx);
            if (lx.p < lx.end && (rc = parse_pipe(&lx, false, 0, &n->pipe)))
                return rc;
            *out = n;
            return 0;
        }
        lx.p = save;
    }
    tnode *n = osp_arena_calloc(ps->t->arena, sizeof(*n));
    n->kind = N_ACTION;
    int rc = parse_pipe(&lx, true, 0, &n->pipe);
    if (rc)
        return rc;
    *out = n;
    return 0;
}

static int
parse_list(parser *ps, tnode **out, endkind *ek, action *last)
{
    tnode *head = NULL, **tail = &head;
    *ek = END_EOF;
    memset(last, 0, sizeof(*last));
    for (;;) {
        tnode *text;
        action act;
        int rc = 0;
        int more = next_piece(ps, &text, &act, &rc);
        if (more < 0)
            return rc;
        if (text) {
            *tail = text;
            tail = &text->next;
        }
        if (more == 0)
            break;
        ps->t->plain = false;
        tnode *n = NULL;
        endkind k = END_EOF;
        if ((rc = parse_action(ps, &act, &n, &k)))
            return rc;
        if (k != END_EOF) {
            *ek = k;
            *last = act;
            break;
        }
        if (n) {
            *tail = n;
            tail = &n->next;
        }
    }
    *out = head;
    return 0;
}

int
alert_tmpl_parse(const char *name, const char *src, size_t len, alert_tmpl **out, osp_errinfo *ei)
{
    alert_tmpl *t = osp_calloc(1, sizeof(*t));
    t->arena = osp_arena_new(4096);
    t->plain = true;
    char *copy = osp_arena_strndup(t->arena, src, len);
    t->name = osp_arena_strndup(t->arena, name ? name : "", name ? strlen(name) : 0);
    parser ps = {.t = t, .src = copy, .p = copy, .end = copy + len, .ei = ei};
    endkind ek;
    action last;
    int rc = parse_list(&ps, &t->root, &ek, &last);
    if (rc == 0 && ek != END_EOF)
        rc = perr(&ps, last.open, "unexpected {{%s}}", ek == END_END ? "end" : "else");
    if (rc) {
        alert_tmpl_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void
alert_tmpl_free(alert_tmpl *t)
{
    if (t == NULL)
        return;
    osp_arena_free(t->arena);
    osp_free(t);
}

static const tdefine *
find_define(const alert_tmpl *t, const char *name)
{
    for (const tdefine *d = t->defines; d; d = d->next)
        if (strcmp(d->name, name) == 0)
            return d;
    return NULL;
}

bool
alert_tmpl_defines(const alert_tmpl *t, const char *name)
{
    return find_define(t, name) != NULL;
}

bool
alert_tmpl_plain(const alert_tmpl *t)
{
    return t->plain;
}

/* ---------------- execution ---------------- */

#define MAX_DEPTH 64

typedef struct var {
    const char *name;
    alert_tval v;
} var;

typedef struct exec {
    const alert_tmpl *t;
    const alert_tmpl_env *env;
    osp_buf *out;
    osp_errinfo *ei;
    var vars[128];
    size_t nvars;
    int depth;
} exec;

static int
fail(exec *x, const char *fmt, const char *arg)
{
    char msg[400];
    subst(msg, sizeof(msg), fmt, arg);
    return osp_errinfo_set(x->ei, OSP_EINVAL, 0, 0, "template: %s: %s", x->t->name, msg);
}

static int
var_get(exec *x, const char *name, alert_tval *out)
{
    if (name[0] == 0) {
        *out = x->env->dot;
        return 0;
    }
    for (size_t i = x->nvars; i-- > 0;)
        if (strcmp(x->vars[i].name, name) == 0) {
            *out = x->vars[i].v;
            return 0;
        }
    for (size_t i = 0; i < x->env->nvars; i++)
        if (strcmp(x->env->vars[i], name) == 0) {
            *out = x->env->vals[i];
            return 0;
        }
    return fail(x, "undefined variable \"$%s\"", name);
}

static int
var_push(exec *x, const char *name, alert_tval v)
{
    if (x->nvars == sizeof(x->vars) / sizeof(x->vars[0]))
        return fail(x, "too many variables%s", NULL);
    x->vars[x->nvars++] = (var){.name = name, .v = v};
    return 0;
}

static int
var_set(exec *x, const char *name, alert_tval v)
{
    for (size_t i = x->nvars; i-- > 0;)
        if (strcmp(x->vars[i].name, name) == 0) {
            x->vars[i].v = v;
            return 0;
        }
    return fail(x, "undefined variable \"$%s\"", name);
}

/* field: v.name with the methods of Alertmanager's KV and alert lists. */
static int
field(exec *x, alert_tval v, const char *name, alert_tval *out)
{
    osp_arena *a = x->env->arena;
    if (v.kind == ALERT_TV_MAP) {
        if (v.flags & ALERT_TV_KV) {
            bool names = strcmp(name, "Names") == 0, values = strcmp(name, "Values") == 0;
            bool pairs = strcmp(name, "SortedPairs") == 0;
            if (names || values || pairs) {
                alert_tval *items = osp_arena_alloc(a, sizeof(*items) * (v.n + 1));
                for (size_t i = 0; i < v.n; i++) {
                    if (names)
                        items[i] = alert_tval_str(v.keys[i]);
                    else if (values)
                        items[i] = v.items[i];
                    else {
                        static const char *const nv[] = {"Name", "Value"};
                        alert_tval pv[2] = {alert_tval_str(v.keys[i]), v.items[i]};
                        items[i] = alert_tval_struct(nv, pv, 2, a);
                    }
                }
                *out = (alert_tval){.kind = ALERT_TV_LIST,
                                    .flags = pairs ? ALERT_TV_PAIRS : 0,
                                    .n = v.n,
                                    .items = items};
                return 0;
            }
        }
        for (size_t i = 0; i < v.n; i++)
            if (strcmp(v.keys[i], name) == 0) {
                *out = v.items[i];
                return 0;
            }
        if (v.flags & ALERT_TV_STRUCT)
            return fail(x, "can't evaluate field %s", name);
        *out = alert_tval_str(""); /* a missing key of map[string]string */
        return 0;
    }
    if (v.kind == ALERT_TV_LIST && (v.flags & ALERT_TV_PAIRS) &&
        (strcmp(name, "Names") == 0 || strcmp(name, "Values") == 0)) {
        alert_tval *items = osp_arena_alloc(a, sizeof(*items) * (v.n + 1));
        for (size_t i = 0; i < v.n; i++) /* each pair is the struct {Name, Value} */
            items[i] = v.items[i].items[name[0] == 'N' ? 0 : 1];
        *out = (alert_tval){.kind = ALERT_TV_LIST, .n = v.n, .items = items};
        return 0;
    }
    if (v.kind == ALERT_TV_LIST && (v.flags & ALERT_TV_ALERTS) &&
        (strcmp(name, "Firing") == 0 || strcmp(name, "Resolved") == 0)) {
        const char *want = name[0] == 'F' ? "firing" : "resolved";
        alert_tval *items = osp_arena_alloc(a, sizeof(*items) * (v.n + 1));
        size_t n = 0;
        for (size_t i = 0; i < v.n; i++) {
            alert_tval st;
            if (field(x, v.items[i], "Status", &st) == 0 && st.kind == ALERT_TV_STR &&
                strcmp(st.s, want) == 0)
                items[n++] = v.items[i];
        }
        *out =
            (alert_tval){.kind = ALERT_TV_LIST, .flags = ALERT_TV_ALERTS, .n = n, .items = items};
        return 0;
    }
    if (v.kind == ALERT_TV_NIL)
        return fail(x, "nil pointer evaluating .%s", name);
    return fail(x, "can't evaluate field %s in a non-map value", name);
}

static int eval_pipe(exec *x, const tnode_pipe *p, alert_tval *out);

static int
eval_fields(exec *x, alert_tval v, const tnode_arg *arg, alert_tval *out)
{
    for (size_t i = 0; i < arg->nfields; i++) {
        int rc = field(x, v, arg->fields[i], &v);
        if (rc)
            return rc;
    }
    *out = v;
    return 0;
}

static int
eval_arg(exec *x, const tnode_arg *arg, alert_tval *out)
{
    alert_tval v = {0};
    int rc;
    switch (arg->kind) {
    case A_STR: *out = alert_tval_str(arg->str); return 0;
    case A_NUM: *out = alert_tval_num(arg->num); return 0;
    case A_INT:
        *out = (alert_tval){.kind = ALERT_TV_INT, .i = arg->ival, .num = (double)arg->ival};
        return 0;
    case A_BOOL: *out = (alert_tval){.kind = ALERT_TV_BOOL, .b = arg->b}; return 0;
    case A_NIL: *out = (alert_tval){0}; return 0;
    case A_DOT: return eval_fields(x, x->env->dot, arg, out);
    case A_VAR:
        if ((rc = var_get(x, arg->str, &v)))
            return rc;
        return eval_fields(x, v, arg, out);
    case A_PIPE:
        if ((rc = eval_pipe(x, arg->pipe, &v)))
            return rc;
        return eval_fields(x, v, arg, out);
    case A_FUNC: {
        alert_tmpl_call c = {.env = x->env, .a = x->env->arena, .ei = x->ei, .name = x->t->name};
        return arg->func(&c, NULL, 0, out);
    }
    }
    return fail(x, "bad operand%s", NULL);
}

/* kv_remove: Alertmanager's KV.Remove(keys []string): a copy without keys
 * (a list of strings, or one string). */
static int
kv_remove(exec *x, alert_tval kv, const alert_tval *argv, size_t argc, alert_tval *out)
{
    if (kv.kind != ALERT_TV_MAP || !(kv.flags & ALERT_TV_KV))
        return fail(x, "can't call method Remove on a non-KV value%s", NULL);
    if (argc != 1 || (argv[0].kind != ALERT_TV_LIST && argv[0].kind != ALERT_TV_STR &&
                      argv[0].kind != ALERT_TV_NIL))
        return fail(x, "wrong arguments for Remove (want one []string)%s", NULL);
    osp_arena *a = x->env->arena;
    const char **keys = osp_arena_alloc(a, sizeof(*keys) * (kv.n + 1));
    alert_tval *items = osp_arena_alloc(a, sizeof(*items) * (kv.n + 1));
    size_t n = 0;
    for (size_t i = 0; i < kv.n; i++) {
        bool drop = false;
        if (argv[0].kind == ALERT_TV_STR)
            drop = strcmp(argv[0].s, kv.keys[i]) == 0;
        for (size_t k = 0; argv[0].kind == ALERT_TV_LIST && k < argv[0].n && !drop; k++)
            drop = argv[0].items[k].kind == ALERT_TV_STR &&
                   strcmp(argv[0].items[k].s, kv.keys[i]) == 0;
        if (!drop) {
            keys[n] = kv.keys[i];
            items[n++] = kv.items[i];
        }
    }
    *out =
        (alert_tval){.kind = ALERT_TV_MAP, .flags = kv.flags, .n = n, .keys = keys, .items = items};
    return 0;
}

static int
eval_cmd(exec *x, const tnode_cmd *c, const alert_tval *prev, alert_tval *out)
{
    if (c->args[0].kind != A_FUNC) {
        const tnode_arg *a0 = &c->args[0];
        if (a0->nfields > 0 && strcmp(a0->fields[a0->nfields - 1], "Remove") == 0 &&
            (c->nargs > 1 || prev)) {
            /* a method call: evaluate the receiver without the last field */
            tnode_arg recv = *a0;
            recv.nfields--;
            alert_tval kv, argv[TMPL_MAX_ARGS + 1];
            size_t n = 0;
            int rc = eval_arg(x, &recv, &kv);
            for (size_t i = 1; rc == 0 && i < c->nargs; i++)
                rc = eval_arg(x, &c->args[i], &argv[n++]);
            if (rc)
                return rc;
            if (prev)
                argv[n++] = *prev;
            return kv_remove(x, kv, argv, n, out);
        }
        if (prev)
            return fail(x, "can't give argument to non-function%s", NULL);
        return eval_arg(x, &c->args[0], out);
    }
    alert_tval argv[TMPL_MAX_ARGS + 1];
    size_t n = 0;
    for (size_t i = 1; i < c->nargs; i++) {
        int rc = eval_arg(x, &c->args[i], &argv[n]);
        if (rc)
            return rc;
        n++;
    }
    if (prev)
        argv[n++] = *prev;
    alert_tmpl_call call = {.env = x->env, .a = x->env->arena, .ei = x->ei, .name = x->t->name};
    return c->args[0].func(&call, argv, n, out);
}

static int
eval_pipe(exec *x, const tnode_pipe *p, alert_tval *out)
{
    alert_tval v = {0};
    for (size_t i = 0; i < p->ncmds; i++) {
        int rc = eval_cmd(x, &p->cmds[i], i ? &v : NULL, &v);
        if (rc)
            return rc;
    }
    if (p->ndecl && !p->assign) {
        int rc = var_push(x, p->decl[p->ndecl - 1], v);
        if (rc)
            return rc;
    } else if (p->assign) {
        int rc = var_set(x, p->decl[0], v);
        if (rc)
            return rc;
    }
    *out = v;
    return 0;
}

static int run_list(exec *x, const tnode *n);

static int
run_with_dot(exec *x, const tnode *body, alert_tval dot)
{
    alert_tmpl_env env = *x->env;
    env.dot = dot;
    const alert_tmpl_env *saved = x->env;
    x->env = &env;
    int rc = run_list(x, body);
    x->env = saved;
    return rc;
}

static int
run_range(exec *x, const tnode *n, alert_tval v)
{
    size_t mark = x->nvars;
    if (v.kind != ALERT_TV_LIST && v.kind != ALERT_TV_MAP && v.kind != ALERT_TV_NIL)
        return fail(x, "range can't iterate over this value%s", NULL);
    size_t count = v.kind == ALERT_TV_NIL ? 0 : v.n;
    /* maps iterate in key order */
    size_t *order = osp_arena_alloc(x->env->arena, sizeof(*order) * (count + 1));
    for (size_t i = 0; i < count; i++)
        order[i] = i;
    if (v.kind == ALERT_TV_MAP)
        for (size_t i = 1; i < count; i++)
            for (size_t j = i; j > 0 && strcmp(v.keys[order[j - 1]], v.keys[order[j]]) > 0; j--) {
                size_t t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
    for (size_t k = 0; k < count; k++) {
        size_t i = order[k];
        x->nvars = mark;
        alert_tval key =
            v.kind == ALERT_TV_MAP
                ? alert_tval_str(v.keys[i])
                : (alert_tval){.kind = ALERT_TV_INT, .i = (int64_t)k, .num = (double)k};
        int rc = 0;
        if (n->pipe->ndecl == 2) {
            rc = var_push(x, n->pipe->decl[0], key);
            if (!rc)
                rc = var_push(x, n->pipe->decl[1], v.items[i]);
        } else if (n->pipe->ndecl == 1) {
            rc = var_push(x, n->pipe->decl[0], v.items[i]);
        }
        if (!rc)
            rc = run_with_dot(x, n->body, v.items[i]);
        if (rc) {
            x->nvars = mark;
            return rc;
        }
    }
    x->nvars = mark;
    if (count == 0 && n->else_body)
        return run_list(x, n->else_body);
    return 0;
}

static int
run_node(exec *x, const tnode *n)
{
    alert_tval v;
    int rc;
    size_t mark = x->nvars;
    switch (n->kind) {
    case N_TEXT: osp_buf_append(x->out, n->text, n->len); return 0;
    case N_ACTION:
        if ((rc = eval_pipe(x, n->pipe, &v)))
            return rc;
        if (n->pipe->ndecl == 0)
            alert_tmpl_print(x->out, &v);
        return 0;
    case N_IF:
    case N_WITH:
        if (n->kind == N_WITH) {
            tnode_pipe p = *n->pipe;
            p.ndecl = 0;
            if ((rc = eval_pipe(x, &p, &v)))
                return rc;
            if (n->pipe->ndecl)
                var_push(x, n->pipe->decl[0], v);
        } else if ((rc = eval_pipe(x, n->pipe, &v))) {
            return rc;
        }
        if (alert_tval_truth(&v))
            rc = n->kind == N_WITH ? run_with_dot(x, n->body, v) : run_list(x, n->body);
        else
            rc = n->else_body ? run_list(x, n->else_body) : 0;
        x->nvars = mark;
        return rc;
    case N_RANGE: {
        tnode_pipe p = *n->pipe;
        p.ndecl = 0;
        if ((rc = eval_pipe(x, &p, &v)))
            return rc;
        return run_range(x, n, v);
    }
    case N_TEMPLATE: {
        const tdefine *d = find_define(x->t, n->text);
        for (size_t i = 0; d == NULL && i < x->env->nlibs; i++)
            d = find_define(x->env->libs[i], n->text);
        if (d == NULL)
            return fail(x, "no such template \"%s\"", n->text);
        v = (alert_tval){0};
        if (n->pipe && (rc = eval_pipe(x, n->pipe, &v)))
            return rc;
        size_t saved = x->nvars;
        rc = run_with_dot(x, d->body, v);
        x->nvars = saved;
        return rc;
    }
    }
    return 0;
}

static int
run_list(exec *x, const tnode *n)
{
    if (++x->depth > MAX_DEPTH) {
        x->depth--;
        return fail(x, "exceeded maximum template depth (%s)", "64");
    }
    int rc = 0;
    for (; n && rc == 0; n = n->next)
        rc = run_node(x, n);
    x->depth--;
    return rc;
}

int
alert_tmpl_exec(const alert_tmpl *t, const alert_tmpl_env *env, osp_buf *out, osp_errinfo *ei)
{
    exec x = {.t = t, .env = env, .out = out, .ei = ei};
    return run_list(&x, t->root);
}
