/* bus_spool.c - the producer's bounded spool of unacked envelopes: in memory up
 * to mem_bytes, then spilled to append-only segment files (spool-<id>.dat) in
 * dir. An in-memory index (seq-sorted slot array with holes) knows every entry;
 * a segment file is deleted as soon as none of its records is pending. When the
 * bound is hit the oldest entries are dropped first. Not thread-safe. */
#include "bus_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "osp_mem.h"

struct osp_spool_seg {
    uint64_t id;
    int fd;
    uint64_t size;
    uint64_t live; /* pending records in this segment */
    osp_spool_seg *next;
};

typedef struct slot {
    uint64_t seq;
    osp_spool_entry *e; /* NULL = hole (removed) */
} slot;

struct osp_spool {
    char *dir;
    size_t max_bytes, mem_limit, seg_bytes;
    slot *slots;
    size_t head, tail, cap; /* live range [head, tail) */
    uint64_t entries, bytes, mem_bytes, file_bytes, nsegs, file_errors;
    uint64_t max_seq;
    uint64_t next_seg_id;
    osp_spool_seg *segs; /* oldest first */
    osp_spool_seg *cur;  /* segment being appended, or NULL */
};

/* ---- little-endian helpers ---- */

static void
put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t
rec_check(const void *p, size_t n, uint64_t seq)
{
    return (uint32_t)osp_hash64(p, n, seq);
}

/* ---- segments ---- */

static void
seg_path(const osp_spool *sp, uint64_t id, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/spool-%016" PRIx64 ".dat", sp->dir, id);
}

static void
seg_delete(osp_spool *sp, osp_spool_seg *sg)
{
    char path[4096];
    osp_spool_seg **pp = &sp->segs;
    while (*pp != sg)
        pp = &(*pp)->next;
    *pp = sg->next;
    if (sp->cur == sg)
        sp->cur = NULL;
    close(sg->fd);
    seg_path(sp, sg->id, path, sizeof(path));
    unlink(path);
    sp->file_bytes -= sg->size;
    sp->nsegs--;
    osp_free(sg);
}

static osp_spool_seg *
seg_open(osp_spool *sp, uint64_t id, int flags)
{
    char path[4096];
    seg_path(sp, id, path, sizeof(path));
    int fd = open(path, flags | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    osp_spool_seg *sg = osp_calloc(1, sizeof(*sg));
    sg->id = id;
    sg->fd = fd;
    osp_spool_seg **pp = &sp->segs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = sg;
    sp->nsegs++;
    return sg;
}

/* ---- index ---- */

static void
index_append(osp_spool *sp, osp_spool_entry *e)
{
    if (sp->tail == sp->cap) {
        /* compact holes away, then grow if still more than half full */
        size_t j = 0;
        for (size_t i = sp->head; i < sp->tail; i++)
            if (sp->slots[i].e)
                sp->slots[j++] = sp->slots[i];
        sp->head = 0;
        sp->tail = j;
        if (sp->tail * 2 >= sp->cap) {
            sp->cap = sp->cap ? sp->cap * 2 : 64;
            sp->slots = osp_reallocarray(sp->slots, sp->cap, sizeof(slot));
        }
    }
    sp->slots[sp->tail++] = (slot){e->seq, e};
}

static slot *
index_find(osp_spool *sp, uint64_t seq)
{
    size_t lo = sp->head, hi = sp->tail;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sp->slots[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < sp->tail && sp->slots[lo].seq == seq && sp->slots[lo].e)
        return &sp->slots[lo];
    return NULL;
}

static void
entry_forget(osp_spool *sp, slot *s)
{
    osp_spool_entry *e = s->e;
    s->e = NULL;
    sp->entries--;
    sp->bytes -= e->len;
    if (e->data) {
        sp->mem_bytes -= e->len;
        osp_free(e->data);
    } else if (e->seg && --e->seg->live == 0) {
        seg_delete(sp, e->seg);
    }
    osp_free(e);
    while (sp->head < sp->tail && sp->slots[sp->head].e == NULL)
        sp->head++;
    if (sp->head == sp->tail)
        sp->head = sp->tail = 0;
}

/* ---- loading ---- */

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void
load_segment(osp_spool *sp, uint64_t id)
{
    osp_spool_seg *sg = seg_open(sp, id, O_RDWR);
    if (sg == NULL) {
        sp->file_errors++;
        return;
    }
    unsigned char hdr[OSP_SPOOL_REC_HDR];
    osp_buf tmp;
    osp_buf_init(&tmp);
    uint64_t off = 0;
    for (;;) {
        if (pread(sg->fd, hdr, sizeof(hdr), (off_t)off) != (ssize_t)sizeof(hdr))
            break;
        uint32_t len = (uint32_t)get_le(hdr + 4, 4);
        uint64_t seq = get_le(hdr + 8, 8);
        char topic = (char)hdr[20];
        if (get_le(hdr, 4) != OSP_SPOOL_MAGIC || (topic != 'm' && topic != 'l'))
            break;
        osp_buf_reset(&tmp);
        osp_buf_reserve(&tmp, len);
        if (pread(sg->fd, tmp.data, len, (off_t)(off + OSP_SPOOL_REC_HDR)) != (ssize_t)len)
            break;
        if (rec_check(tmp.data, len, seq) != (uint32_t)get_le(hdr + 16, 4))
            break;
        if (seq > sp->max_seq) {
            osp_spool_entry *e = osp_calloc(1, sizeof(*e));
            e->seq = seq;
            e->len = len;
            e->topic = topic;
            e->seg = sg;
            e->off = off + OSP_SPOOL_REC_HDR;
            sg->live++;
            sp->entries++;
            sp->bytes += len;
            sp->max_seq = seq;
            index_append(sp, e);
        }
        off += OSP_SPOOL_REC_HDR + len;
    }
    osp_buf_fini(&tmp);
    if (ftruncate(sg->fd, (off_t)off) != 0) /* cut a torn tail */
        sp->file_errors++;
    sg->size = off;
    sp->file_bytes += off;
    if (sg->live == 0)
        seg_delete(sp, sg);
}

static int
load_dir(osp_spool *sp, osp_errinfo *ei)
{
    DIR *d = opendir(sp->dir);
    if (d == NULL)
        return osp_errinfo_set(ei, OSP_EIO, 0, 0, "spool dir %s: %s", sp->dir, strerror(errno));
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t id;
        char tail[8];
        if (sscanf(de->d_name, "spool-%16" SCNx64 ".%4s", &id, tail) != 2 ||
            strcmp(tail, "dat") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            ids = osp_reallocarray(ids, cap, sizeof(*ids));
        }
        ids[n++] = id;
    }
    closedir(d);
    if (n > 1)
        osp_qsort(ids, n, sizeof(*ids), cmp_u64);
    for (size_t i = 0; i < n; i++) {
        load_segment(sp, ids[i]);
        sp->next_seg_id = ids[i] + 1;
    }
    osp_free(ids);
    return 0;
}

/* ---- public (internal) API ---- */

int
osp_spool_new(const osp_spool_opts *opts, osp_spool **out, osp_errinfo *ei)
{
    if (opts->max_bytes == 0)
        return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "spool: max_bytes must be > 0");
    osp_spool *sp = osp_calloc(1, sizeof(*sp));
    sp->max_bytes = opts->max_bytes;
    sp->mem_limit = opts->dir ? opts->mem_bytes : opts->max_bytes;
    sp->seg_bytes = opts->seg_bytes;
    if (sp->seg_bytes == 0) {
        sp->seg_bytes = opts->max_bytes / 8;
        if (sp->seg_bytes < 64 * 1024)
            sp->seg_bytes = 64 * 1024;
        if (sp->seg_bytes > 64 * 1024 * 1024)
            sp->seg_bytes = 64 * 1024 * 1024;
    }
    if (opts->dir) {
        sp->dir = osp_strdup(opts->dir);
        if (mkdir(sp->dir, 0700) != 0 && errno != EEXIST) {
            int rc =
                osp_errinfo_set(ei, OSP_EIO, 0, 0, "spool dir %s: %s", sp->dir, strerror(errno));
            osp_spool_free(sp);
            return rc;
        }
        int rc = load_dir(sp, ei);
        if (rc != 0) {
            osp_spool_free(sp);
            return rc;
        }
    }
    *out = sp;
    return 0;
}

void
osp_spool_free(osp_spool *sp)
{
    if (sp == NULL)
        return;
    for (size_t i = sp->head; i < sp->tail; i++) {
        osp_spool_entry *e = sp->slots[i].e;
        if (e) {
            osp_free(e->data);
            osp_free(e);
        }
    }
    osp_free(sp->slots);
    while (sp->segs) {
        osp_spool_seg *sg = sp->segs;
        sp->segs = sg->next;
        close(sg->fd);
        osp_free(sg);
    }
    osp_free(sp->dir);
    osp_free(sp);
}

static void
drop_oldest(osp_spool *sp, osp_spool_drop *dropped)
{
    slot *s = &sp->slots[sp->head]; /* head is never a hole while entries > 0 */
    if (dropped) {
        dropped->entries++;
        dropped->bytes += s->e->len;
    }
    entry_forget(sp, s);
}

/* spill: append the record to the current segment; 0 or OSP_EIO */
static int
spill(osp_spool *sp, osp_spool_entry *e, const void *buf)
{
    if (sp->cur && sp->cur->size >= sp->seg_bytes)
        sp->cur = NULL;
    if (sp->cur == NULL) {
        sp->cur = seg_open(sp, sp->next_seg_id++, O_RDWR | O_CREAT | O_TRUNC);
        if (sp->cur == NULL)
            return OSP_EIO;
    }
    osp_spool_seg *sg = sp->cur;
    unsigned char hdr[OSP_SPOOL_REC_HDR] = {0};
    put_le(hdr, OSP_SPOOL_MAGIC, 4);
    put_le(hdr + 4, e->len, 4);
    put_le(hdr + 8, e->seq, 8);
    put_le(hdr + 16, rec_check(buf, e->len, e->seq), 4);
    hdr[20] = (unsigned char)e->topic;
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)(uintptr_t)buf, e->len}};
    ssize_t want = (ssize_t)(sizeof(hdr) + e->len);
    ssize_t w = pwritev(sg->fd, iov, 2, (off_t)sg->size);
    if (w != want) {
        /* cut a partial record now (load would cut it too) and start a fresh
         * segment next time */
        if (ftruncate(sg->fd, (off_t)sg->size) != 0)
            sp->file_errors++;
        sp->cur = NULL;
        if (sg->live == 0)
            seg_delete(sp, sg);
        return OSP_EIO;
    }
    e->seg = sg;
    e->off = sg->size + OSP_SPOOL_REC_HDR;
    sg->size += (uint64_t)want;
    sg->live++;
    sp->file_bytes += (uint64_t)want;
    return 0;
}

int
osp_spool_add(osp_spool *sp, uint64_t seq, char topic, const void *buf, size_t len,
              osp_spool_drop *dropped, osp_spool_entry **out_entry)
{
    if (len > sp->max_bytes || len > UINT32_MAX)
        return OSP_ELIMIT;
    if (seq <= sp->max_seq)
        return OSP_EINVAL;
    bool to_file;
    for (;;) {
        to_file = sp->dir != NULL && sp->mem_bytes + len > sp->mem_limit;
        size_t need = len + (to_file ? OSP_SPOOL_REC_HDR : 0);
        if (sp->mem_bytes + sp->file_bytes + need <= sp->max_bytes)
            break;
        if (sp->entries == 0) {
            if (sp->mem_bytes + sp->file_bytes + len <= sp->max_bytes) {
                to_file = false; /* fits in memory only without the record header */
                break;
            }
            return OSP_ELIMIT;
        }
        drop_oldest(sp, dropped);
    }
    osp_spool_entry *e = osp_calloc(1, sizeof(*e));
    e->seq = seq;
    e->len = (uint32_t)len;
    e->topic = topic;
    if (!to_file || spill(sp, e, buf) != 0) {
        if (to_file)
            sp->file_errors++; /* keep it in memory beyond mem_limit rather than lose it */
        e->data = osp_malloc(len ? len : 1);
        memcpy(e->data, buf, len);
        sp->mem_bytes += len;
    }
    sp->entries++;
    sp->bytes += len;
    sp->max_seq = seq;
    index_append(sp, e);
    if (out_entry)
        *out_entry = e;
    return 0;
}

osp_spool_entry *
osp_spool_find(osp_spool *sp, uint64_t seq)
{
    slot *s = index_find(sp, seq);
    return s ? s->e : NULL;
}

int
osp_spool_remove(osp_spool *sp, uint64_t seq)
{
    slot *s = index_find(sp, seq);
    if (s == NULL)
        return OSP_ENOTFOUND;
    entry_forget(sp, s);
    return 0;
}

int
osp_spool_payload(osp_spool *sp, const osp_spool_entry *e, osp_buf *scratch, const void **p)
{
    if (e->data) {
        *p = e->data;
        return 0;
    }
    osp_buf_reset(scratch);
    osp_buf_reserve(scratch, e->len);
    if (pread(e->seg->fd, scratch->data, e->len, (off_t)e->off) != (ssize_t)e->len) {
        sp->file_errors++;
        return OSP_EIO;
    }
    scratch->len = e->len;
    scratch->data[e->len] = '\0';
    *p = scratch->data;
    return 0;
}

size_t
osp_spool_span(const osp_spool *sp)
{
    return sp->tail - sp->head;
}

osp_spool_entry *
osp_spool_slot(osp_spool *sp, size_t i)
{
    return sp->slots[sp->head + i].e;
}

uint64_t
osp_spool_max_seq(const osp_spool *sp)
{
    return sp->max_seq;
}

void
osp_spool_stats_get(const osp_spool *sp, osp_spool_stats *out)
{
    out->entries = sp->entries;
    out->bytes = sp->bytes;
    out->mem_bytes = sp->mem_bytes;
    out->file_bytes = sp->file_bytes;
    out->segments = sp->nsegs;
    out->file_errors = sp->file_errors;
}
