/* wire_test.c - the encoding MetricBatch builder and the zero-copy reader
 * against protobuf-c: random batches must pack to protobuf-c's exact bytes by
 * both builder paths, and both decoders must agree on them and on mutated
 * copies (the comparison is fuzz/bus_fuzz.c's, linked in). */
#include "osp_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "bus_int.h"
#include "bus_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static char *
rnd_str(void)
{
    static const char *const pool[] = {"", "__name__", "job", "a", "le", "0.5", "héllo", "x y"};
    size_t n = rnd() % 12;
    if (n < 8)
        return strdup(pool[n]);
    size_t len = rnd() % 40;
    char *s = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        s[i] = (char)(1 + rnd() % 255);
    s[len] = '\0';
    return s;
}

static double
rnd_val(void)
{
    uint64_t bits;
    switch (rnd() % 6) {
    case 0: return 0.0;
    case 1: return -0.0;
    case 2: bits = 0x7ff0000000000002ULL; break; /* stale marker */
    case 3: return (double)(int64_t)(rnd() % 1000);
    case 4: return INFINITY;
    default: bits = rnd(); break;
    }
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

static int64_t
rnd_ts(void)
{
    switch (rnd() % 4) {
    case 0: return 0;
    case 1: return -(int64_t)(rnd() % 100000);
    default: return (int64_t)(rnd() % 2000000000000ULL);
    }
}

/* One random batch built three ways: protobuf-c structs, osp_mbatch_add_series
 * and osp_mbatch_add_series_pb. The packed bytes must be identical. */
static void
one_batch(osp_buf *pc_out, osp_buf *mb_out)
{
    size_t ns = rnd() % 20, nm = rnd() % 4;
    Osprey__MetricBatch *mbp = malloc(sizeof(*mbp));
    osprey__metric_batch__init(mbp);
    Osprey__MetricBatch mb = *mbp;
    mb.series = calloc(ns + 1, sizeof(*mb.series));
    mb.metadata = calloc(nm + 1, sizeof(*mb.metadata));
    mb.n_series = ns;
    mb.n_metadata = nm;
    osp_mbatch *b1 = osp_mbatch_new(), *b2 = osp_mbatch_new();
    osp_buf lpb;
    osp_buf_init(&lpb);
    for (size_t i = 0; i < ns; i++) {
        Osprey__Series *s = calloc(1, sizeof(*s));
        osprey__series__init(s);
        osp_labels ls;
        osp_labels_init(&ls);
        s->n_labels = rnd() % 6;
        s->labels = calloc(s->n_labels + 1, sizeof(*s->labels));
        for (size_t k = 0; k < s->n_labels; k++) {
            Osprey__Label *l = calloc(1, sizeof(*l));
            osprey__label__init(l);
            l->name = rnd_str();
            l->value = rnd_str();
            s->labels[k] = l;
            osp_labels_addc(&ls, l->name, l->value);
        }
        size_t n = rnd() % 4;
        int64_t ts[4];
        double vs[4];
        s->n_samples = n;
        s->samples = calloc(n + 1, sizeof(*s->samples));
        for (size_t k = 0; k < n; k++) {
            Osprey__Sample *sm = calloc(1, sizeof(*sm));
            osprey__sample__init(sm);
            sm->timestamp_ms = ts[k] = rnd_ts();
            sm->value = vs[k] = rnd_val();
            s->samples[k] = sm;
        }
        mb.series[i] = s;
        osp_mbatch_add_series(b1, &ls, ts, vs, n);
        osp_buf_reset(&lpb);
        osp_pb_encode_labels(&ls, &lpb);
        osp_mbatch_add_series_pb(b2, lpb.data, lpb.len, ts, vs, n);
        osp_labels_fini(&ls);
    }
    for (size_t i = 0; i < nm; i++) {
        Osprey__MetricMetadata *m = calloc(1, sizeof(*m));
        osprey__metric_metadata__init(m);
        m->name = rnd_str();
        m->type = rnd_str();
        m->help = rnd_str();
        m->unit = rnd_str();
        mb.metadata[i] = m;
        osp_mbatch_add_meta(b1, m->name, m->type, m->help, m->unit);
        osp_mbatch_add_meta(b2, m->name, m->type, m->help, m->unit);
    }
    size_t sz = osprey__metric_batch__get_packed_size(&mb);
    osp_buf_reset(pc_out);
    osp_buf_reserve(pc_out, sz);
    pc_out->len = osprey__metric_batch__pack(&mb, (uint8_t *)pc_out->data);
    osp_buf_reset(mb_out);
    assert_int_equal(osp_mbatch_encode(b1, mb_out), 0);
    assert_int_equal(mb_out->len, osp_mbatch_packed_size(b1));
    assert_int_equal(osp_mbatch_samples(b1), osp_mbatch_samples(b2));
    osp_buf other;
    osp_buf_init(&other);
    osp_mbatch_encode(b2, &other);
    assert_int_equal(pc_out->len, mb_out->len);
    assert_memory_equal(pc_out->data, mb_out->data, mb_out->len);
    assert_int_equal(other.len, mb_out->len);
    assert_memory_equal(other.data, mb_out->data, mb_out->len);
    osp_buf_fini(&other);
    osp_buf_fini(&lpb);
    osp_mbatch_free(b1);
    osp_mbatch_free(b2);
    *mbp = mb;
    osprey__metric_batch__free_unpacked(mbp, NULL);
}

static void
test_builder_matches_protobuf_c(void **state)
{
    (void)state;
    osp_buf a, b, env;
    osp_buf_init(&a);
    osp_buf_init(&b);
    osp_buf_init(&env);
    for (int i = 0; i < 2000; i++) {
        one_batch(&a, &b);
        osp_buf_reset(&env);
        osp_envelope_frame(&env, "p", (uint64_t)i, 5, 'm', b.data, b.len);
        LLVMFuzzerTestOneInput((const uint8_t *)env.data, env.len);
        /* mutated copies: both decoders must still agree */
        for (int m = 0; m < 8 && env.len > 0; m++) {
            char *c = malloc(env.len);
            memcpy(c, env.data, env.len);
            for (int k = 0; k < 1 + (int)(rnd() % 3); k++)
                c[rnd() % env.len] = (char)rnd();
            size_t len = env.len - (rnd() % 4 == 0 ? rnd() % env.len : 0);
            LLVMFuzzerTestOneInput((const uint8_t *)c, len);
            free(c);
        }
    }
    osp_buf_fini(&a);
    osp_buf_fini(&b);
    osp_buf_fini(&env);
}

/* A 5-byte length prefix carries up to 35 bits: protobuf-c refuses one over
 * INT_MAX where a 32-bit reading would wrap it to a small length (found by
 * the fuzz target: here an unknown field of a Series, "length" 0x600000000). */
static void
test_length_prefix_over_int_max(void **state)
{
    (void)state;
    static const uint8_t env[] = {0x28, 0x0a, 0x0a, 0x01, 'x',  0x6d, 'e',  '_',  '_',
                                  '_',  0x52, 0x0e, 0x0a, 0x0c, 0x2a, 0x80, 0x80, 0x80,
                                  0x80, 0x60, 0x2a, 0x80, 0x80, 0x80, 0x80, 0x00};
    osp_wire_env w;
    assert_int_equal(osp_wire_envelope(env, sizeof(env), &w), OSP_EPARSE);
    LLVMFuzzerTestOneInput(env, sizeof(env)); /* aborts if protobuf-c disagrees */
    /* the same message with the last length byte 0x07: 7 << 28 > INT_MAX too */
    uint8_t c[sizeof(env)];
    memcpy(c, env, sizeof(env));
    c[19] = 0x07;
    assert_int_equal(osp_wire_envelope(c, sizeof(c), &w), OSP_EPARSE);
    LLVMFuzzerTestOneInput(c, sizeof(c));
    /* and a 5-byte zero length, which is fine */
    c[19] = 0x00;
    assert_int_equal(osp_wire_envelope(c, sizeof(c), &w), 0);
    LLVMFuzzerTestOneInput(c, sizeof(c));
}

/* The checks of a Series (labels and samples of the right wire type, unknown
 * fields skipped, a bad Label or Sample inside refused) agree with
 * protobuf-c's: LLVMFuzzerTestOneInput aborts where the two disagree. */
static void
test_series_checks(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t series[16];
        size_t n;
        int rc;
    } cases[] = {
        {"labels as a varint", {0x08, 0x01}, 2, OSP_EPARSE},
        {"samples as a fixed64", {0x11, 0, 0, 0, 0, 0, 0, 0}, 8, OSP_EPARSE},
        {"a label with a varint name", {0x0a, 0x02, 0x08, 0x01}, 4, OSP_EPARSE},
        {"a sample with a string timestamp", {0x12, 0x03, 0x0a, 0x01, 'x'}, 5, OSP_EPARSE},
        {"an unknown varint field", {0x18, 0x05}, 2, 0},
        {"an unknown field, then a label", {0x18, 0x05, 0x0a, 0x03, 0x0a, 0x01, 'a'}, 7, 0},
        {"a label cut short", {0x0a, 0x05, 0x0a, 0x01, 'a'}, 5, OSP_EPARSE},
        {"an empty series", {0}, 0, 0},
        {"a label, value before name", {0x0a, 0x06, 0x12, 0x01, 'v', 0x0a, 0x01, 'n'}, 8, 0},
        {"a label with an empty value", {0x0a, 0x05, 0x0a, 0x01, 'n', 0x12, 0x00}, 7, 0},
        {"a label with a field after its value",
         {0x0a, 0x07, 0x0a, 0x01, 'n', 0x12, 0x00, 0x18, 0x01},
         9,
         0},
        {"a label whose value runs past it",
         {0x0a, 0x05, 0x0a, 0x01, 'n', 0x12, 0x01},
         7,
         OSP_EPARSE},
        {"a sample", {0x12, 0x0b, 0x08, 0x05, 0x11, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, 13, 0},
        {"a sample with a value cut short",
         {0x12, 0x0a, 0x08, 0x05, 0x11, 0, 0, 0, 0, 0, 0, 0xf0},
         12,
         OSP_EPARSE},
        {"a sample with a varint value", {0x12, 0x04, 0x08, 0x05, 0x10, 0x01}, 6, OSP_EPARSE},
        {"a sample, value first",
         {0x12, 0x0b, 0x11, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x08, 0x05},
         13,
         0},
        {"a sample, value, then a timestamp cut short",
         {0x12, 0x0a, 0x11, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x08},
         12,
         OSP_EPARSE},
        {"a sample of a timestamp only", {0x12, 0x02, 0x08, 0x05}, 4, 0},
        {"a label of a name and a varint value",
         {0x0a, 0x05, 0x0a, 0x01, 'n', 0x10, 0x01},
         7,
         OSP_EPARSE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t env[32] = {0x0a, 0x01, 'p'}; /* Envelope.producer_id */
        size_t n = cases[i].n;
        env[3] = 0x52; /* Envelope.metrics */
        env[4] = (uint8_t)(n + 2);
        env[5] = 0x0a; /* MetricBatch.series */
        env[6] = (uint8_t)n;
        memcpy(env + 7, cases[i].series, n);
        osp_wire_env w;
        int rc = osp_wire_envelope(env, n + 7, &w);
        if (rc != cases[i].rc)
            fail_msg("%s: got %d, expected %d", cases[i].what, rc, cases[i].rc);
        LLVMFuzzerTestOneInput(env, n + 7);
    }
}

static void
test_wire_reader(void **state)
{
    (void)state;
    osp_mbatch *b = osp_mbatch_new();
    osp_labels ls;
    osp_labels_init(&ls);
    osp_labels_addc(&ls, "__name__", "up");
    osp_labels_addc(&ls, "job", "node");
    int64_t ts[2] = {1000, 2000};
    double v[2] = {1.5, NAN};
    osp_mbatch_add_series(b, &ls, ts, v, 2);
    osp_mbatch_add_meta(b, "up", "gauge", "is it up", NULL);
    osp_buf out, env;
    osp_buf_init(&out);
    osp_buf_init(&env);
    osp_mbatch_encode(b, &out);
    osp_envelope_frame(&env, "coll@h1", 77, 1718000000000LL, 'm', out.data, out.len);
    osp_wire_env w;
    assert_int_equal(osp_wire_envelope(env.data, env.len, &w), 0);
    assert_int_equal(w.producer_id.n, 7);
    assert_true(w.seq == 77 && w.sent_ms == 1718000000000LL);
    assert_int_equal(w.payload_case, OSPREY__ENVELOPE__PAYLOAD_METRICS);
    osp_wire_it it;
    osp_wire_it_init(&it, w.payload);
    int field;
    osp_wire_view msg;
    assert_true(osp_wire_mbatch_next(&it, &field, &msg));
    assert_int_equal(field, 1);
    osp_wire_series s;
    osp_wire_series_scan(msg, &s);
    assert_int_equal(s.n_labels, 2);
    assert_int_equal(s.n_samples, 2);
    osp_buf lpb;
    osp_buf_init(&lpb);
    osp_pb_encode_labels(&ls, &lpb);
    assert_int_equal(s.labels.n, lpb.len); /* the cache key is the encoded label set */
    assert_memory_equal(s.labels.p, lpb.data, lpb.len);
    assert_true(osp_wire_mbatch_next(&it, &field, &msg));
    assert_int_equal(field, 2);
    assert_false(osp_wire_mbatch_next(&it, &field, &msg));
    /* rejected like osp_envelope_decode */
    assert_int_equal(osp_wire_envelope("\xff\xff\xff", 3, &w), OSP_EPARSE);
    assert_int_equal(osp_wire_envelope(env.data, env.len - 3, &w), OSP_EPARSE);
    assert_int_equal(osp_wire_envelope("", 0, &w), OSP_EPARSE);
    osp_labels_fini(&ls);
    osp_buf_fini(&lpb);
    osp_buf_fini(&out);
    osp_buf_fini(&env);
    osp_mbatch_free(b);
}

/* put_label: a Label {name: n, value: v} field of a Series, one byte each */
static void
put_label(osp_buf *b, char n, char v)
{
    const char x[8] = {0x0a, 0x06, 0x0a, 0x01, n, 0x12, 0x01, v};
    osp_buf_append(b, x, sizeof(x));
}

/* osp_wire_series_scan over hand-made layouts: its short-field fast path and
 * the general loop agree (spans, counts, the last sample). */
static void
test_series_scan_layouts(void **state)
{
    (void)state;
    char big[200];
    memset(big, 'v', sizeof(big));
    osp_buf b;
    osp_buf_init(&b);
    /* label a=x; label l=<200 bytes> (two-byte length); overlong tag of a
     * label; sample t=5; sample t=6 */
    put_label(&b, 'a', 'x');
    osp_buf_append(&b,
                   "\x0a\xce\x01\x0a\x01"
                   "l"
                   "\x12\xc8\x01",
                   9);
    osp_buf_append(&b, big, sizeof(big));
    osp_buf_append(&b,
                   "\x8a\x00\x06\x0a\x01"
                   "b"
                   "\x12\x01"
                   "y",
                   9);
    size_t labels_end = b.len;
    osp_buf_append(&b, "\x12\x02\x08\x05", 4);
    osp_buf_append(&b, "\x12\x02\x08\x06", 4);
    osp_wire_series s;
    osp_wire_series_scan((osp_wire_view){b.data, b.len}, &s);
    assert_int_equal(s.n_labels, 3);
    assert_int_equal(s.n_samples, 2);
    assert_ptr_equal(s.labels.p, b.data);
    assert_int_equal(s.labels.n, labels_end);
    int64_t t;
    double v;
    osp_wire_sample(s.sample, &t, &v);
    assert_int_equal(t, 6);
    /* a sample between two labels: no label span */
    osp_buf_reset(&b);
    put_label(&b, 'a', 'x');
    osp_buf_append(&b, "\x12\x02\x08\x07", 4);
    put_label(&b, 'b', 'y');
    osp_wire_series_scan((osp_wire_view){b.data, b.len}, &s);
    assert_int_equal(s.n_labels, 2);
    assert_int_equal(s.n_samples, 1);
    assert_null(s.labels.p);
    assert_int_equal(s.labels.n, 0);
    /* a length running past the end stops the scan where the general loop does */
    osp_buf_reset(&b);
    put_label(&b, 'a', 'x');
    osp_buf_append(&b, "\x12\x09\x08\x07", 4);
    osp_wire_series_scan((osp_wire_view){b.data, b.len}, &s);
    assert_int_equal(s.n_labels, 1);
    assert_int_equal(s.n_samples, 0);
    osp_buf_fini(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_length_prefix_over_int_max), cmocka_unit_test(test_wire_reader),
        cmocka_unit_test(test_series_scan_layouts),        cmocka_unit_test(test_series_checks),
        cmocka_unit_test(test_builder_matches_protobuf_c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
