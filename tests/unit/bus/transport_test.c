/* transport_test.c - producer and consumer over real NNG sockets (ipc and tcp on
 * 127.0.0.1): acks settle the spool, resends cover an absent or restarting
 * store, flush waits, garbage is skipped, REQ/REP round trips. */
#include "osp_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>

#include "bus.h"
#include "bus_int.h"
#include "osp_mem.h"
#include "osp_time.h"

typedef struct store {
    char in_url[128], ack_url[128];
    const char *id;
    osp_bus_consumer *c;
    pthread_t thr;
    atomic_bool stop;
    atomic_bool ack;
    pthread_mutex_t mu;
    uint64_t *seqs;
    size_t n, cap;
} store;

static void
store_urls(store *s)
{
    static int k;
    snprintf(s->in_url, sizeof(s->in_url), "ipc:///tmp/osp-bus-%d-%d-%d-in", (int)getpid(), k,
             rand());
    snprintf(s->ack_url, sizeof(s->ack_url), "ipc:///tmp/osp-bus-%d-%d-%d-ack", (int)getpid(), k++,
             rand());
}

static void *
store_thread(void *arg)
{
    store *s = arg;
    while (!atomic_load(&s->stop)) {
        osp_bus_msg *m;
        int rc = osp_bus_consumer_recv(s->c, 50, &m);
        if (rc == OSP_ETIMEDOUT)
            continue;
        assert_int_equal(rc, 0);
        pthread_mutex_lock(&s->mu);
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 256;
            s->seqs = osp_reallocarray(s->seqs, s->cap, sizeof(uint64_t));
        }
        s->seqs[s->n++] = m->env->seq;
        pthread_mutex_unlock(&s->mu);
        if (atomic_load(&s->ack))
            assert_int_equal(osp_bus_consumer_ack(s->c, m->env->producer_id, m->env->seq), 0);
        osp_bus_msg_free(m);
    }
    return NULL;
}

static void
store_start(store *s)
{
    osp_bus_consumer_opts o = {
        .ingest_url = s->in_url, .ack_url = s->ack_url, .store_id = s->id ? s->id : "st1"};
    osp_errinfo ei;
    int rc = osp_bus_consumer_new(&o, &s->c, &ei);
    if (rc != 0)
        fail_msg("consumer_new: %s", ei.msg);
    atomic_store(&s->stop, false);
    assert_int_equal(pthread_create(&s->thr, NULL, store_thread, s), 0);
}

static void
store_stop(store *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thr, NULL);
    osp_bus_consumer_free(s->c);
    s->c = NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* every one of the n seqs the producer sent (a contiguous run) was received;
 * returns the number of duplicates */
static size_t
check_all_seen(store *s, size_t n)
{
    pthread_mutex_lock(&s->mu);
    qsort(s->seqs, s->n, sizeof(uint64_t), cmp_u64);
    size_t uniq = 0;
    for (size_t i = 0; i < s->n; i++)
        if (i == 0 || s->seqs[i] != s->seqs[i - 1])
            s->seqs[uniq++] = s->seqs[i];
    size_t dups = s->n - uniq;
    assert_int_equal(uniq, n);
    assert_true(s->seqs[uniq - 1] - s->seqs[0] == n - 1);
    s->n = 0;
    pthread_mutex_unlock(&s->mu);
    return dups;
}

static void
store_init(store *s)
{
    memset(s, 0, sizeof(*s));
    store_urls(s);
    atomic_init(&s->ack, true);
    pthread_mutex_init(&s->mu, NULL);
}

static void
store_fini(store *s)
{
    pthread_mutex_destroy(&s->mu);
    osp_free(s->seqs);
}

static osp_bus_producer *
producer(store *s, const char *spool_dir)
{
    osp_bus_producer_opts o = {
        .producer_id = "coll@test",
        .ingest_url = s->in_url,
        .ack_url = s->ack_url,
        .spool_dir = spool_dir,
        .spool_mem_bytes = 4096,
        .resend_after_ms = 200,
        .resend_max_ms = 1000,
    };
    osp_bus_producer *p = NULL;
    osp_errinfo ei;
    int rc = osp_bus_producer_new(&o, &p, &ei);
    if (rc != 0)
        fail_msg("producer_new: %s", ei.msg);
    return p;
}

static void
send_batch(osp_bus_producer *p, int i)
{
    osp_mbatch *b = osp_mbatch_new();
    osp_labels ls;
    osp_labels_init(&ls);
    osp_labels_addc(&ls, "__name__", "test_metric");
    char v[16];
    snprintf(v, sizeof(v), "%d", i);
    osp_labels_addc(&ls, "i", v);
    int64_t ts = 1000 + i;
    double val = i;
    osp_mbatch_add_series(b, &ls, &ts, &val, 1);
    if (i % 2 == 0) {
        osp_buf out;
        osp_buf_init(&out);
        osp_mbatch_encode(b, &out);
        assert_int_equal(osp_bus_producer_send(p, 'm', out.data, out.len), 0);
        osp_buf_fini(&out);
    } else { /* the two-piece send, as the collector publishes: series, then metadata */
        osp_mbatch_add_meta(b, "test_metric", "gauge", "a test", "");
        const void *x, *y;
        size_t xn, yn;
        osp_mbatch_view(b, &x, &xn, &y, &yn);
        assert_true(xn > 0 && yn > 0);
        assert_int_equal(osp_bus_producer_send2(p, 'm', x, xn, y, yn), 0);
    }
    osp_labels_fini(&ls);
    osp_mbatch_free(b);
}

static void
test_basic_acks(void **state)
{
    (void)state;
    store s;
    store_init(&s);
    store_start(&s);
    osp_bus_producer *p = producer(&s, NULL);
    osp_sleep_ms(200); /* let the pipes connect (pub/sub drops before that; resends cover it) */
    const int N = 500;
    for (int i = 0; i < N; i++)
        send_batch(p, i);
    assert_int_equal(osp_bus_producer_flush(p, 15000), 0);
    osp_bus_producer_stats st;
    osp_bus_producer_get_stats(p, &st);
    assert_int_equal(st.sent_batches, N);
    assert_int_equal(st.acked_batches, N);
    assert_int_equal(st.spool_entries, 0);
    assert_int_equal(st.spool_bytes, 0);
    assert_int_equal(st.dropped_batches, 0);
    assert_int_equal(st.ack_latency_count, N);
    assert_true(st.ack_latency_bucket[OSP_BUS_LAT_BUCKETS - 1] <= (uint64_t)N);
    assert_true(st.ack_latency_sum > 0);
    check_all_seen(&s, N);
    osp_bus_consumer_stats cs;
    osp_bus_consumer_get_stats(s.c, &cs);
    assert_true(cs.received >= (uint64_t)N);
    assert_int_equal(cs.decode_errors, 0);
    osp_bus_producer_free(p);
    store_stop(&s);
    store_fini(&s);
}

static void
test_store_late(void **state)
{
    (void)state;
    store s;
    store_init(&s);
    char *dir = osp_test_tmpdir("busspool");
    osp_bus_producer *p = producer(&s, dir); /* nobody listens yet */
    const int N = 300;
    for (int i = 0; i < N; i++)
        send_batch(p, i);
    osp_bus_producer_stats st;
    osp_bus_producer_get_stats(p, &st);
    assert_int_equal(st.spool_entries, N);
    assert_true(st.spool_file_bytes > 0); /* beyond 4 KiB it spilled */
    /* flush without a store times out */
    assert_int_equal(osp_bus_producer_flush(p, 300), OSP_ETIMEDOUT);
    osp_sleep_ms(500);
    store_start(&s);
    assert_int_equal(osp_bus_producer_flush(p, 20000), 0);
    osp_bus_producer_get_stats(p, &st);
    assert_int_equal(st.spool_entries, 0);
    assert_int_equal(st.spool_file_bytes, 0);
    assert_true(st.resends > 0);
    check_all_seen(&s, N);
    osp_bus_producer_free(p);
    store_stop(&s);
    store_fini(&s);
    osp_test_rmtree(dir);
    free(dir);
}

static void
test_store_restarts(void **state)
{
    (void)state;
    store s;
    store_init(&s);
    store_start(&s);
    osp_bus_producer *p = producer(&s, NULL);
    osp_sleep_ms(200);
    const int N = 600;
    for (int i = 0; i < N; i++) {
        if (i == 200)
            store_stop(&s);
        if (i == 400)
            store_start(&s);
        send_batch(p, i);
        osp_sleep_ms(2);
    }
    assert_int_equal(osp_bus_producer_flush(p, 20000), 0);
    check_all_seen(&s, N);
    osp_bus_producer_stats st;
    osp_bus_producer_get_stats(p, &st);
    assert_int_equal(st.acked_batches, N);
    assert_true(st.resends >= 200);
    osp_bus_producer_free(p);
    store_stop(&s);
    store_fini(&s);
}

static void
test_restart_from_spool(void **state)
{
    (void)state;
    store s;
    store_init(&s);
    char *dir = osp_test_tmpdir("busspool");
    osp_bus_producer *p = producer(&s, dir);
    for (int i = 0; i < 100; i++)
        send_batch(p, i);
    osp_bus_producer_stats st;
    osp_bus_producer_get_stats(p, &st);
    uint64_t in_mem = st.spool_mem_bytes;
    assert_true(in_mem > 0 && in_mem <= 4096);
    osp_bus_producer_free(p); /* unacked: spilled entries stay on disk */
    store_start(&s);
    p = producer(&s, dir);
    osp_bus_producer_get_stats(p, &st);
    assert_true(st.spool_entries > 0 && st.spool_entries < 100);
    uint64_t reloaded = st.spool_entries;
    send_batch(p, 1000);
    assert_int_equal(osp_bus_producer_flush(p, 20000), 0);
    pthread_mutex_lock(&s.mu);
    assert_true(s.n >= reloaded + 1);
    pthread_mutex_unlock(&s.mu);
    osp_bus_producer_free(p);
    store_stop(&s);
    store_fini(&s);
    osp_test_rmtree(dir);
    free(dir);
}

static void
test_spool_bound_drops(void **state)
{
    (void)state;
    store s;
    store_init(&s);
    osp_bus_producer_opts o = {
        .producer_id = "p2", .ingest_url = s.in_url, .ack_url = s.ack_url, .spool_max_bytes = 5000};
    osp_bus_producer *p;
    assert_int_equal(osp_bus_producer_new(&o, &p, NULL), 0);
    char big[6000] = {0};
    assert_int_equal(osp_bus_producer_send(p, 'm', big, sizeof(big)), OSP_ELIMIT);
    assert_int_equal(osp_bus_producer_send(p, 'x', big, 10), OSP_EINVAL);
    for (int i = 0; i < 100; i++)
        assert_int_equal(osp_bus_producer_send(p, 'l', big, 100), 0);
    osp_bus_producer_stats st;
    osp_bus_producer_get_stats(p, &st);
    assert_true(st.spool_bytes <= 5000);
    assert_true(st.dropped_batches > 0);
    assert_int_equal(st.dropped_batches + st.spool_entries, 100);
    osp_bus_producer_free(p);
    store_fini(&s);
}

static void
test_garbage_skipped(void **state)
{
    (void)state;
    store s;
    store_init(&s);
    osp_bus_consumer_opts o = {.ingest_url = s.in_url, .ack_url = s.ack_url, .store_id = "x"};
    osp_bus_consumer *c;
    assert_int_equal(osp_bus_consumer_new(&o, &c, NULL), 0);
    nng_socket pub;
    assert_int_equal(nng_pub0_open(&pub), 0);
    assert_int_equal(nng_dial(pub, s.in_url, NULL, 0), 0);
    osp_sleep_ms(200);
    osp_buf env;
    osp_buf_init(&env);
    osp_buf_putc(&env, 'm');
    osp_envelope_frame(&env, "raw", 7, 1, 'm', "", 0);
    assert_int_equal(nng_send(pub, "m\xff\xff\xff", 4, 0), 0); /* bad protobuf */
    assert_int_equal(nng_send(pub, "zzz", 3, 0), 0);           /* bad topic */
    env.data[0] = 'l';
    assert_int_equal(nng_send(pub, env.data, env.len, 0), 0); /* topic/payload mismatch */
    env.data[0] = 'm';
    assert_int_equal(nng_send(pub, env.data, env.len, 0), 0); /* good */
    osp_bus_msg *m = NULL;
    assert_int_equal(osp_bus_consumer_recv(c, 5000, &m), 0);
    assert_int_equal(m->topic, 'm');
    assert_string_equal(m->env->producer_id, "raw");
    assert_int_equal(m->env->seq, 7);
    assert_int_equal(m->raw_len, env.len - 1);
    assert_memory_equal(m->raw, env.data + 1, env.len - 1);
    osp_bus_msg_free(m);
    osp_bus_consumer_stats cs;
    osp_bus_consumer_get_stats(c, &cs);
    assert_int_equal(cs.decode_errors, 3);
    assert_int_equal(cs.received, 1);
    assert_int_equal(osp_bus_consumer_recv(c, 0, &m), OSP_ETIMEDOUT);
    assert_int_equal(osp_bus_consumer_recv(c, 50, &m), OSP_ETIMEDOUT);
    int fd = -1;
    assert_int_equal(osp_bus_consumer_fd(c, &fd), 0);
    assert_true(fd >= 0);
    nng_close(pub);
    osp_buf_fini(&env);
    osp_bus_consumer_free(c);
    store_fini(&s);
}

static void
test_listen_errors(void **state)
{
    (void)state;
    int port = osp_test_free_port(), port2 = osp_test_free_port();
    char in[64], ack[64];
    snprintf(in, sizeof(in), "tcp://127.0.0.1:%d", port);
    snprintf(ack, sizeof(ack), "tcp://127.0.0.1:%d", port2);
    osp_bus_consumer_opts o = {.ingest_url = in, .ack_url = ack, .store_id = "a"};
    osp_bus_consumer *c1, *c2 = NULL;
    assert_int_equal(osp_bus_consumer_new(&o, &c1, NULL), 0);
    osp_errinfo ei;
    assert_int_equal(osp_bus_consumer_new(&o, &c2, &ei), OSP_EIO);
    assert_null(c2);
    assert_non_null(strstr(ei.msg, in));
    osp_bus_consumer_opts bad = {.ingest_url = "bogus://x", .ack_url = ack, .store_id = "a"};
    assert_int_equal(osp_bus_consumer_new(&bad, &c2, &ei), OSP_EINVAL);
    osp_bus_consumer_free(c1);
    osp_bus_producer_opts po = {.producer_id = "", .ingest_url = in, .ack_url = ack};
    osp_bus_producer *p = NULL;
    assert_int_equal(osp_bus_producer_new(&po, &p, &ei), OSP_EINVAL);
    po.producer_id = "x";
    po.ingest_url = "bogus://y";
    assert_int_equal(osp_bus_producer_new(&po, &p, &ei), OSP_EINVAL);
    assert_null(p);
    osp_bus_producer_free(NULL);
    osp_bus_consumer_free(NULL);
}

static void
test_two_stores_all_required(void **state)
{
    (void)state;
    store a, b;
    store_init(&a);
    store_init(&b);
    a.id = "A";
    b.id = "B";
    store_start(&a);
    store_start(&b);
    char in[300], ack[300];
    snprintf(in, sizeof(in), "%s,%s", a.in_url, b.in_url);
    snprintf(ack, sizeof(ack), "%s,%s", a.ack_url, b.ack_url);
    const char *ids[] = {"A", "B"};
    osp_bus_producer_opts o = {.producer_id = "p3",
                               .ingest_url = in,
                               .ack_url = ack,
                               .resend_after_ms = 200,
                               .ack_store_ids = ids,
                               .n_ack_store_ids = 2};
    osp_bus_producer *p;
    assert_int_equal(osp_bus_producer_new(&o, &p, NULL), 0);
    osp_sleep_ms(200);
    atomic_store(&b.ack, false); /* B receives but does not ack: nothing settles */
    for (int i = 0; i < 20; i++)
        send_batch(p, i);
    assert_int_equal(osp_bus_producer_flush(p, 800), OSP_ETIMEDOUT);
    osp_bus_producer_stats st;
    osp_bus_producer_get_stats(p, &st);
    assert_int_equal(st.spool_entries, 20);
    atomic_store(&b.ack, true);
    assert_int_equal(osp_bus_producer_flush(p, 20000), 0);
    check_all_seen(&a, 20);
    check_all_seen(&b, 20);
    /* stores go first: NNG 1.5.2 can deadlock closing a SUB socket that still
     * has two live peers (the producer's ack socket here) */
    store_stop(&a);
    store_stop(&b);
    osp_bus_producer_free(p);
    store_fini(&a);
    store_fini(&b);
}

static void *
rep_thread(void *arg)
{
    osp_bus_rep *r = arg;
    for (int i = 0; i < 2; i++) {
        osp_bus_request *q;
        assert_int_equal(osp_bus_rep_recv(r, 5000, &q), 0);
        size_t n;
        const char *d = osp_bus_request_data(q, &n);
        char out[64];
        int k = snprintf(out, sizeof(out), "re:%.*s", (int)n, d);
        assert_int_equal(osp_bus_rep_reply(r, q, out, (size_t)k), 0);
    }
    return NULL;
}

static void
test_reqrep(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", osp_test_free_port());
    osp_bus_rep *r;
    osp_bus_req *q;
    assert_int_equal(osp_bus_rep_new(url, &r, NULL), 0);
    assert_int_equal(osp_bus_req_new(url, &q, NULL), 0);
    pthread_t t;
    pthread_create(&t, NULL, rep_thread, r);
    osp_buf resp;
    osp_buf_init(&resp);
    assert_int_equal(osp_bus_req_call(q, "up", 2, 5000, &resp), 0);
    assert_string_equal(osp_buf_cstr(&resp), "re:up");
    osp_buf_reset(&resp);
    assert_int_equal(osp_bus_req_call(q, "x", 1, 5000, &resp), 0);
    assert_string_equal(osp_buf_cstr(&resp), "re:x");
    pthread_join(t, NULL);
    osp_bus_request *none;
    assert_int_equal(osp_bus_rep_recv(r, 50, &none), OSP_ETIMEDOUT);
    osp_buf_fini(&resp);
    osp_bus_req_free(q);
    osp_bus_rep_free(r);
}

int
main(void)
{
    srand((unsigned)osp_mono_ns());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_acks),
        cmocka_unit_test(test_store_late),
        cmocka_unit_test(test_store_restarts),
        cmocka_unit_test(test_restart_from_spool),
        cmocka_unit_test(test_spool_bound_drops),
        cmocka_unit_test(test_garbage_skipped),
        cmocka_unit_test(test_listen_errors),
        cmocka_unit_test(test_two_stores_all_required),
        cmocka_unit_test(test_reqrep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
