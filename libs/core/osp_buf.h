/* osp_buf.h - growable byte buffer (always NUL-terminated) and string views;
 * the workhorse of JSON output, exposition rendering and protocol framing. */
#ifndef OSP_BUF_H
#define OSP_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Borrowed pointer+length view into someone else's bytes. */
typedef struct osp_str {
    const char *p;
    size_t n;
} osp_str;

#define OSP_STR(lit) ((osp_str){(lit), sizeof(lit) - 1})
osp_str osp_str_c(const char *s); /* view of a C string (NULL -> empty) */
bool osp_str_eq(osp_str a, osp_str b);
bool osp_str_eqc(osp_str a, const char *c);

/* Caller storage: init/fini. data is NUL-terminated after every operation
 * (data may be NULL only before the first append; use osp_buf_cstr). */
typedef struct osp_buf {
    char *data;
    size_t len;
    size_t cap;
} osp_buf;

void osp_buf_init(osp_buf *b);
void osp_buf_fini(osp_buf *b);
void osp_buf_reset(osp_buf *b); /* len = 0, keeps memory */
void osp_buf_reserve(osp_buf *b, size_t extra);
void osp_buf_append(osp_buf *b, const void *p, size_t n);
void osp_buf_puts(osp_buf *b, const char *s);
void osp_buf_putc(osp_buf *b, char c);
void osp_buf_printf(osp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *osp_buf_cstr(const osp_buf *b); /* "" when empty */
/* osp_buf_steal: hand the bytes to the caller (free with osp_free); b is re-inited. */
char *osp_buf_steal(osp_buf *b, size_t *len);

/* osp_buf_json_str: append s[0..n) as a JSON string literal with quotes,
 * escaping ", \, control chars; invalid UTF-8 bytes become U+FFFD. */
void osp_buf_json_str(osp_buf *b, const char *s, size_t n);
void osp_buf_json_cstr(osp_buf *b, const char *s);

/* osp_fmt_u64: the decimal digits of u into out (at least 20 bytes; no NUL); returns
 * their number. */
size_t osp_fmt_u64(char *out, uint64_t u);

/* osp_fmt_double: format v the way Prometheus' JSON and Go's
 * strconv.FormatFloat(v,'f'/'e',-1,64) do: shortest round-trip digits, plain
 * notation unless exponent < -4 or >= 21, "NaN", "+Inf", "-Inf".
 * out must hold 32 bytes. Returns the length. */
int osp_fmt_double(char *out, double v);

/* osp_fmt_double_expfmt: like osp_fmt_double but as the exposition format
 * writes values: Go 'g' style (e.g. 1e+06, 0.001), "NaN", "+Inf", "-Inf". */
int osp_fmt_double_expfmt(char *out, double v);

/* osp_parse_double: parse Go ParseFloat syntax (incl. NaN, Inf, +Inf, -Inf,
 * case-insensitive, exponents; rejects hex floats and '_'), whole view must
 * be consumed. Returns 0 or OSP_EPARSE. */
int osp_parse_double(osp_str s, double *out);

/* osp_parse_int64: decimal with optional sign, whole view. 0 or OSP_EPARSE. */
int osp_parse_int64(osp_str s, int64_t *out);

/* osp_hash64: stable 64-bit hash (same value on every machine and run). */
uint64_t osp_hash64(const void *p, size_t n, uint64_t seed);

/* osp_utf8_valid: true when s[0..n) is valid UTF-8. */
bool osp_utf8_valid(const char *s, size_t n);

#endif
