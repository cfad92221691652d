/* alert_matcher.c - matcher parsing in Alertmanager's fallback mode: quoted
 * values take Go escapes, unquoted values run to the next comma or brace. */
#include "alert_matcher.h"

#include <ctype.h>
#include <string.h>

#include "osp_mem.h"

void
alert_matchers_init(alert_matchers *m)
{
    memset(m, 0, sizeof(*m));
}

void
alert_matchers_fini(alert_matchers *m)
{
    osp_arena_free(m->arena);
    osp_free(m->v);
    memset(m, 0, sizeof(*m));
}

int
alert_matchers_add(alert_matchers *m, osp_match_type t, const char *name, const char *value,
                   osp_errinfo *ei)
{
    if (!osp_label_name_valid(name, strlen(name)))
        return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "invalid label name \"%s\" in matcher", name);
    if (m->arena == NULL)
        m->arena = osp_arena_new(4096);
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 4;
        m->v = osp_reallocarray(m->v, m->cap, sizeof(*m->v));
    }
    int rc = osp_matcher_init(&m->v[m->n], t, name, value, m->arena, ei);
    if (rc == 0)
        m->n++;
    return rc;
}

static int
err_at(osp_errinfo *ei, const char *s, const char *p, const char *msg)
{
    return osp_errinfo_set(ei, OSP_EPARSE, 0, (int)(p - s) + 1, "bad matcher \"%s\": %s", s, msg);
}

/* Reads a double-quoted string with Go escapes at *pp into out. */
static int
quoted(const char *s, const char **pp, osp_buf *out, osp_errinfo *ei)
{
    const char *p = *pp + 1;
    for (;;) {
        if (*p == 0)
            return err_at(ei, s, p, "unterminated quoted string");
        if (*p == '"')
            break;
        if (*p == '\\') {
            p++;
            switch (*p) {
            case 'n': osp_buf_putc(out, '\n'); break;
            case 't': osp_buf_putc(out, '\t'); break;
            case 'r': osp_buf_putc(out, '\r'); break;
            case '\\': osp_buf_putc(out, '\\'); break;
            case '"': osp_buf_putc(out, '"'); break;
            case '\'': osp_buf_putc(out, '\''); break;
            default: return err_at(ei, s, p, "invalid escape sequence");
            }
            p++;
            continue;
        }
        osp_buf_putc(out, *p++);
    }
    *pp = p + 1;
    return 0;
}

static void
skip_sp(const char **p)
{
    while (**p && isspace((unsigned char)**p))
        (*p)++;
}

int
alert_matchers_parse(alert_matchers *m, const char *s, osp_errinfo *ei)
{
    const char *p = s;
    skip_sp(&p);
    bool braces = *p == '{';
    if (braces)
        p++;
    osp_buf name, val;
    osp_buf_init(&name);
    osp_buf_init(&val);
    int rc = 0, count = 0;
    for (;;) {
        skip_sp(&p);
        if (braces && *p == '}') {
            p++;
            break;
        }
        if (*p == 0) {
            if (braces)
                rc = err_at(ei, s, p, "missing closing '}'");
            break;
        }
        osp_buf_reset(&name);
        osp_buf_reset(&val);
        if (*p == '"') {
            if ((rc = quoted(s, &p, &name, ei)))
                goto out;
        } else {
            while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == ':'))
                osp_buf_putc(&name, *p++);
        }
        skip_sp(&p);
        osp_match_type t;
        if (p[0] == '=' && p[1] == '~') {
            t = OSP_MATCH_RE;
            p += 2;
        } else if (p[0] == '!' && p[1] == '~') {
            t = OSP_MATCH_NRE;
            p += 2;
        } else if (p[0] == '!' && p[1] == '=') {
            t = OSP_MATCH_NEQ;
            p += 2;
        } else if (p[0] == '=') {
            t = OSP_MATCH_EQ;
            p += 1;
        } else {
            rc =
                err_at(ei, s, p,
                       name.len ? "expected an operator (=, !=, =~, !~)" : "expected a label name");
            goto out;
        }
        if (name.len == 0) {
            rc = err_at(ei, s, p, "expected a label name");
            goto out;
        }
        skip_sp(&p);
        if (*p == '"') {
            if ((rc = quoted(s, &p, &val, ei)))
                goto out;
        } else {
            const char *st = p;
            while (*p && *p != ',' && *p != '}' && *p != '"')
                p++;
            const char *e = p;
            while (e > st && isspace((unsigned char)e[-1]))
                e--;
            osp_buf_append(&val, st, (size_t)(e - st));
        }
        if ((rc = alert_matchers_add(m, t, osp_buf_cstr(&name), osp_buf_cstr(&val), ei))) {
            if (rc == OSP_EPARSE || rc == OSP_EINVAL)
                rc = OSP_EPARSE;
            goto out;
        }
        count++;
        skip_sp(&p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (braces && *p == '}')
            continue;
        if (*p != 0) {
            rc = err_at(ei, s, p, "expected ',' between matchers");
            goto out;
        }
    }
    skip_sp(&p);
    if (rc == 0 && *p != 0)
        rc = err_at(ei, s, p, "trailing characters after '}'");
    if (rc == 0 && count == 0 && !braces)
        rc = err_at(ei, s, p, "empty matcher");
out:
    osp_buf_fini(&name);
    osp_buf_fini(&val);
    return rc;
}

bool
alert_matchers_match(const alert_matchers *m, const osp_labels *ls)
{
    for (size_t i = 0; i < m->n; i++) {
        const char *v = osp_labels_get(ls, m->v[i].name);
        if (!osp_matcher_matches(&m->v[i], v ? v : ""))
            return false;
    }
    return true;
}

const char *
alert_match_op(osp_match_type t)
{
    switch (t) {
    case OSP_MATCH_EQ: return "=";
    case OSP_MATCH_NEQ: return "!=";
    case OSP_MATCH_RE: return "=~";
    default: return "!~";
    }
}

void
alert_matchers_format(const alert_matchers *m, osp_buf *out)
{
    osp_buf_putc(out, '{');
    for (size_t i = 0; i < m->n; i++) {
        if (i)
            osp_buf_putc(out, ',');
        osp_buf_puts(out, m->v[i].name);
        osp_buf_puts(out, alert_match_op(m->v[i].type));
        osp_buf_json_cstr(out, m->v[i].value);
    }
    osp_buf_putc(out, '}');
}
