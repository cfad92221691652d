/* http_gzip.c - gzip for responses and bounded gunzip for request bodies
 * (a small compressed body must not expand into unbounded memory). */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "osp_mem.h"

int
osp_http_gunzip(const void *in, size_t len, size_t max_out, osp_buf *out, osp_errinfo *ei)
{
    z_stream zs = {0};
    /* 32+15: detect gzip or zlib header automatically. */
    if (inflateInit2(&zs, 32 + 15) != Z_OK)
        return osp_errinfo_set(ei, OSP_EINTERNAL, 0, 0, "inflateInit2 failed");
    size_t start = out->len;
    int rc = 0;
    zs.next_in = (Bytef *)in;
    size_t left = len;
    for (;;) {
        if (zs.avail_in == 0 && left > 0) {
            zs.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
            left -= zs.avail_in;
        }
        size_t produced = out->len - start;
        size_t room = max_out - produced;
        size_t chunk = room < 65536 ? room + 1 : 65536; /* +1 detects overflow */
        osp_buf_reserve(out, chunk);
        zs.next_out = (Bytef *)out->data + out->len;
        zs.avail_out = (uInt)chunk;
        int zr = inflate(&zs, Z_NO_FLUSH);
        out->len += chunk - zs.avail_out;
        out->data[out->len] = '\0';
        if (out->len - start > max_out) {
            rc = osp_errinfo_set(ei, OSP_ELIMIT, 0, 0, "decompressed body exceeds %zu bytes",
                                 max_out);
            break;
        }
        if (zr == Z_STREAM_END) {
            /* Concatenated gzip members are legal: continue with the next. */
            if (zs.avail_in == 0 && left == 0)
                break;
            if (inflateReset(&zs) != Z_OK) {
                rc = osp_errinfo_set(ei, OSP_EPARSE, 0, 0, "gzip: reset failed");
                break;
            }
            continue;
        }
        if (zr == Z_BUF_ERROR && zs.avail_in == 0 && left == 0) {
            rc = osp_errinfo_set(ei, OSP_EPARSE, 0, 0, "gzip: unexpected end of data");
            break;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc =
                osp_errinfo_set(ei, OSP_EPARSE, 0, 0, "gzip: %s", zs.msg ? zs.msg : "corrupt data");
            break;
        }
    }
    inflateEnd(&zs);
    if (rc != 0) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}

void
osp_http_gzip(const void *in, size_t len, osp_buf *out)
{
    z_stream zs = {0};
    /* 15+16: gzip wrapper; level 6 is zlib's default trade-off. */
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        fprintf(stderr, "osp_http_gzip: deflateInit2 failed\n");
        abort();
    }
    uLong bound = deflateBound(&zs, (uLong)len);
    osp_buf_reserve(out, bound);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out->data + out->len;
    zs.avail_out = (uInt)bound;
    int zr = deflate(&zs, Z_FINISH);
    if (zr != Z_STREAM_END) {
        fprintf(stderr, "osp_http_gzip: deflate failed (%d)\n", zr);
        abort();
    }
    out->len += bound - zs.avail_out;
    out->data[out->len] = '\0';
    deflateEnd(&zs);
}
