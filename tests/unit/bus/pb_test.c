/* pb_test.c - batch builders, envelope framing and decoding. */
#include "osp_test.h"

#include <math.h>
#include <string.h>

#include "bus.h"
#include "bus_int.h"

static void
test_mbatch_roundtrip(void **state)
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
    osp_mbatch_add_series(b, &ls, NULL, NULL, 0);
    osp_mbatch_add_meta(b, "up", "gauge", "is it up", NULL);
    assert_int_equal(osp_mbatch_samples(b), 2);
    assert_int_equal(osp_mbatch_series_count(b), 2);
    osp_buf out;
    osp_buf_init(&out);
    assert_int_equal(osp_mbatch_encode(b, &out), 0);
    assert_int_equal(out.len, osp_mbatch_packed_size(b));

    /* frame into an envelope and decode it back */
    osp_buf env;
    osp_buf_init(&env);
    osp_envelope_frame(&env, "coll@h1", 1234567890123ULL, 1718000000000LL, 'm', out.data, out.len);
    Osprey__Envelope *e = NULL;
    assert_int_equal(osp_envelope_decode(env.data, env.len, &e), 0);
    assert_string_equal(e->producer_id, "coll@h1");
    assert_true(e->seq == 1234567890123ULL);
    assert_true(e->sent_ms == 1718000000000LL);
    assert_int_equal(e->payload_case, OSPREY__ENVELOPE__PAYLOAD_METRICS);
    assert_int_equal(e->metrics->n_series, 2);
    assert_string_equal(e->metrics->series[0]->labels[1]->value, "node");
    assert_int_equal(e->metrics->series[0]->n_samples, 2);
    assert_true(e->metrics->series[0]->samples[1]->timestamp_ms == 2000);
    assert_true(isnan(e->metrics->series[0]->samples[1]->value));
    assert_string_equal(e->metrics->metadata[0]->help, "is it up");
    assert_string_equal(e->metrics->metadata[0]->unit, "");
    osp_labels back;
    osp_labels_init(&back);
    osp_pb_labels(e->metrics->series[0]->labels, e->metrics->series[0]->n_labels, &back);
    assert_true(osp_labels_equal(&back, &ls));
    osp_envelope_free(e);

    /* garbage and truncation are OSP_EPARSE */
    assert_int_equal(osp_envelope_decode("\xff\xff\xff", 3, &e), OSP_EPARSE);
    assert_int_equal(osp_envelope_decode(env.data, env.len - 3, &e), OSP_EPARSE);
    assert_int_equal(osp_envelope_decode("", 0, &e), OSP_EPARSE); /* no producer, no payload */

    osp_mbatch_reset(b);
    assert_int_equal(osp_mbatch_samples(b), 0);
    osp_mbatch_free(b);
    osp_mbatch_free(NULL);
    osp_labels_fini(&back);
    osp_labels_fini(&ls);
    osp_buf_fini(&out);
    osp_buf_fini(&env);
}

static void
test_lbatch_roundtrip(void **state)
{
    (void)state;
    osp_lbatch *b = osp_lbatch_new();
    osp_labels a, c, md;
    osp_labels_init(&a);
    osp_labels_init(&c);
    osp_labels_init(&md);
    osp_labels_addc(&a, "job", "a");
    osp_labels_addc(&c, "job", "c");
    osp_labels_addc(&md, "trace_id", "abc");
    size_t sa = osp_lbatch_stream(b, &a);
    size_t sc = osp_lbatch_stream(b, &c);
    assert_int_equal(osp_lbatch_stream(b, &a), sa);
    assert_int_not_equal(sa, sc);
    for (int i = 0; i < 40; i++)
        osp_lbatch_add_entry(b, sa, i, "hello world", 5, NULL);
    osp_lbatch_add_entry(b, sc, 7, "x", 1, &md);
    assert_int_equal(osp_lbatch_entries(b), 41);
    assert_int_equal(osp_lbatch_line_bytes(b), 201);
    osp_buf out, env;
    osp_buf_init(&out);
    osp_buf_init(&env);
    osp_lbatch_encode(b, &out);
    osp_envelope_frame(&env, "ls", 1, 2, 'l', out.data, out.len);
    Osprey__Envelope *e = NULL;
    assert_int_equal(osp_envelope_decode(env.data, env.len, &e), 0);
    assert_int_equal(e->payload_case, OSPREY__ENVELOPE__PAYLOAD_LOGS);
    assert_int_equal(e->logs->n_streams, 2);
    assert_int_equal(e->logs->streams[0]->n_entries, 40);
    assert_string_equal(e->logs->streams[0]->entries[3]->line, "hello");
    assert_string_equal(e->logs->streams[1]->entries[0]->structured_metadata[0]->value, "abc");
    osp_envelope_free(e);
    osp_lbatch_reset(b);
    assert_int_equal(osp_lbatch_entries(b), 0);
    osp_lbatch_free(b);
    osp_labels_fini(&a);
    osp_labels_fini(&c);
    osp_labels_fini(&md);
    osp_buf_fini(&out);
    osp_buf_fini(&env);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mbatch_roundtrip),
        cmocka_unit_test(test_lbatch_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
