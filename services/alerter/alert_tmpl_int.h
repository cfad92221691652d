/* alert_tmpl_int.h - private to alert_tmpl*.c: the parse tree and the
 * function table. */
#ifndef ALERT_TMPL_INT_H
#define ALERT_TMPL_INT_H

#include "alert_tmpl.h"

#define TMPL_MAX_FIELDS 8
#define TMPL_MAX_ARGS 8
#define TMPL_MAX_CMDS 8

/* A function call: the environment and the execution arena. */
typedef struct alert_tmpl_call {
    const alert_tmpl_env *env;
    osp_arena *a;
    osp_errinfo *ei;
    const char *name; /* the template's name, for messages */
} alert_tmpl_call;

typedef int (*alert_tmpl_fn)(alert_tmpl_call *c, const alert_tval *argv, size_t argc,
                             alert_tval *out);

typedef enum tnode_arg_kind {
    A_STR,
    A_NUM,
    A_INT,
    A_BOOL,
    A_NIL,
    A_DOT,
    A_VAR,
    A_PIPE,
    A_FUNC
} tnode_arg_kind;

typedef struct tnode_pipe tnode_pipe;

typedef struct tnode_arg {
    tnode_arg_kind kind;
    char *str; /* A_STR value, A_VAR name (without $), A_FUNC name */
    double num;
    long long ival;
    bool b;
    tnode_pipe *pipe;   /* A_PIPE */
    alert_tmpl_fn func; /* A_FUNC */
    char *fields[TMPL_MAX_FIELDS];
    size_t nfields;
} tnode_arg;

typedef struct tnode_cmd {
    tnode_arg args[TMPL_MAX_ARGS];
    size_t nargs;
} tnode_cmd;

struct tnode_pipe {
    char *decl[2]; /* declared variables */
    size_t ndecl;
    bool assign; /* $x = (not :=) */
    tnode_cmd cmds[TMPL_MAX_CMDS];
    size_t ncmds;
};

typedef enum tnode_kind { N_TEXT, N_ACTION, N_IF, N_RANGE, N_WITH, N_TEMPLATE } tnode_kind;

typedef struct tnode {
    tnode_kind kind;
    const char *text; /* N_TEXT; N_TEMPLATE: name */
    size_t len;
    tnode_pipe *pipe;
    struct tnode *body, *else_body;
    struct tnode *next;
} tnode;

typedef struct tdefine {
    const char *name;
    tnode *body;
    struct tdefine *next;
} tdefine;

/* alert_tmpl_func_find: the function named name, or NULL. */
alert_tmpl_fn alert_tmpl_func_find(const char *name);
/* alert_tmpl_print: append v as Go's fmt.Fprint does. */
void alert_tmpl_print(osp_buf *out, const alert_tval *v);
/* alert_tval_truth: Go template truthiness. */
bool alert_tval_truth(const alert_tval *v);

#endif
