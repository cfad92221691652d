/* anychunk_test.c - the codec dispatch: XOR and dense chunks of the same
 * samples read back the same through osp_anychunk_*, told apart by the first
 * byte (XOR chunks of up to OSP_CHUNK_MAX_SAMPLES below the dense marker's
 * count range included). */
#include "osp_test.h"

#include <stdint.h>
#include <string.h>

#include "osp_anychunk.h"
#include "osp_err.h"
#include "osp_mem.h"

static void
check_same(const uint8_t *data, size_t len, const int64_t *ts, const double *vs, size_t n)
{
    size_t cnt = 0;
    assert_int_equal(osp_anychunk_count(data, len, &cnt), 0);
    assert_int_equal(cnt, n);
    osp_anychunk_it it;
    osp_anychunk_it_init(&it, data, len);
    int64_t t;
    double v;
    size_t i = 0;
    while (osp_anychunk_it_next(&it, &t, &v) == 1) {
        assert_true(i < n);
        assert_int_equal(t, ts[i]);
        assert_memory_equal(&v, &vs[i], sizeof(v));
        i++;
    }
    assert_int_equal(i, n);
    /* a range from the middle */
    int64_t rts[8];
    double rvs[8];
    size_t got = 0;
    assert_int_equal(
        osp_anychunk_decode_range(data, len, ts[n / 2], ts[n / 2 + 2], rts, rvs, 8, &got), 0);
    assert_int_equal(got, 3);
    assert_int_equal(rts[0], ts[n / 2]);
    assert_memory_equal(&rvs[2], &vs[n / 2 + 2], sizeof(double));
}

static void
test_both_codecs(void **state)
{
    (void)state;
    /* 300 samples: the XOR header's first byte is 0x01; 53000: 0xcf, just under the marker */
    static const size_t sizes[] = {5, 300, 53000};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        int64_t *ts = osp_calloc(n, sizeof(*ts));
        double *vs = osp_calloc(n, sizeof(*vs));
        for (size_t i = 0; i < n; i++) {
            ts[i] = 1700000000000 + (int64_t)i * 15000;
            vs[i] = (double)(i * 7 % 100) / 4;
        }
        uint8_t *x = NULL, *d = NULL;
        size_t xl = 0, dl = 0;
        assert_int_equal(osp_chunk_encode(ts, vs, n, &x, &xl), 0);
        assert_int_equal(osp_dchunk_encode(ts, vs, n, &d, &dl), 0);
        assert_false(osp_anychunk_dense(x, xl));
        assert_true(osp_anychunk_dense(d, dl));
        check_same(x, xl, ts, vs, n);
        check_same(d, dl, ts, vs, n);
        osp_free(x);
        osp_free(d);
        osp_free(ts);
        osp_free(vs);
    }
    /* empty input is an XOR chunk too short for a header: an error, not a crash */
    size_t cnt;
    assert_int_equal(osp_anychunk_count(NULL, 0, &cnt), OSP_ECORRUPT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_both_codecs)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
