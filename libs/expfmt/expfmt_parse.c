/* expfmt_parse.c - the line loop of the exposition parser: splits lines,
 * handles comments and HELP/TYPE/UNIT/EOF metadata, reports bad lines. */
#include "expfmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "expfmt_int.h"
#include "osp_err.h"
#include "osp_mem.h"

#define XF_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || (c) == '_')
#define XF_CC(c)                                                                                   \
    ((XF_ALPHA(c) ? XF_C_MFIRST | XF_C_MREST | XF_C_LFIRST | XF_C_LREST : 0) |                     \
     ((c) == ':' ? XF_C_MFIRST | XF_C_MREST : 0) |                                                 \
     ((c) >= '0' && (c) <= '9' ? XF_C_MREST | XF_C_LREST : 0) |                                    \
     ((c) == ' ' || (c) == '\t' ? XF_C_BLANK : 0) |                                                \
     ((c) == '"' || (c) == '\\' || (c) >= 0x80 ? XF_C_QSTOP : 0))
#define XF_R4(b) XF_CC(b), XF_CC((b) + 1), XF_CC((b) + 2), XF_CC((b) + 3)
#define XF_R16(b) XF_R4(b), XF_R4((b) + 4), XF_R4((b) + 8), XF_R4((b) + 12)
#define XF_R64(b) XF_R16(b), XF_R16((b) + 16), XF_R16((b) + 32), XF_R16((b) + 48)

const unsigned char xf_cc[256] = {XF_R64(0), XF_R64(64), XF_R64(128), XF_R64(192)};

static const struct {
    const char *s;
    osp_expfmt_type t;
} type_names[] = {
    {"counter", OSP_EXPFMT_TYPE_COUNTER},     {"gauge", OSP_EXPFMT_TYPE_GAUGE},
    {"histogram", OSP_EXPFMT_TYPE_HISTOGRAM}, {"gaugehistogram", OSP_EXPFMT_TYPE_GAUGEHISTOGRAM},
    {"stateset", OSP_EXPFMT_TYPE_STATESET},   {"info", OSP_EXPFMT_TYPE_INFO},
    {"summary", OSP_EXPFMT_TYPE_SUMMARY},     {"untyped", OSP_EXPFMT_TYPE_UNTYPED},
    {"unknown", OSP_EXPFMT_TYPE_UNKNOWN},
};

const char *
osp_expfmt_type_name(osp_expfmt_type t)
{
    for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (type_names[i].t == t)
            return type_names[i].s;
    return "";
}

static osp_expfmt_type
type_lookup(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (strlen(type_names[i].s) == n && memcmp(type_names[i].s, s, n) == 0)
            return type_names[i].t;
    return OSP_EXPFMT_TYPE_NONE;
}

const char *
xf_got(xf_parser *p, const char *s, char *out, size_t outsz)
{
    const char *end = p->line + p->len;
    if (s >= end) {
        snprintf(out, outsz, "end of line");
        return out;
    }
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; s + i < end && o + 8 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 24) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

int
xf_fail(xf_parser *p, const char *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
    va_end(ap);
    p->st->errors++;
    if (p->h->error != NULL) {
        osp_expfmt_error e = {
            .line = p->lineno,
            .col = at != NULL ? (int)(at - p->line) + 1 : 0,
            .msg = p->msg,
            .line_text = {p->line, p->len},
        };
        p->h->error(p->h->ctx, &e);
    }
    return XF_BAD;
}

void
xf_unescape(osp_buf *dst, const char *s, size_t n, bool quote)
{
    osp_buf_reserve(dst, n);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            char e = s[i + 1];
            if (e == '\\' || e == 'n' || (quote && e == '"')) {
                c = e == 'n' ? '\n' : e;
                i++;
            }
        }
        dst->data[dst->len++] = c;
    }
    dst->data[dst->len] = '\0';
}

int
xf_quoted(xf_parser *p, const char **s, xf_piece *out)
{
    const char *end = p->line + p->len;
    const char *start = *s + 1, *q = start;
    bool esc = false, high = false;
    for (;;) {
        while (q < end && !xf_is(*q, XF_C_QSTOP))
            q++;
        if (q >= end || *q == '"')
            break;
        if (*q == '\\') {
            esc = true;
            if (q + 1 < end && (unsigned char)*++q >= 0x80)
                high = true; /* the escaped byte is checked too */
        } else {
            high = true;
        }
        q++;
    }
    if (q >= end)
        return xf_fail(p, *s, "missing closing '\"' of quoted string");
    size_t n = (size_t)(q - start);
    if (high && !osp_utf8_valid(start, n))
        return xf_fail(p, start, "invalid UTF-8 in quoted string");
    if (esc) {
        out->p = NULL;
        out->off = p->scratch.len;
        xf_unescape(&p->scratch, start, n, true);
        out->n = p->scratch.len - out->off;
    } else {
        *out = (xf_piece){start, 0, n};
    }
    *s = q + 1;
    return 0;
}

osp_expfmt_type
xf_type_of(const xf_parser *p, const char *name, size_t n)
{
    static const char *const suffixes[] = {"_total",  "_created", "_sum",    "_count",
                                           "_bucket", "_gsum",    "_gcount", "_info"};
    size_t fn = p->fam.len;
    if (fn == 0 || n < fn || memcmp(name, p->fam.data, fn) != 0)
        return OSP_EXPFMT_TYPE_NONE;
    if (n == fn)
        return p->fam_type;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t sn = strlen(suffixes[i]);
        if (n - fn == sn && memcmp(name + fn, suffixes[i], sn) == 0)
            return p->fam_type;
    }
    return OSP_EXPFMT_TYPE_NONE;
}

static osp_str
meta_view(const xf_parser *p, xf_piece pc)
{
    return (osp_str){p->meta.data + pc.off, pc.n};
}

static xf_piece
meta_put(xf_parser *p, const char *s, size_t n)
{
    xf_piece pc = {NULL, p->meta.len, n};
    osp_buf_append(&p->meta, s, n);
    return pc;
}

int
xf_flush_meta(xf_parser *p)
{
    if (!p->meta_open)
        return 0;
    p->meta_open = false;
    osp_buf_reset(&p->fam);
    osp_buf_append(&p->fam, p->meta.data + p->m_name.off, p->m_name.n);
    p->fam_type = p->m_type_id;
    p->st->metas++;
    if (p->h->meta == NULL)
        return 0;
    osp_str empty = {"", 0};
    osp_expfmt_meta m = {
        .name = meta_view(p, p->m_name),
        .type = p->m_type_id,
        .type_str = p->m_has_type ? meta_view(p, p->m_type) : empty,
        .has_help = p->m_has_help,
        .help = p->m_has_help ? meta_view(p, p->m_help) : empty,
        .unit = p->m_has_unit ? meta_view(p, p->m_unit) : empty,
        .line = p->m_line,
    };
    return p->h->meta(p->h->ctx, &m);
}

static bool
metric_char(char c, bool first)
{
    return xf_is(c, first ? XF_C_MFIRST : XF_C_MREST);
}

enum meta_kind { M_HELP, M_TYPE, M_UNIT };
static const char *const kind_names[] = {"HELP", "TYPE", "UNIT"};

/* meta_body: the part after the keyword of a HELP/TYPE/UNIT line (q at the
 * blank after the keyword or at the end of the line). */
static int
meta_body(xf_parser *p, enum meta_kind k, const char *q)
{
    const char *end = p->line + p->len;
    char got[64];
    while (q < end && xf_blank(*q))
        q++;
    xf_piece name;
    const char *name_at = q;
    if (q < end && *q == '"') {
        if (xf_quoted(p, &q, &name) != 0)
            return XF_BAD;
    } else {
        while (q < end && metric_char(*q, q == name_at))
            q++;
        if (q == name_at)
            return xf_fail(p, q, "expected metric name after %s, got %s", kind_names[k],
                           xf_got(p, q, got, sizeof(got)));
        name = (xf_piece){name_at, 0, (size_t)(q - name_at)};
    }
    if (q < end && !xf_blank(*q))
        return xf_fail(p, q, "invalid character in metric name: got %s",
                       xf_got(p, q, got, sizeof(got)));
    while (q < end && xf_blank(*q))
        q++;
    const char *rest = q;
    size_t rn = (size_t)(end - rest);

    osp_expfmt_type tid = OSP_EXPFMT_TYPE_NONE;
    const char *np = xf_piece_ptr(p, name);
    if (k == M_HELP) {
        if (!osp_utf8_valid(rest, rn))
            return xf_fail(p, rest, "invalid UTF-8 in HELP text");
    } else {
        if (memchr(rest, ' ', rn) != NULL || memchr(rest, '\t', rn) != NULL)
            return xf_fail(p, rest, "unexpected text after %s value: got %s", kind_names[k],
                           xf_got(p, rest, got, sizeof(got)));
        if (k == M_TYPE) {
            if (rn == 0)
                return xf_fail(p, rest, "expected metric type, got end of line");
            tid = type_lookup(rest, rn);
            if (tid == OSP_EXPFMT_TYPE_NONE)
                return xf_fail(p, rest, "invalid metric type %s",
                               xf_got(p, rest, got, sizeof(got)));
        } else if (rn > 0 && (name.n < rn + 1 || np[name.n - rn - 1] != '_' ||
                              memcmp(np + name.n - rn, rest, rn) != 0)) {
            return xf_fail(p, rest, "unit %s is not a suffix of the metric name",
                           xf_got(p, rest, got, sizeof(got)));
        }
    }

    if (p->meta_open &&
        (p->m_name.n != name.n || memcmp(p->meta.data + p->m_name.off, np, name.n) != 0)) {
        int rc = xf_flush_meta(p);
        if (rc != 0)
            return rc;
    }
    if (!p->meta_open) {
        p->meta_open = true;
        osp_buf_reset(&p->meta);
        p->m_has_type = p->m_has_help = p->m_has_unit = false;
        p->m_type_id = OSP_EXPFMT_TYPE_NONE;
        p->m_line = p->lineno;
        p->m_name = meta_put(p, np, name.n);
    }
    bool *has = k == M_HELP ? &p->m_has_help : k == M_TYPE ? &p->m_has_type : &p->m_has_unit;
    if (*has)
        return xf_fail(p, p->line, "second %s line for the same metric", kind_names[k]);
    switch (k) {
    case M_HELP:
        /* OpenMetrics: an empty HELP is an absent one. */
        if (rn == 0 && p->d == OSP_EXPFMT_OPENMETRICS)
            return 0;
        p->m_help = (xf_piece){NULL, p->meta.len, 0};
        xf_unescape(&p->meta, rest, rn, p->d == OSP_EXPFMT_OPENMETRICS);
        p->m_help.n = p->meta.len - p->m_help.off;
        break;
    case M_TYPE:
        p->m_type = meta_put(p, rest, rn);
        p->m_type_id = tid;
        break;
    case M_UNIT:
        if (rn == 0)
            return 0;
        p->m_unit = meta_put(p, rest, rn);
        break;
    }
    *has = true;
    return 0;
}

/* comment_line: a line whose first non-blank is '#' at s. Sets *eof on a
 * valid OpenMetrics `# EOF`. */
static int
comment_line(xf_parser *p, const char *s, bool *eof)
{
    const char *end = p->line + p->len;
    bool om = p->d == OSP_EXPFMT_OPENMETRICS;
    char got[64];
    const char *q = s + 1;
    if (q == end || !xf_blank(*q)) {
        if (om)
            return xf_fail(p, s, "expected '# HELP', '# TYPE', '# UNIT' or '# EOF', got %s",
                           xf_got(p, s, got, sizeof(got)));
        return 0;
    }
    while (q < end && xf_blank(*q))
        q++;
    const char *kw = q;
    while (q < end && !xf_blank(*q))
        q++;
    size_t kn = (size_t)(q - kw);
#define KW(lit) (kn == sizeof(lit) - 1 && memcmp(kw, lit, kn) == 0)
    if (KW("HELP"))
        return meta_body(p, M_HELP, q);
    if (KW("TYPE"))
        return meta_body(p, M_TYPE, q);
    if (om && KW("UNIT"))
        return meta_body(p, M_UNIT, q);
    if (om && KW("EOF")) {
        while (q < end && xf_blank(*q))
            q++;
        if (q != end)
            return xf_fail(p, q, "unexpected text after # EOF: got %s",
                           xf_got(p, q, got, sizeof(got)));
        *eof = true;
        return 0;
    }
#undef KW
    if (om)
        return xf_fail(p, s, "expected '# HELP', '# TYPE', '# UNIT' or '# EOF', got %s",
                       xf_got(p, s, got, sizeof(got)));
    return 0;
}

static int
parse_lines(xf_parser *p, const char *buf, size_t len)
{
    const char *pos = buf, *end = buf + len;
    bool eof = false;
    while (pos < end) {
        const char *nl = memchr(pos, '\n', (size_t)(end - pos));
        const char *lend = nl != NULL ? nl : end;
        const char *next = nl != NULL ? nl + 1 : end;
        p->lineno++;
        p->st->lines++;
        while (lend > pos && (xf_blank(lend[-1]) || lend[-1] == '\r'))
            lend--;
        p->line = pos;
        p->len = (size_t)(lend - pos);
        pos = next;
        if (eof) {
            /* Nothing may follow # EOF; report once, ignore the rest. */
            xf_fail(p, p->line, "unexpected data after # EOF");
            return 0;
        }
        const char *s = p->line;
        while (s < lend && xf_blank(*s))
            s++;
        if (s == lend)
            continue;
        osp_buf_reset(&p->scratch);
        int rc;
        if (*s == '#') {
            rc = comment_line(p, s, &eof);
        } else {
            rc = xf_flush_meta(p);
            if (rc == 0)
                rc = xf_sample_line(p, s);
        }
        if (rc != 0 && rc != XF_BAD)
            return rc;
    }
    int rc = xf_flush_meta(p);
    if (rc != 0)
        return rc;
    if (p->d == OSP_EXPFMT_OPENMETRICS && !eof) {
        p->lineno++;
        p->line = end;
        p->len = 0;
        xf_fail(p, NULL, "data does not end with # EOF");
    }
    return 0;
}

int
osp_expfmt_parse(osp_expfmt_dialect d, const char *buf, size_t len, const osp_expfmt_handler *h,
                 osp_expfmt_stats *stats)
{
    osp_expfmt_stats dummy;
    if (stats == NULL)
        stats = &dummy;
    memset(stats, 0, sizeof(*stats));
    if (h == NULL || (buf == NULL && len > 0))
        return OSP_EINVAL;
    if (buf == NULL)
        buf = "";
    xf_parser p = {.d = d, .h = h, .st = stats};
    osp_buf_init(&p.scratch);
    osp_buf_init(&p.meta);
    osp_buf_init(&p.fam);
    int rc = parse_lines(&p, buf, len);
    osp_buf_fini(&p.scratch);
    osp_buf_fini(&p.meta);
    osp_buf_fini(&p.fam);
    osp_free(p.lv);
    osp_free(p.out);
    return rc;
}
