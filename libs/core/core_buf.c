/* core_buf.c - growable buffer, JSON string escaping and string views. */
#include "osp_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <endian.h>
#include <string.h>

#include "osp_mem.h"

osp_str
osp_str_c(const char *s)
{
    return (osp_str){s ? s : "", s ? strlen(s) : 0};
}

bool
osp_str_eq(osp_str a, osp_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

bool
osp_str_eqc(osp_str a, const char *c)
{
    return osp_str_eq(a, osp_str_c(c));
}

void
osp_buf_init(osp_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
osp_buf_fini(osp_buf *b)
{
    osp_free(b->data);
    osp_buf_init(b);
}

void
osp_buf_reset(osp_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void
osp_buf_reserve(osp_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = osp_realloc(b->data, cap);
    b->cap = cap;
}

void
osp_buf_append(osp_buf *b, const void *p, size_t n)
{
    osp_buf_reserve(b, n);
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void
osp_buf_puts(osp_buf *b, const char *s)
{
    osp_buf_append(b, s, strlen(s));
}

void
osp_buf_putc(osp_buf *b, char c)
{
    osp_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void
osp_buf_printf(osp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n < sizeof(tmp)) {
        osp_buf_append(b, tmp, (size_t)n);
    } else {
        osp_buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

const char *
osp_buf_cstr(const osp_buf *b)
{
    return b->data ? b->data : "";
}

char *
osp_buf_steal(osp_buf *b, size_t *len)
{
    if (b->data == NULL)
        osp_buf_reserve(b, 0), b->data[0] = '\0';
    char *p = b->data;
    if (len != NULL)
        *len = b->len;
    osp_buf_init(b);
    return p;
}

/* utf8_seq: length of the valid UTF-8 sequence at s (0 if invalid). */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned int cp;
    if ((c & 0xE0) == 0xC0)
        len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
        len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

bool
osp_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_seq(u + i, n - i);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
}

void
osp_buf_json_str(osp_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    osp_buf_reserve(b, n + 2);
    osp_buf_putc(b, '"');
    size_t i = 0, run = 0;
    while (i < n) {
        unsigned char c = u[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            run++;
            continue;
        }
        if (run > 0)
            osp_buf_append(b, s + i - run, run);
        run = 0;
        if (c >= 0x80) {
            size_t l = utf8_seq(u + i, n - i);
            if (l == 0) {
                osp_buf_puts(b, "\xEF\xBF\xBD");
                i++;
            } else {
                osp_buf_append(b, s + i, l);
                i += l;
            }
            continue;
        }
        switch (c) {
        case '"': osp_buf_puts(b, "\\\""); break;
        case '\\': osp_buf_puts(b, "\\\\"); break;
        case '\n': osp_buf_puts(b, "\\n"); break;
        case '\r': osp_buf_puts(b, "\\r"); break;
        case '\t': osp_buf_puts(b, "\\t"); break;
        default: {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            osp_buf_append(b, e, 6);
        }
        }
        i++;
    }
    if (run > 0)
        osp_buf_append(b, s + n - run, run);
    osp_buf_putc(b, '"');
}

void
osp_buf_json_cstr(osp_buf *b, const char *s)
{
    osp_buf_json_str(b, s ? s : "", s ? strlen(s) : 0);
}

uint64_t
osp_hash64(const void *p, size_t n, uint64_t seed)
{
    /* 64-bit multiply-xorshift over 8-byte little-endian words; stable across
     * machines because words are assembled byte by byte. */
    const unsigned char *s = p;
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    uint64_t h = seed ^ (n * m);
    while (n >= 8) {
        uint64_t k;
        memcpy(&k, s, 8);
        k = le64toh(k); /* the same value on big-endian machines */
        k *= m;
        k ^= k >> 47;
        k *= m;
        h ^= k;
        h *= m;
        s += 8;
        n -= 8;
    }
    uint64_t k = 0;
    for (size_t i = n; i > 0; i--)
        k = (k << 8) | s[i - 1];
    if (n > 0) {
        h ^= k;
        h *= m;
    }
    h ^= h >> 47;
    h *= m;
    h ^= h >> 47;
    return h;
}
