/* bus_wire.c - zero-copy Envelope reader. The validator walks protobuf-c's
 * generated descriptors and follows protobuf-c 1.4's unpack rules (tag and
 * length prefixes of at most 5 bytes, varints of at most 10, wire type checked
 * against the field's type, groups refused, unknown fields skipped, the last
 * occurrence of a oneof member wins), so it accepts exactly what
 * osprey__envelope__unpack accepts; fuzz/bus_fuzz.c compares the two. */
#include "bus_wire.h"

#include <limits.h>
#include <string.h>

#include "osp_err.h"
#include "osprey.pb-c.h"

enum { WT_VARINT = 0, WT_64 = 1, WT_LEN = 2, WT_32 = 5 };

/* ---- primitive readers (bounds-checked; false on malformed input) ---- */

static inline bool
rd_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    if (p < end && *p < 0x80) { /* the common one-byte case */
        *v = *p;
        *pp = p + 1;
        return true;
    }
    uint64_t r = 0;
    for (unsigned i = 0; i < 10 && p + i < end; i++) {
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if ((p[i] & 0x80) == 0) {
            *v = r;
            *pp = p + i + 1;
            return true;
        }
    }
    return false;
}

/* protobuf-c's parse_tag_and_wiretype: at most 5 bytes, 32-bit arithmetic,
 * and a first byte without field bits is an error. */
static inline bool
rd_tag(const uint8_t **pp, const uint8_t *end, uint32_t *tag, unsigned *wt)
{
    const uint8_t *p = *pp;
    if (p >= end || (p[0] & 0xf8) == 0)
        return false;
    *wt = p[0] & 7;
    uint32_t t = (p[0] & 0x7f) >> 3;
    if ((p[0] & 0x80) == 0) {
        *tag = t;
        *pp = p + 1;
        return true;
    }
    size_t max = (size_t)(end - p) > 5 ? 5 : (size_t)(end - p);
    unsigned shift = 4;
    for (size_t i = 1; i < max; i++) {
        if (p[i] & 0x80) {
            t |= (uint32_t)((uint64_t)(p[i] & 0x7f) << shift);
            shift += 7;
        } else {
            t |= (uint32_t)((uint64_t)p[i] << shift);
            *tag = t;
            *pp = p + i + 1;
            return true;
        }
    }
    return false;
}

/* protobuf-c's scan_length_prefixed_data: at most 5 bytes, the value (up to
 * 35 bits) at most INT_MAX, and the data must fit. */
static inline bool
rd_len(const uint8_t **pp, const uint8_t *end, osp_wire_view *out)
{
    const uint8_t *p = *pp;
    size_t rem = (size_t)(end - p);
    size_t max = rem < 5 ? rem : 5;
    uint64_t v = 0;
    size_t i;
    for (i = 0; i < max; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if ((p[i] & 0x80) == 0)
            break;
    }
    if (i == max || v > INT_MAX)
        return false;
    size_t hdr = i + 1;
    if (hdr + (size_t)v > rem)
        return false;
    out->p = (const char *)p + hdr;
    out->n = v;
    *pp = p + hdr + v;
    return true;
}

static inline bool
skip_field(const uint8_t **pp, const uint8_t *end, unsigned wt)
{
    uint64_t v;
    osp_wire_view lv;
    switch (wt) {
    case WT_VARINT: return rd_varint(pp, end, &v);
    case WT_LEN: return rd_len(pp, end, &lv);
    case WT_64:
        if ((size_t)(end - *pp) < 8)
            return false;
        *pp += 8;
        return true;
    case WT_32:
        if ((size_t)(end - *pp) < 4)
            return false;
        *pp += 4;
        return true;
    default: return false; /* groups and reserved wire types */
    }
}

static inline uint64_t
rd_fixed64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* little-endian hosts only, as protobuf-c's fast path */
    return v;
}

/* ---- validation ---- */

static unsigned
wire_type_of(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT: return WT_32;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return WT_64;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE: return WT_LEN;
    default: return WT_VARINT;
    }
}

/* check_leaf: check_msg for a message whose fields 1..n are all singular
 * scalars or strings, field k of wire type wts[k - 1]: Label and Sample, the
 * bulk of every batch, checked without descriptor lookups. */
static inline bool
check_leaf(const uint8_t *p, const uint8_t *end, const uint8_t *wts, uint32_t n)
{
    while (p < end) {
        uint32_t tag;
        unsigned wt;
        if (!rd_tag(&p, end, &tag, &wt))
            return false;
        if (tag >= 1 && tag <= n && wt != wts[tag - 1])
            return false; /* a known field of another wire type */
        if (!skip_field(&p, end, wt))
            return false;
    }
    return true;
}

static const uint8_t label_wts[2] = {WT_LEN, WT_LEN}; /* name, value */

/* check_label: check_leaf for a Label, with a fast path for the layout every
 * encoder writes (name then value, each under 128 bytes), which the general
 * loop accepts too. */
static inline bool
check_label(const uint8_t *p, const uint8_t *end)
{
    if (end - p >= 4 && p[0] == 0x0a && p[1] < 0x80 && end - p >= 4 + p[1]) {
        const uint8_t *q = p + 2 + p[1];
        if (q[0] == 0x12 && q[1] < 0x80 && end - q == 2 + q[1])
            return true;
    }
    return check_leaf(p, end, label_wts, 2);
}
static const uint8_t sample_wts[2] = {WT_VARINT, WT_64}; /* timestamp_ms, value */

/* short_field: p starts a Label (0x0a) or Sample (0x12) field of a Series
 * with a one-byte length that fits before end: the layout every encoder
 * writes, read without the general tag and length loops. */
static inline bool
short_field(const uint8_t *p, const uint8_t *end)
{
    return end - p >= 2 && p[1] < 0x80 && (p[0] == 0x0a || p[0] == 0x12) &&
           (size_t)(end - p) - 2 >= p[1];
}

/* check_sample: check_leaf for a Sample, with a fast path for the layout
 * every encoder writes (timestamp varint, then value fixed64, nothing else). */
static inline bool
check_sample(const uint8_t *p, const uint8_t *end)
{
    if (end - p >= 11 && p[0] == 0x08) {
        const uint8_t *q = p + 1;
        while (q < end && q - p <= 10 && (*q & 0x80))
            q++;
        if (q < end && q - p <= 10 && end - q == 10 && q[1] == 0x11)
            return true;
    }
    return check_leaf(p, end, sample_wts, 2);
}

/* check_series: check_msg for a Series (repeated Label labels = 1, repeated
 * Sample samples = 2), one per series of every batch, without descriptor
 * lookups: the same rules, spelled out. */
static bool
check_series(const uint8_t *p, const uint8_t *end)
{
    while (p < end) {
        if (short_field(p, end)) {
            const uint8_t *s = p + 2, *e = s + p[1];
            if (!(p[0] == 0x0a ? check_label(s, e) : check_sample(s, e)))
                return false;
            p = e;
            continue;
        }
        uint32_t tag;
        unsigned wt;
        if (!rd_tag(&p, end, &tag, &wt))
            return false;
        if (tag != 1 && tag != 2) {
            if (!skip_field(&p, end, wt))
                return false;
            continue;
        }
        osp_wire_view sub;
        if (wt != WT_LEN || !rd_len(&p, end, &sub))
            return false;
        const uint8_t *s = (const uint8_t *)sub.p;
        if (!(tag == 1 ? check_label(s, s + sub.n) : check_sample(s, s + sub.n)))
            return false;
    }
    return true;
}

static bool
check_msg(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end, int depth)
{
    if (depth > 8)
        return false; /* the protocol nests 4 deep; this is a guard, not a rule */
    bool mbatch = d == &osprey__metric_batch__descriptor;
    while (p < end) {
        if (mbatch && p[0] == 0x0a) { /* a Series, without the descriptor lookup */
            osp_wire_view sub;
            p++;
            if (!rd_len(&p, end, &sub) ||
                !check_series((const uint8_t *)sub.p, (const uint8_t *)sub.p + sub.n))
                return false;
            continue;
        }
        uint32_t tag;
        unsigned wt;
        if (!rd_tag(&p, end, &tag, &wt))
            return false;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, tag);
        if (f == NULL) {
            if (!skip_field(&p, end, wt))
                return false;
            continue;
        }
        /* Packed repeated scalars do not occur in osprey.proto; refuse rather
         * than guess protobuf-c's rules for them. */
        if (f->label == PROTOBUF_C_LABEL_REPEATED && f->type != PROTOBUF_C_TYPE_MESSAGE &&
            f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES)
            return false;
        if (wt != wire_type_of(f->type)) {
            /* protobuf-c's scan accepts the field, its parse refuses it */
            return false;
        }
        if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            osp_wire_view sub;
            if (!rd_len(&p, end, &sub))
                return false;
            const uint8_t *s = (const uint8_t *)sub.p;
            bool ok;
            if (f->descriptor == &osprey__label__descriptor)
                ok = check_label(s, s + sub.n);
            else if (f->descriptor == &osprey__sample__descriptor)
                ok = check_sample(s, s + sub.n);
            else if (f->descriptor == &osprey__series__descriptor)
                ok = check_series(s, s + sub.n);
            else
                ok = check_msg(f->descriptor, s, s + sub.n, depth + 1);
            if (!ok)
                return false;
        } else if (!skip_field(&p, end, wt)) {
            return false;
        }
    }
    return true;
}

int
osp_wire_envelope(const void *buf, size_t len, osp_wire_env *out)
{
    const uint8_t *p = buf;
    if (len > 0 && !check_msg(&osprey__envelope__descriptor, p, p + len, 0))
        return OSP_EPARSE;
    return osp_wire_envelope_header(buf, len, out);
}

int
osp_wire_envelope_header(const void *buf, size_t len, osp_wire_env *out)
{
    const uint8_t *p = buf, *end = p + len;
    osp_wire_env e = {.producer_id = {"", 0}, .payload = {"", 0}};
    while (p < end) {
        uint32_t tag = 0;
        unsigned wt = 0;
        uint64_t v = 0;
        if (!rd_tag(&p, end, &tag, &wt))
            return OSP_EPARSE;
        switch (tag) {
        case 1:
            if (wt != WT_LEN || !rd_len(&p, end, &e.producer_id))
                return OSP_EPARSE;
            break;
        case 2:
        case 3:
            if (wt != WT_VARINT || !rd_varint(&p, end, &v))
                return OSP_EPARSE;
            if (tag == 2)
                e.seq = v;
            else
                e.sent_ms = (int64_t)v;
            break;
        case 10:
        case 11:
            if (wt != WT_LEN || !rd_len(&p, end, &e.payload))
                return OSP_EPARSE;
            e.payload_case =
                tag == 10 ? OSPREY__ENVELOPE__PAYLOAD_METRICS : OSPREY__ENVELOPE__PAYLOAD_LOGS;
            break;
        default:
            if (!skip_field(&p, end, wt))
                return OSP_EPARSE;
            break;
        }
    }
    if (osp_wire_cstr_len(e.producer_id) == 0 || e.payload_case == 0)
        return OSP_EPARSE;
    *out = e;
    return 0;
}

size_t
osp_wire_cstr_len(osp_wire_view v)
{
    const char *z = v.n ? memchr(v.p, '\0', v.n) : NULL;
    return z ? (size_t)(z - v.p) : v.n;
}

/* ---- iteration over validated bytes ---- */

void
osp_wire_it_init(osp_wire_it *it, osp_wire_view v)
{
    it->p = (const uint8_t *)v.p;
    it->end = it->p + v.n;
}

/* next_field: the next (tag, wire type) with its LEN payload in *lv when wt is
 * WT_LEN; other wire types are left for the caller to read. */
static inline bool
next_tag(osp_wire_it *it, uint32_t *tag, unsigned *wt)
{
    if (it->p >= it->end)
        return false;
    if (!rd_tag(&it->p, it->end, tag, wt)) {
        it->p = it->end; /* cannot happen on validated bytes */
        return false;
    }
    return true;
}

bool
osp_wire_mbatch_next(osp_wire_it *it, int *field, osp_wire_view *msg)
{
    uint32_t tag;
    unsigned wt;
    while (next_tag(it, &tag, &wt)) {
        if ((tag == 1 || tag == 2) && wt == WT_LEN) {
            if (!rd_len(&it->p, it->end, msg))
                break;
            *field = (int)tag;
            return true;
        }
        if (!skip_field(&it->p, it->end, wt))
            break;
    }
    it->p = it->end;
    return false;
}

void
osp_wire_series_scan(osp_wire_view msg, osp_wire_series *s)
{
    memset(s, 0, sizeof(*s));
    s->msg = msg;
    osp_wire_it it;
    osp_wire_it_init(&it, msg);
    const uint8_t *first = NULL, *last_end = NULL;
    bool gap = false, split = false;
    uint32_t tag;
    unsigned wt;
    for (;;) {
        const uint8_t *start = it.p;
        if (short_field(start, it.end)) {
            it.p = start + 2 + start[1];
            if (start[0] == 0x12) {
                s->sample = (osp_wire_view){(const char *)start + 2, start[1]};
                s->n_samples++;
                gap = first != NULL;
                continue;
            }
            if (first == NULL)
                first = start;
            else if (gap)
                split = true;
            last_end = it.p;
            s->n_labels++;
            continue;
        }
        if (!next_tag(&it, &tag, &wt))
            break;
        if (tag == 2 && wt == WT_LEN) {
            if (!rd_len(&it.p, it.end, &s->sample))
                break;
            s->n_samples++;
            gap = first != NULL;
            continue;
        }
        if (!skip_field(&it.p, it.end, wt))
            break;
        if (tag == 1) {
            if (first == NULL)
                first = start;
            else if (gap)
                split = true; /* a sample lies between two labels */
            last_end = it.p;
            s->n_labels++;
        }
    }
    if (first != NULL && !split) {
        s->labels.p = (const char *)first;
        s->labels.n = (size_t)(last_end - first);
    }
}

bool
osp_wire_next_label(osp_wire_it *it, osp_wire_view *name, osp_wire_view *value)
{
    uint32_t tag;
    unsigned wt;
    while (next_tag(it, &tag, &wt)) {
        if (tag == 1 && wt == WT_LEN) {
            osp_wire_view lv;
            if (!rd_len(&it->p, it->end, &lv))
                break;
            osp_wire_it l;
            osp_wire_it_init(&l, lv);
            *name = (osp_wire_view){"", 0};
            *value = (osp_wire_view){"", 0};
            uint32_t t;
            unsigned w;
            while (next_tag(&l, &t, &w)) {
                if (t == 1 && w == WT_LEN)
                    (void)rd_len(&l.p, l.end, name);
                else if (t == 2 && w == WT_LEN)
                    (void)rd_len(&l.p, l.end, value);
                else
                    (void)skip_field(&l.p, l.end, w);
            }
            return true;
        }
        if (!skip_field(&it->p, it->end, wt))
            break;
    }
    it->p = it->end;
    return false;
}

/* osp_wire_sample: the fields of one Sample payload (validated) */
void
osp_wire_sample(osp_wire_view sv, int64_t *ts_ms, double *value)
{
    const uint8_t *p = (const uint8_t *)sv.p, *end = p + sv.n;
    int64_t t = 0;
    uint64_t bits = 0;
    /* the fast path: exactly {1: varint, 2: fixed64}, as Osprey writes it */
    while (p < end) {
        uint8_t b = *p;
        if (b == ((1 << 3) | WT_VARINT)) {
            p++;
            uint64_t v = 0;
            (void)rd_varint(&p, end, &v);
            t = (int64_t)v;
        } else if (b == ((2 << 3) | WT_64) && end - p >= 9) {
            bits = rd_fixed64(p + 1);
            p += 9;
        } else {
            /* any other encoding, e.g. an overlong tag varint: fields 1
             * and 2 still count, as protobuf-c reads them */
            uint32_t tg;
            unsigned w;
            if (!rd_tag(&p, end, &tg, &w))
                break;
            if (tg == 1 && w == WT_VARINT) {
                uint64_t v = 0;
                if (!rd_varint(&p, end, &v))
                    break;
                t = (int64_t)v;
            } else if (tg == 2 && w == WT_64 && end - p >= 8) {
                bits = rd_fixed64(p);
                p += 8;
            } else if (!skip_field(&p, end, w)) {
                break;
            }
        }
    }
    *ts_ms = t;
    memcpy(value, &bits, sizeof(*value));
}

bool
osp_wire_next_sample(osp_wire_it *it, int64_t *ts_ms, double *value)
{
    uint32_t tag;
    unsigned wt;
    while (next_tag(it, &tag, &wt)) {
        if (tag == 2 && wt == WT_LEN) {
            osp_wire_view sv;
            if (!rd_len(&it->p, it->end, &sv))
                break;
            osp_wire_sample(sv, ts_ms, value);
            return true;
        }
        if (!skip_field(&it->p, it->end, wt))
            break;
    }
    it->p = it->end;
    return false;
}

void
osp_wire_metadata(osp_wire_view msg, osp_wire_view *name, osp_wire_view *type, osp_wire_view *help,
                  osp_wire_view *unit)
{
    osp_wire_view *f[5] = {NULL, name, type, help, unit};
    for (int i = 1; i < 5; i++)
        *f[i] = (osp_wire_view){"", 0};
    osp_wire_it it;
    osp_wire_it_init(&it, msg);
    uint32_t tag;
    unsigned wt;
    while (next_tag(&it, &tag, &wt)) {
        if (tag >= 1 && tag <= 4 && wt == WT_LEN)
            (void)rd_len(&it.p, it.end, f[tag]);
        else
            (void)skip_field(&it.p, it.end, wt);
    }
}
