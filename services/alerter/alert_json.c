/* alert_json.c - strict recursive-descent JSON parser with positions. */
#include "alert_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "osp_buf.h"

#define MAX_DEPTH 64

typedef struct parser {
    const char *s;
    size_t n, i;
    int line;
    size_t line_start;
    osp_arena *a;
    osp_errinfo *ei;
} parser;

static int
perr(parser *p, const char *msg)
{
    return osp_errinfo_set(p->ei, OSP_EPARSE, p->line, (int)(p->i - p->line_start) + 1, "%s", msg);
}

static void
skip_ws(parser *p)
{
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c == '\n') {
            p->line++;
            p->line_start = p->i + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            return;
        }
        p->i++;
    }
}

static int
hex4(parser *p, unsigned *out)
{
    if (p->n - p->i < 4)
        return perr(p, "truncated \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i++];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return perr(p, "invalid \\u escape");
    }
    *out = v;
    return 0;
}

static void
put_utf8(osp_buf *b, unsigned cp)
{
    char o[4];
    size_t k;
    if (cp < 0x80) {
        o[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    osp_buf_append(b, o, k);
}

/* Parses a string at p->i (the opening quote) into arena memory. */
static int
parse_string(parser *p, const char **out, size_t *outlen)
{
    osp_buf b;
    osp_buf_init(&b);
    int rc = 0;
    p->i++;
    for (;;) {
        if (p->i >= p->n) {
            rc = perr(p, "unterminated string");
            goto out;
        }
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            p->i++;
            break;
        }
        if (c < 0x20) {
            rc = perr(p, "control character in string");
            goto out;
        }
        if (c != '\\') {
            size_t j = p->i;
            while (j < p->n && p->s[j] != '"' && p->s[j] != '\\' && (unsigned char)p->s[j] >= 0x20)
                j++;
            osp_buf_append(&b, p->s + p->i, j - p->i);
            p->i = j;
            continue;
        }
        p->i++;
        if (p->i >= p->n) {
            rc = perr(p, "unterminated string");
            goto out;
        }
        char e = p->s[p->i++];
        switch (e) {
        case '"': osp_buf_putc(&b, '"'); break;
        case '\\': osp_buf_putc(&b, '\\'); break;
        case '/': osp_buf_putc(&b, '/'); break;
        case 'b': osp_buf_putc(&b, '\b'); break;
        case 'f': osp_buf_putc(&b, '\f'); break;
        case 'n': osp_buf_putc(&b, '\n'); break;
        case 'r': osp_buf_putc(&b, '\r'); break;
        case 't': osp_buf_putc(&b, '\t'); break;
        case 'u': {
            unsigned cp;
            if ((rc = hex4(p, &cp)))
                goto out;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u') {
                    rc = perr(p, "unpaired surrogate in \\u escape");
                    goto out;
                }
                p->i += 2;
                if ((rc = hex4(p, &lo)))
                    goto out;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    rc = perr(p, "invalid low surrogate in \\u escape");
                    goto out;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                rc = perr(p, "unpaired surrogate in \\u escape");
                goto out;
            }
            if (cp == 0) {
                rc = perr(p, "NUL character in string");
                goto out;
            }
            put_utf8(&b, cp);
            break;
        }
        default:
            p->i--;
            rc = perr(p, "invalid escape in string");
            goto out;
        }
    }
    if (!osp_utf8_valid(b.data ? b.data : "", b.len)) {
        rc = perr(p, "string is not valid UTF-8");
        goto out;
    }
    *out = osp_arena_strndup(p->a, b.data ? b.data : "", b.len);
    *outlen = b.len;
out:
    osp_buf_fini(&b);
    return rc;
}

static int
parse_number(parser *p, alert_json *v)
{
    size_t st = p->i;
    if (p->i < p->n && p->s[p->i] == '-')
        p->i++;
    if (p->i >= p->n || !(p->s[p->i] >= '0' && p->s[p->i] <= '9'))
        return perr(p, "invalid number");
    if (p->s[p->i] == '0') {
        p->i++;
    } else {
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (p->i >= p->n || !(p->s[p->i] >= '0' && p->s[p->i] <= '9'))
            return perr(p, "invalid number: digit expected after '.'");
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (p->i >= p->n || !(p->s[p->i] >= '0' && p->s[p->i] <= '9'))
            return perr(p, "invalid number: digit expected in exponent");
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
    }
    char tmp[64];
    size_t len = p->i - st;
    if (len >= sizeof(tmp))
        return perr(p, "number too long");
    memcpy(tmp, p->s + st, len);
    tmp[len] = 0;
    v->num = strtod(tmp, NULL);
    if (!isfinite(v->num))
        return perr(p, "number out of range");
    return 0;
}

static int parse_value(parser *p, alert_json **out, int depth);

static int
parse_container(parser *p, alert_json *v, int depth)
{
    bool obj = p->s[p->i] == '{';
    char close = obj ? '}' : ']';
    p->i++;
    size_t cap = 0;
    int rc;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        return 0;
    }
    for (;;) {
        const char *key = NULL;
        size_t klen = 0;
        skip_ws(p);
        if (obj) {
            if (p->i >= p->n || p->s[p->i] != '"')
                return perr(p, "object key (a string) expected");
            if ((rc = parse_string(p, &key, &klen)))
                return rc;
            for (size_t k = 0; k < v->n; k++)
                if (strcmp(v->keys[k], key) == 0)
                    return perr(p, "duplicate object key");
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':')
                return perr(p, "':' expected after object key");
            p->i++;
        }
        alert_json *item;
        if ((rc = parse_value(p, &item, depth + 1)))
            return rc;
        if (v->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            alert_json **ni = osp_arena_alloc(p->a, ncap * sizeof(*ni));
            if (v->n)
                memcpy(ni, v->items, v->n * sizeof(*ni));
            v->items = ni;
            if (obj) {
                const char **nk = osp_arena_alloc(p->a, ncap * sizeof(*nk));
                if (v->n)
                    memcpy(nk, v->keys, v->n * sizeof(*nk));
                v->keys = nk;
            }
            cap = ncap;
        }
        if (obj)
            v->keys[v->n] = key;
        v->items[v->n++] = item;
        skip_ws(p);
        if (p->i >= p->n)
            return perr(p, obj ? "unterminated object" : "unterminated array");
        if (p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->s[p->i] == close) {
            p->i++;
            return 0;
        }
        return perr(p, obj ? "',' or '}' expected in object" : "',' or ']' expected in array");
    }
}

static int
literal(parser *p, const char *word)
{
    size_t k = strlen(word);
    if (p->n - p->i < k || memcmp(p->s + p->i, word, k) != 0)
        return perr(p, "invalid literal");
    p->i += k;
    return 0;
}

static int
parse_value(parser *p, alert_json **out, int depth)
{
    if (depth > MAX_DEPTH)
        return perr(p, "nesting too deep");
    skip_ws(p);
    if (p->i >= p->n)
        return perr(p, "unexpected end of input");
    alert_json *v = osp_arena_calloc(p->a, sizeof(*v));
    v->line = p->line;
    v->col = (int)(p->i - p->line_start) + 1;
    int rc = 0;
    char c = p->s[p->i];
    switch (c) {
    case '{':
        v->type = ALERT_JSON_OBJ;
        rc = parse_container(p, v, depth);
        break;
    case '[':
        v->type = ALERT_JSON_ARR;
        rc = parse_container(p, v, depth);
        break;
    case '"':
        v->type = ALERT_JSON_STR;
        rc = parse_string(p, &v->str, &v->len);
        break;
    case 't':
        v->type = ALERT_JSON_BOOL;
        v->b = true;
        rc = literal(p, "true");
        break;
    case 'f':
        v->type = ALERT_JSON_BOOL;
        rc = literal(p, "false");
        break;
    case 'n':
        v->type = ALERT_JSON_NULL;
        rc = literal(p, "null");
        break;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            v->type = ALERT_JSON_NUM;
            rc = parse_number(p, v);
        } else {
            rc = perr(p, "unexpected character");
        }
    }
    if (rc == 0)
        *out = v;
    return rc;
}

int
alert_json_parse(const char *s, size_t n, osp_arena *a, alert_json **out, osp_errinfo *ei)
{
    parser p = {.s = s, .n = n, .line = 1, .a = a, .ei = ei};
    alert_json *v;
    int rc = parse_value(&p, &v, 0);
    if (rc)
        return rc;
    skip_ws(&p);
    if (p.i != p.n)
        return perr(&p, "trailing data after JSON value");
    *out = v;
    return 0;
}

const alert_json *
alert_json_get(const alert_json *obj, const char *key)
{
    if (obj == NULL || obj->type != ALERT_JSON_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return obj->items[i];
    return NULL;
}

const char *
alert_json_type_name(alert_json_type t)
{
    static const char *names[] = {"null", "boolean", "number", "string", "array", "object"};
    return (unsigned)t < 6 ? names[t] : "?";
}
