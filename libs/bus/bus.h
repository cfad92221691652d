/* bus.h - the reliable producer -> store transport of Osprey over NNG pub/sub
 * (see README.md and DESIGN.md "Wire protocol"), plus small REQ/REP helpers.
 *
 * Wire format (every nng call of Osprey lives in libs/bus):
 *   ingest (producer PUB dials, store SUB listens):  1 topic byte ('m' metrics,
 *       'l' logs) followed by a packed Envelope {producer_id, seq, sent_ms,
 *       metrics=10 | logs=11}.
 *   acks (store PUB listens, producer SUB dials): producer_id bytes, one NUL
 *       byte, then a packed Ack {producer_id, seq, store_id}. Producers
 *       subscribe to "<producer_id>\0" and only see their own acks.
 *
 * Delivery is at-least-once: a batch may arrive more than once (resends), and
 * seqs of one producer are not dense across producer restarts (the first seq of
 * a run is max(wall clock ms * 1000, last spooled seq + 1)). The store dedups by
 * the exact pair (producer_id, seq) - not by a high-water mark, because an older
 * seq can arrive after a newer one. */
#ifndef OSP_BUS_H
#define OSP_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus_pb.h"
#include "osp_buf.h"
#include "osp_err.h"
#include "osprey.pb-c.h"

/* ======================= producer ======================= */

typedef struct osp_bus_producer osp_bus_producer;

#define OSP_BUS_MAX_STORES 8

typedef struct osp_bus_producer_opts {
    const char *producer_id; /* required, non-empty, no NUL; e.g. "collector@host1" */
    /* ingest_url: the store's SUB listener(s); we dial with PUB. Several
     * stores: comma-separated ("tcp://a:7201,tcp://b:7201"). Required. */
    const char *ingest_url;
    /* ack_url: the store's ack PUB listener(s); we dial with SUB. Same list
     * syntax. Required. */
    const char *ack_url;
    const char *spool_dir;   /* NULL = memory only; else created if missing (mode 0700) */
    size_t spool_max_bytes;  /* bound on memory + spool files; 0 = 64 MiB (memory only) / 256 MiB */
    size_t spool_mem_bytes;  /* with spool_dir: beyond this entries spill to file; 0 = 16 MiB */
    int64_t resend_after_ms; /* first resend of an unacked batch; 0 = 2000 */
    int64_t resend_max_ms;   /* cap of the exponential backoff per entry; 0 = 30000 */
    int max_resends_per_tick; /* tick = 100 ms; 0 = 64 */
    /* ack_store_ids: NULL/empty = an ack from any store settles a batch (the
     * "any store ack" mode); else every listed store_id (at most
     * OSP_BUS_MAX_STORES) must have acked it. Borrowed for the call. */
    const char *const *ack_store_ids;
    size_t n_ack_store_ids;
} osp_bus_producer_opts;

/* osp_bus_producer_new: create a producer: dial ingest and ack URLs in the
 * background (the store need not be up; NNG reconnects), load entries left in
 * spool_dir by a previous run (they are resent with their seqs), and start the
 * producer's thread (ack receiver + resend timer). *out is written only on
 * success; the caller owns it (osp_bus_producer_free). Errors: OSP_EINVAL (bad
 * or missing option, malformed URL; detail in ei), OSP_EIO (spool_dir cannot be
 * created/opened, nng failure). Any thread. */
int osp_bus_producer_new(const osp_bus_producer_opts *opts, osp_bus_producer **out,
                         osp_errinfo *ei);

/* osp_bus_producer_send: wrap the packed batch batch_pb[0..len) (a MetricBatch
 * for topic 'm', a LogBatch for 'l'; see osp_mbatch_encode) into an Envelope
 * with the next seq and sent_ms = now, keep it in the spool until it is acked,
 * and publish it. The bytes are copied: the caller keeps batch_pb. Making room
 * in a full spool drops the oldest entries (counted in stats, logged
 * rate-limited). A failed publish is not an error: the entry is resent later.
 * Returns 0; OSP_EINVAL (topic not 'm'/'l'); OSP_ELIMIT (the envelope alone is
 * bigger than spool_max_bytes; nothing sent); OSP_EIO (spool file write failed;
 * the batch is kept in memory beyond spool_mem_bytes instead, so this is only
 * returned when even that is impossible - currently never); OSP_ECLOSED (after
 * free began). Thread-safe: any thread may call. May block briefly on file I/O
 * when spilling. */
int osp_bus_producer_send(osp_bus_producer *p, char topic, const void *batch_pb, size_t len);

/* osp_bus_producer_send2: the same for a batch in two pieces, a[0..alen)
 * followed by b[0..blen) (either may be empty), copied once. */
int osp_bus_producer_send2(osp_bus_producer *p, char topic, const void *a, size_t alen,
                           const void *b, size_t blen);

/* osp_bus_producer_flush: resend everything pending now (ignoring backoff) and
 * wait until the spool is empty (all acked: 0) or timeout_ms passed
 * (OSP_ETIMEDOUT; entries stay spooled, and with spool_dir the spilled ones
 * survive a restart). timeout_ms < 0 waits forever. For shutdown (SIGTERM).
 * Thread-safe; do not call from a callback of the producer (there are none). */
int osp_bus_producer_flush(osp_bus_producer *p, int64_t timeout_ms);

#define OSP_BUS_LAT_BUCKETS 11
/* Upper bounds (seconds) of the ack latency histogram buckets:
 * 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 (+Inf is ack_latency_count). */
extern const double osp_bus_ack_latency_bounds[OSP_BUS_LAT_BUCKETS];

typedef struct osp_bus_producer_stats {
    uint64_t sent_batches;    /* accepted by send (first publishes) */
    uint64_t sent_bytes;      /* envelope bytes of those */
    uint64_t publish_errors;  /* nng publish failures (entry kept, resent later) */
    uint64_t acked_batches;   /* entries settled by acks */
    uint64_t dup_acks;        /* acks for unknown/already settled seqs */
    uint64_t resends;         /* republished entries */
    uint64_t dropped_batches; /* dropped oldest-first because the spool was full */
    uint64_t dropped_bytes;
    uint64_t spool_bytes;       /* pending envelope bytes (memory + file) */
    uint64_t spool_entries;     /* pending entries */
    uint64_t spool_mem_bytes;   /* pending bytes held in memory */
    uint64_t spool_file_bytes;  /* size of the spool files on disk (incl. acked holes) */
    uint64_t spool_file_errors; /* failed spill writes/reads */
    double ack_latency_sum;     /* seconds, first publish -> settling ack */
    uint64_t ack_latency_count;
    /* cumulative: bucket[i] = acks with latency <= osp_bus_ack_latency_bounds[i] */
    uint64_t ack_latency_bucket[OSP_BUS_LAT_BUCKETS];
} osp_bus_producer_stats;

/* osp_bus_producer_get_stats: a consistent snapshot of p's counters into *out.
 * Thread-safe. Export as osprey_bus_* metrics (osprey_bus_ack_latency_seconds
 * from the latency fields). */
void osp_bus_producer_get_stats(osp_bus_producer *p, osp_bus_producer_stats *out);

/* osp_bus_producer_free: stop the thread, close the sockets, free memory.
 * Unacked entries held in memory are lost (call flush first); spilled ones stay
 * in spool_dir for the next run. NULL-safe. No send/flush may run
 * concurrently or afterwards. */
void osp_bus_producer_free(osp_bus_producer *p);

/* ======================= consumer (store) ======================= */

typedef struct osp_bus_consumer osp_bus_consumer;

typedef struct osp_bus_consumer_opts {
    const char *ingest_url; /* listen SUB here, e.g. "tcp://0.0.0.0:7201"; required */
    const char *ack_url;    /* listen PUB here, e.g. "tcp://0.0.0.0:7202"; required */
    const char *store_id;   /* put into every Ack; required, non-empty */
    int recv_buf;           /* NNG_OPT_RECVBUF of the SUB socket (messages); 0 = 1024 */
    size_t max_msg_bytes;   /* NNG_OPT_RECVMAXSZ; 0 = 64 MiB */
    bool raw_metrics;       /* metric envelopes are validated (bus_wire.h) but not
                             * unpacked: env holds producer_id, seq, sent_ms and
                             * payload_case only (env->metrics is NULL); read the
                             * batch from raw with osp_wire_envelope */
} osp_bus_consumer_opts;

/* A received batch. The consumer owns it until osp_bus_msg_free. */
typedef struct osp_bus_msg {
    char topic;                  /* 'm' or 'l' (matches env->payload_case) */
    const Osprey__Envelope *env; /* decoded envelope */
    const void *raw;             /* packed Envelope bytes (without the topic byte) */
    size_t raw_len;
} osp_bus_msg;

/* osp_bus_consumer_new: open the sockets and listen on both URLs. *out written
 * only on success (free with osp_bus_consumer_free). Errors: OSP_EINVAL (missing
 * option, malformed URL), OSP_EIO (address in use, cannot listen; ei says which
 * URL and why). Any thread. */
int osp_bus_consumer_new(const osp_bus_consumer_opts *opts, osp_bus_consumer **out,
                         osp_errinfo *ei);

/* osp_bus_consumer_recv: wait up to timeout_ms (0 = do not wait, < 0 =
 * forever) for the next valid batch; *out (owned by the caller, free with
 * osp_bus_msg_free) is written only on success. Messages that do not decode
 * (bad topic, bad protobuf, topic/payload mismatch) are counted, logged
 * rate-limited and skipped. Returns 0, OSP_ETIMEDOUT (nothing valid arrived in
 * time), OSP_ECLOSED. One thread at a time (the store's loop or its ingest
 * thread). */
int osp_bus_consumer_recv(osp_bus_consumer *c, int timeout_ms, osp_bus_msg **out);

/* osp_bus_msg_free: free a message from osp_bus_consumer_recv. NULL-safe. */
void osp_bus_msg_free(osp_bus_msg *m);

/* osp_bus_consumer_ack: publish Ack{producer_id, seq, store_id} to the
 * producers (after the batch is committed). Best effort like all pub/sub: a lost
 * ack causes a resend, which the store dedups. Returns 0, OSP_EINVAL (empty
 * producer_id), OSP_EIO (nng send failed). Thread-safe. */
int osp_bus_consumer_ack(osp_bus_consumer *c, const char *producer_id, uint64_t seq);

/* osp_bus_consumer_fd: a file descriptor that becomes readable when a message
 * may be received (NNG's recv-fd; level-triggered, owned by NNG: do not read or
 * close it). Register it with libevent, then call osp_bus_consumer_recv(c, 0,
 * ...) until OSP_ETIMEDOUT. Returns 0 and *fd, or OSP_EIO. */
int osp_bus_consumer_fd(osp_bus_consumer *c, int *fd);

typedef struct osp_bus_consumer_stats {
    uint64_t received; /* valid batches returned by recv */
    uint64_t received_bytes;
    uint64_t decode_errors; /* messages skipped as undecodable */
    uint64_t acks_sent;
    uint64_t ack_errors;
} osp_bus_consumer_stats;

/* osp_bus_consumer_get_stats: snapshot of the counters. Thread-safe. */
void osp_bus_consumer_get_stats(osp_bus_consumer *c, osp_bus_consumer_stats *out);

/* osp_bus_consumer_free: close the sockets and free c. Messages already
 * returned stay valid until their osp_bus_msg_free. NULL-safe. No recv/ack may
 * run concurrently or afterwards. */
void osp_bus_consumer_free(osp_bus_consumer *c);

/* ======================= REQ/REP (queries) ======================= */

typedef struct osp_bus_rep osp_bus_rep;
typedef struct osp_bus_request osp_bus_request;

/* osp_bus_rep_new: a REP socket listening on url (e.g. the store's query port
 * "tcp://0.0.0.0:7203"). *out written only on success. Errors as
 * osp_bus_consumer_new. */
int osp_bus_rep_new(const char *url, osp_bus_rep **out, osp_errinfo *ei);

/* osp_bus_rep_recv: wait up to timeout_ms (0 = poll, < 0 = forever) for a
 * request. *out (caller-owned) must be answered with osp_bus_rep_reply or
 * dropped with osp_bus_request_free. Several requests may be outstanding and
 * answered in any order from any thread. Returns 0, OSP_ETIMEDOUT,
 * OSP_ECLOSED, OSP_EIO. Thread-safe. */
int osp_bus_rep_recv(osp_bus_rep *r, int timeout_ms, osp_bus_request **out);

/* osp_bus_request_data: the request body (valid until the request is replied
 * or freed). */
const void *osp_bus_request_data(const osp_bus_request *q, size_t *len);

/* osp_bus_rep_reply: send buf[0..len) (copied) as the answer to q and free q -
 * on every outcome, so q is never used again. Returns 0 or OSP_EIO (the
 * requester is gone; it will retry or time out). Any thread. */
int osp_bus_rep_reply(osp_bus_rep *r, osp_bus_request *q, const void *buf, size_t len);

/* osp_bus_request_free: drop q without answering (the requester times out).
 * NULL-safe. */
void osp_bus_request_free(osp_bus_request *q);

/* osp_bus_rep_free: close and free r (outstanding requests must be freed or
 * replied before). NULL-safe. */
void osp_bus_rep_free(osp_bus_rep *r);

typedef struct osp_bus_req osp_bus_req;

/* osp_bus_req_new: a REQ socket dialing url in the background (the server need
 * not be up yet). *out written only on success. OSP_EINVAL for a malformed URL. */
int osp_bus_req_new(const char *url, osp_bus_req **out, osp_errinfo *ei);

/* osp_bus_req_call: send buf[0..len) and wait up to timeout_ms (< 0 forever)
 * for the reply, appended to resp (caller's buffer, not reset). Returns 0,
 * OSP_ETIMEDOUT, OSP_EIO. Thread-safe: concurrent calls use separate NNG
 * contexts. */
int osp_bus_req_call(osp_bus_req *r, const void *buf, size_t len, int64_t timeout_ms,
                     osp_buf *resp);

/* osp_bus_req_cancel: close r's socket so that a call in flight on another
 * thread returns OSP_ECLOSED at once and later calls fail the same way (for a
 * prompt shutdown). Any thread; r must still be freed. NULL-safe. */
void osp_bus_req_cancel(osp_bus_req *r);

/* osp_bus_req_free: close and free r. NULL-safe. */
void osp_bus_req_free(osp_bus_req *r);

#endif
