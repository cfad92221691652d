/* promql_lex.c - PromQL tokenizer and Go-style string literal decoding. Keywords are left
 * to the parser (they are context dependent: `on` may also be a label name). */
#include "promql_int.h"

#include <ctype.h>
#include <string.h>

static const char *const binop_names[] = {
    "+", "-", "*", "/", "%", "^", "==", "!=", "<=", "<", ">=", ">", "and", "or", "unless", "atan2",
};

const char *
promql_binop_name(tok_kind k)
{
    if (k >= T_ADD && k <= T_ATAN2)
        return binop_names[k - T_ADD];
    return "?";
}

void
promql_lex_init(lexer *lx, const char *q, size_t n)
{
    lx->q = q;
    lx->n = n;
    lx->pos = 0;
    lx->brackets = 0;
}

static bool
is_ident_start(int c)
{
    return isalpha(c) || c == '_' || c == ':';
}

static bool
is_ident_char(int c)
{
    return isalnum(c) || c == '_' || c == ':';
}

static tok
mk(tok_kind k, size_t pos, size_t len)
{
    return (tok){k, pos, len};
}

static tok
lex_string(lexer *lx, size_t start)
{
    char q = lx->q[start];
    size_t i = start + 1;
    while (i < lx->n) {
        char c = lx->q[i];
        if (c == '\\' && q != '`') {
            i += 2;
            continue;
        }
        if (c == q) {
            lx->pos = i + 1;
            return mk(T_STRING, start, i + 1 - start);
        }
        if (c == '\n' && q != '`')
            break;
        i++;
    }
    lx->pos = start;
    return mk(T_ERR, start, 1);
}

/* A number or duration: digits, letters and dots, plus a sign right after an exponent
 * of a decimal number. */
static tok
lex_number(lexer *lx, size_t start)
{
    size_t i = start;
    bool hex = i + 1 < lx->n && lx->q[i] == '0' && (lx->q[i + 1] == 'x' || lx->q[i + 1] == 'X');
    while (i < lx->n) {
        char c = lx->q[i];
        if (isalnum((unsigned char)c) || c == '.' || c == '_') {
            i++;
            continue;
        }
        if ((c == '+' || c == '-') && !hex && i > start &&
            (lx->q[i - 1] == 'e' || lx->q[i - 1] == 'E') && i + 1 < lx->n &&
            isdigit((unsigned char)lx->q[i + 1])) {
            /* only an exponent when everything before is a plain decimal number */
            bool plain = true;
            for (size_t j = start; j + 1 < i; j++)
                if (!isdigit((unsigned char)lx->q[j]) && lx->q[j] != '.')
                    plain = false;
            if (!plain)
                break;
            i++;
            continue;
        }
        break;
    }
    lx->pos = i;
    return mk(T_NUMBER, start, i - start);
}

tok
promql_lex_next(lexer *lx)
{
    for (;;) {
        while (lx->pos < lx->n && isspace((unsigned char)lx->q[lx->pos]))
            lx->pos++;
        if (lx->pos < lx->n && lx->q[lx->pos] == '#') {
            while (lx->pos < lx->n && lx->q[lx->pos] != '\n')
                lx->pos++;
            continue;
        }
        break;
    }
    size_t s = lx->pos;
    if (s >= lx->n)
        return mk(T_EOF, s, 0);
    unsigned char c = (unsigned char)lx->q[s];
    char c1 = s + 1 < lx->n ? lx->q[s + 1] : 0;
    if (is_ident_start(c) && !(c == ':' && lx->brackets > 0)) {
        size_t i = s + 1;
        while (i < lx->n && is_ident_char((unsigned char)lx->q[i]))
            i++;
        lx->pos = i;
        return mk(T_IDENT, s, i - s);
    }
    if (isdigit(c) || (c == '.' && isdigit((unsigned char)c1)))
        return lex_number(lx, s);
    if (c == '"' || c == '\'' || c == '`')
        return lex_string(lx, s);
    lx->pos = s + 1;
    switch (c) {
    case '{': return mk(T_LBRACE, s, 1);
    case '}': return mk(T_RBRACE, s, 1);
    case '(': return mk(T_LPAREN, s, 1);
    case ')': return mk(T_RPAREN, s, 1);
    case '[': lx->brackets++; return mk(T_LBRACKET, s, 1);
    case ']':
        if (lx->brackets > 0)
            lx->brackets--;
        return mk(T_RBRACKET, s, 1);
    case ',': return mk(T_COMMA, s, 1);
    case '@': return mk(T_AT, s, 1);
    case '+': return mk(T_ADD, s, 1);
    case '-': return mk(T_SUB, s, 1);
    case '*': return mk(T_MUL, s, 1);
    case '/': return mk(T_DIV, s, 1);
    case '%': return mk(T_MOD, s, 1);
    case '^': return mk(T_POW, s, 1);
    case ':': return mk(T_COLON, s, 1);
    case '=':
        if (c1 == '=') {
            lx->pos++;
            return mk(T_EQLC, s, 2);
        }
        if (c1 == '~') {
            lx->pos++;
            return mk(T_EQL_REGEX, s, 2);
        }
        return mk(T_ASSIGN, s, 1);
    case '!':
        if (c1 == '=') {
            lx->pos++;
            return mk(T_NEQ, s, 2);
        }
        if (c1 == '~') {
            lx->pos++;
            return mk(T_NEQ_REGEX, s, 2);
        }
        break;
    case '<':
        if (c1 == '=') {
            lx->pos++;
            return mk(T_LTE, s, 2);
        }
        return mk(T_LSS, s, 1);
    case '>':
        if (c1 == '=') {
            lx->pos++;
            return mk(T_GTE, s, 2);
        }
        return mk(T_GTR, s, 1);
    default: break;
    }
    lx->pos = s;
    return mk(T_ERR, s, 1);
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void
put_utf8(osp_buf *b, uint32_t cp)
{
    if (cp < 0x80) {
        osp_buf_putc(b, (char)cp);
    } else if (cp < 0x800) {
        osp_buf_putc(b, (char)(0xc0 | (cp >> 6)));
        osp_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        osp_buf_putc(b, (char)(0xe0 | (cp >> 12)));
        osp_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        osp_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
    } else {
        osp_buf_putc(b, (char)(0xf0 | (cp >> 18)));
        osp_buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
        osp_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        osp_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
    }
}

static int
unescape(const char *s, size_t n, size_t *i, osp_buf *b)
{
    char c = s[*i];
    (*i)++;
    int digits = 0;
    switch (c) {
    case 'a': osp_buf_putc(b, '\a'); return 0;
    case 'b': osp_buf_putc(b, '\b'); return 0;
    case 'f': osp_buf_putc(b, '\f'); return 0;
    case 'n': osp_buf_putc(b, '\n'); return 0;
    case 'r': osp_buf_putc(b, '\r'); return 0;
    case 't': osp_buf_putc(b, '\t'); return 0;
    case 'v': osp_buf_putc(b, '\v'); return 0;
    case '\\': osp_buf_putc(b, '\\'); return 0;
    case '"': osp_buf_putc(b, '"'); return 0;
    case '\'': osp_buf_putc(b, '\''); return 0;
    case 'x': digits = 2; break;
    case 'u': digits = 4; break;
    case 'U': digits = 8; break;
    default:
        if (c >= '0' && c <= '7') {
            if (*i + 2 > n)
                return OSP_EPARSE;
            int v = c - '0';
            for (int k = 0; k < 2; k++) {
                char d = s[(*i)++];
                if (d < '0' || d > '7')
                    return OSP_EPARSE;
                v = v * 8 + (d - '0');
            }
            if (v > 255)
                return OSP_EPARSE;
            osp_buf_putc(b, (char)v);
            return 0;
        }
        return OSP_EPARSE;
    }
    if (*i + (size_t)digits > n)
        return OSP_EPARSE;
    uint32_t v = 0;
    for (int k = 0; k < digits; k++) {
        int h = hexval(s[(*i)++]);
        if (h < 0)
            return OSP_EPARSE;
        v = v * 16 + (uint32_t)h;
    }
    if (c == 'x')
        osp_buf_putc(b, (char)v);
    else if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000))
        return OSP_EPARSE;
    else
        put_utf8(b, v);
    return 0;
}

int
promql_unquote(const char *s, size_t n, osp_arena *a, char **out, size_t *outn)
{
    if (n < 2)
        return OSP_EPARSE;
    char q = s[0];
    osp_buf b;
    osp_buf_init(&b);
    int rc = 0;
    size_t i = 1;
    while (i < n - 1) {
        char c = s[i];
        if (c == '\\' && q != '`') {
            i++;
            if (i >= n - 1 || (rc = unescape(s, n - 1, &i, &b)) != 0) {
                rc = OSP_EPARSE;
                break;
            }
            continue;
        }
        osp_buf_putc(&b, c);
        i++;
    }
    if (rc == 0) {
        *out = osp_arena_strndup(a, osp_buf_cstr(&b), b.len);
        *outn = b.len;
    }
    osp_buf_fini(&b);
    return rc;
}

void
promql_quote(osp_buf *b, const char *s)
{
    osp_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': osp_buf_puts(b, "\\\""); break;
        case '\\': osp_buf_puts(b, "\\\\"); break;
        case '\n': osp_buf_puts(b, "\\n"); break;
        case '\t': osp_buf_puts(b, "\\t"); break;
        case '\r': osp_buf_puts(b, "\\r"); break;
        case '\a': osp_buf_puts(b, "\\a"); break;
        case '\b': osp_buf_puts(b, "\\b"); break;
        case '\f': osp_buf_puts(b, "\\f"); break;
        case '\v': osp_buf_puts(b, "\\v"); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                osp_buf_printf(b, "\\x%02x", *p);
            else
                osp_buf_putc(b, (char)*p);
        }
    }
    osp_buf_putc(b, '"');
}
