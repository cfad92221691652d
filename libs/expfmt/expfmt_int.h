/* expfmt_int.h - private state of one expfmt parse, shared by the line
 * dispatcher (expfmt_parse.c) and the sample-line parser (expfmt_sample.c). */
#ifndef OSP_EXPFMT_INT_H
#define OSP_EXPFMT_INT_H

#include "expfmt.h"

/* A parsed token: either a direct view into the input (p != NULL) or, when it
 * had to be rewritten (unescaped, normalised), n bytes at off in the scratch
 * buffer. Offsets survive the scratch buffer growing; pointers would not. */
typedef struct xf_piece {
    const char *p;
    size_t off;
    size_t n;
} xf_piece;

typedef struct xf_label {
    xf_piece name;
    xf_piece value;
} xf_label;

/* Returned by line parsers after they reported the line through fail(). */
#define XF_BAD (-1)

typedef struct xf_parser {
    osp_expfmt_dialect d;
    const osp_expfmt_handler *h;
    osp_expfmt_stats *st;

    const char *line; /* current line, without line ending */
    size_t len;
    int lineno;

    osp_buf scratch; /* unescaped/normalised bytes of the current line */
    xf_label *lv;    /* labels of the current line */
    size_t ln, lcap;
    osp_expfmt_label *out; /* resolved labels handed to the callback */
    size_t outcap;

    /* Open metadata block: fields are copies in meta (offsets). */
    bool meta_open;
    osp_buf meta;
    xf_piece m_name, m_type, m_help, m_unit;
    bool m_has_type, m_has_help, m_has_unit;
    osp_expfmt_type m_type_id;
    int m_line;

    /* Family of the last delivered metadata block, for osp_expfmt_sample.type. */
    osp_buf fam;
    osp_expfmt_type fam_type;

    char msg[320];
} xf_parser;

/* fail: report the current line as bad (column of at, or 0 when at is NULL)
 * through the error callback; returns XF_BAD. */
int xf_fail(xf_parser *p, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* xf_got: describe what is at s (up to the end of the line) for messages. */
const char *xf_got(xf_parser *p, const char *s, char *out, size_t outsz);

/* Character classes, one table lookup per byte (expfmt_parse.c). */
enum {
    XF_C_MFIRST = 1, /* may start a metric name: [a-zA-Z_:] */
    XF_C_MREST = 2,  /* may continue one: [a-zA-Z0-9_:] */
    XF_C_LFIRST = 4, /* may start a label name: [a-zA-Z_] */
    XF_C_LREST = 8,  /* may continue one: [a-zA-Z0-9_] */
    XF_C_BLANK = 16, /* space or tab */
    XF_C_QSTOP = 32, /* ends a plain run inside quotes: '"', '\\' or a byte >= 0x80 */
};
extern const unsigned char xf_cc[256];

static inline bool
xf_is(char c, unsigned cls)
{
    return (xf_cc[(unsigned char)c] & cls) != 0;
}

/* xf_blank: space or tab. */
static inline bool
xf_blank(char c)
{
    return xf_is(c, XF_C_BLANK);
}

/* xf_quoted: parse a "..." string starting at *s (which points at the quote),
 * unescaping `\\`, `\"`, `\n` into the scratch buffer only when a backslash
 * is present. Rejects invalid UTF-8 and a missing closing quote. On success *s
 * is past the closing quote and *out describes the bytes. Returns 0 or XF_BAD. */
int xf_quoted(xf_parser *p, const char **s, xf_piece *out);

/* xf_unescape: append s[0..n) to the scratch buffer unescaping `\\`, `\n`
 * and (when quote is set) `\"`; other sequences stay literal. */
void xf_unescape(osp_buf *dst, const char *s, size_t n, bool quote);

/* xf_piece_ptr: bytes of a piece (scratch base as of now). */
static inline const char *
xf_piece_ptr(const xf_parser *p, xf_piece pc)
{
    return pc.p != NULL ? pc.p : p->scratch.data + pc.off;
}

/* xf_flush_meta: deliver the open metadata block, if any; returns 0 or the
 * callback's code. */
int xf_flush_meta(xf_parser *p);

/* xf_sample_line: parse and deliver one sample line (line without leading
 * blanks starts at s). Returns 0, XF_BAD, or the callback's code. */
int xf_sample_line(xf_parser *p, const char *s);

/* xf_type_of: the type of the current family if name belongs to it. */
osp_expfmt_type xf_type_of(const xf_parser *p, const char *name, size_t n);

#endif
