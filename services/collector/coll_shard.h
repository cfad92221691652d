/* coll_shard.h - sharing targets between collectors through Redis: each
 * collector heartbeats into a sorted set and scrapes the targets whose
 * rendezvous hash picks it, so adding or removing a collector needs no config. */
#ifndef COLL_SHARD_H
#define COLL_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_err.h"

struct event_base;
typedef struct coll_shard coll_shard;

/* Members whose last heartbeat is older than this are considered gone. */
#define COLL_SHARD_TTL_MS 10000
/* How often a collector heartbeats and re-reads the membership. */
#define COLL_SHARD_BEAT_MS 2000

/* coll_shard_new: join the collectors sharing redis_url ("redis://host:port",
 * "redis://host:port/db" or "unix:/path") as member_id, on base. on_change(ctx)
 * runs on the loop whenever the membership changes (the first time it is
 * known too). Until the first membership is read, coll_shard_owns() owns
 * nothing. Errors: OSP_EINVAL for a URL it cannot parse. The Redis connection
 * is (re)made in the background; failures are logged rate-limited and the last
 * membership is kept. Loop thread. */
int coll_shard_new(struct event_base *base, const char *redis_url, const char *member_id,
                   void (*on_change)(void *ctx), void *ctx, coll_shard **out, osp_errinfo *ei);

/* coll_shard_owns: whether this member scrapes the target with identity key:
 * the member with the highest osp_hash64(key, member) among the live ones. */
bool coll_shard_owns(const coll_shard *s, uint64_t key);

/* coll_shard_pick: the index in members[0..n) that owns key (rendezvous
 * hashing; -1 when n == 0). Pure; exposed for tests. */
int coll_shard_pick(const char *const *members, size_t n, uint64_t key);

/* coll_shard_members: number of live members last read (0 before the first). */
size_t coll_shard_members(const coll_shard *s);

/* coll_shard_free: leave the set at once (a short blocking ZREM, so the others
 * take over without waiting for the TTL) and free. NULL-safe. Loop thread. */
void coll_shard_free(coll_shard *s);

#endif
