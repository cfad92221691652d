/* bus_int.h - private parts of libs/bus: the producer's spool (memory, spilling
 * to append-only segment files), envelope framing and nng helpers. Not for use
 * outside libs/bus and its tests. */
#ifndef OSP_BUS_INT_H
#define OSP_BUS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_buf.h"
#include "osp_err.h"

/* ---- spool ---- */

typedef struct osp_spool_seg osp_spool_seg;

/* One pending batch. The spool owns it; the producer uses the send-state fields. */
typedef struct osp_spool_entry {
    uint64_t seq;
    uint32_t len;       /* envelope bytes */
    char topic;         /* 'm' or 'l' */
    uint8_t *data;      /* envelope bytes when in memory, else NULL */
    osp_spool_seg *seg; /* segment file holding it when spilled */
    uint64_t off;       /* offset of the payload in seg */
    /* producer state (the spool leaves these alone) */
    int64_t first_sent_ns; /* osp_mono_ns of the first publish; 0 = unknown (loaded) */
    int64_t next_send_ms;  /* monotonic ms of the next (re)send */
    uint32_t attempts;     /* resends so far */
    uint32_t acked_mask;   /* stores that acked (multi-store mode) */
} osp_spool_entry;

typedef struct osp_spool_opts {
    const char *dir;  /* NULL = memory only */
    size_t max_bytes; /* bound on memory bytes + segment file sizes */
    size_t mem_bytes; /* with dir: memory share before spilling */
    size_t seg_bytes; /* roll segment files at this size; 0 = max_bytes/8 in [64 KiB, 64 MiB] */
} osp_spool_opts;

typedef struct osp_spool_drop {
    uint64_t entries;
    uint64_t bytes;
} osp_spool_drop;

typedef struct osp_spool_stats {
    uint64_t entries;
    uint64_t bytes;      /* sum of live entry lengths */
    uint64_t mem_bytes;  /* live bytes held in memory */
    uint64_t file_bytes; /* sizes of segment files */
    uint64_t segments;
    uint64_t file_errors;
} osp_spool_stats;

typedef struct osp_spool osp_spool;

/* Segment record: 24-byte header, little-endian, then the envelope bytes.
 *   u32 magic "OSPS" | u32 len | u64 seq | u32 check (osp_hash64(payload, seq) low
 *   32 bits) | u8 topic | 3 zero bytes */
#define OSP_SPOOL_REC_HDR 24u
#define OSP_SPOOL_MAGIC 0x5350534fu

/* osp_spool_new: open the spool; with dir, create it (0700) and load valid records
 * of spool-*.dat segment files left by an earlier run (a torn tail is cut off).
 * Errors: OSP_EIO (dir unusable), OSP_EINVAL. Not thread-safe (the producer locks). */
int osp_spool_new(const osp_spool_opts *opts, osp_spool **out, osp_errinfo *ei);
/* osp_spool_free: free memory, close files; segment files stay on disk. NULL-safe. */
void osp_spool_free(osp_spool *sp);
/* osp_spool_add: append a copy of buf[0..len) as seq (must exceed every seq
 * added before), dropping oldest entries first while the bound would be
 * exceeded (counted into *dropped, which the caller zeroes). *out_entry (may be
 * NULL) gets the new entry. Returns 0 or OSP_ELIMIT (larger than the bound). */
int osp_spool_add(osp_spool *sp, uint64_t seq, char topic, const void *buf, size_t len,
                  osp_spool_drop *dropped, osp_spool_entry **out_entry);
/* osp_spool_find: the entry of seq or NULL. */
osp_spool_entry *osp_spool_find(osp_spool *sp, uint64_t seq);
/* osp_spool_remove: forget seq (acked); deletes a segment file once none of its
 * records is pending. Returns 0 or OSP_ENOTFOUND. */
int osp_spool_remove(osp_spool *sp, uint64_t seq);
/* osp_spool_payload: the envelope bytes of e: a pointer into memory, or read
 * from its segment into scratch. Returns 0 or OSP_EIO. */
int osp_spool_payload(osp_spool *sp, const osp_spool_entry *e, osp_buf *scratch, const void **p);
/* Iteration oldest first: for (i = 0; i < osp_spool_span(sp); i++) { e = osp_spool_slot(sp, i);
 * if (!e) continue; ... } (slots may be NULL holes; do not add/remove meanwhile). */
size_t osp_spool_span(const osp_spool *sp);
osp_spool_entry *osp_spool_slot(osp_spool *sp, size_t i);
/* osp_spool_max_seq: highest seq ever added or loaded (0 = none). */
uint64_t osp_spool_max_seq(const osp_spool *sp);
void osp_spool_stats_get(const osp_spool *sp, osp_spool_stats *out);

/* ---- envelope framing (bus_pb.c) ---- */

/* osp_envelope_frame: append a packed Envelope {producer_id, seq, sent_ms,
 * payload field 10 (topic 'm') or 11 ('l') = batch} to out, without unpacking
 * the batch. */
void osp_envelope_frame(osp_buf *out, const char *producer_id, uint64_t seq, int64_t sent_ms,
                        char topic, const void *batch, size_t len);

/* osp_envelope_header: the bytes of that Envelope before the batch's own
 * (the batch follows them unchanged) into out[0..cap); their count, or 0 when
 * cap is below strlen(producer_id) + 48. */
size_t osp_envelope_header(char *out, size_t cap, const char *producer_id, uint64_t seq,
                           int64_t sent_ms, char topic, size_t len);

/* ---- nng helpers (bus_nng.c) ---- */

/* osp_bus_nng_err: translate an nng error code to osp_err. */
int osp_bus_nng_err(int rv);
/* osp_bus_dial_list: dial each URL of the comma-separated list on sock
 * (nng_socket passed as its id), non-blocking (NNG keeps retrying). */
int osp_bus_dial_list(uint32_t sock_id, const char *list, const char *what, osp_errinfo *ei);
/* osp_bus_close_timed: nng_close(sock) on a helper thread, waiting at most
 * timeout_ms for it: NNG 1.5.2 can deadlock closing a SUB socket that has
 * several peers, and a daemon's shutdown must not hang on that. When the close
 * does not finish in time it is logged and left to finish (or not) on its
 * own; the socket id is not used again. */
void osp_bus_close_timed(uint32_t sock_id, int timeout_ms);

/* osp_bus_listen: listen on url; errors name the URL. */
int osp_bus_listen(uint32_t sock_id, const char *url, const char *what, osp_errinfo *ei);

/* monotonic ms */
int64_t osp_bus_mono_ms(void);

/* osp_bus_recv_wait: receive one message from the socket sock_id, waiting up to
 * timeout_ms (< 0: until one comes or the socket closes). It waits on the
 * socket's receive fd with poll(2) and receives without blocking, instead of
 * using NNG's own timers: NNG 1.5.2 can lose an aio's expiry and leave the
 * waiting thread blocked for good (seen as a rare hang of a 50 ms receive).
 * Returns 0 (*m owned by the caller), NNG_ETIMEDOUT, NNG_ECLOSED or another
 * nng error. Any thread; one receiver per socket. */
int osp_bus_recv_wait(uint32_t sock_id, void **m, int timeout_ms);

#endif
