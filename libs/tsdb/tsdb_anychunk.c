/* tsdb_anychunk.c - dispatch to the XOR or the dense chunk decoder by the first byte. */
#include "osp_anychunk.h"

bool
osp_anychunk_dense(const uint8_t *data, size_t len)
{
    return len > 0 && data[0] == OSP_DCHUNK_FORMAT_V1;
}

void
osp_anychunk_it_init(osp_anychunk_it *it, const uint8_t *data, size_t len)
{
    it->dense = osp_anychunk_dense(data, len);
    if (it->dense)
        osp_dchunk_it_init(&it->u.d, data, len);
    else
        osp_chunk_it_init(&it->u.x, data, len);
}

int
osp_anychunk_it_next(osp_anychunk_it *it, int64_t *t, double *v)
{
    return it->dense ? osp_dchunk_it_next(&it->u.d, t, v) : osp_chunk_it_next(&it->u.x, t, v);
}

int
osp_anychunk_count(const uint8_t *data, size_t len, size_t *n)
{
    return osp_anychunk_dense(data, len) ? osp_dchunk_count(data, len, n)
                                         : osp_chunk_count(data, len, n);
}

int
osp_anychunk_decode_range(const uint8_t *data, size_t len, int64_t mint, int64_t maxt, int64_t *ts,
                          double *vs, size_t cap, size_t *n)
{
    if (osp_anychunk_dense(data, len))
        return osp_dchunk_decode_range(data, len, mint, maxt, ts, vs, cap, n);
    return osp_chunk_decode_range(data, len, mint, maxt, ts, vs, cap, n);
}
