/* gpux_read.c - small sysfs/procfs file readers that tell "absent or not
 * supported" from a real failure, as the exporter reports only the latter. */
#include "gpux_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gpux_read
classify(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case EINVAL:
    case EOPNOTSUPP:
    case ENODATA: return GPUX_READ_ABSENT;
    default: return GPUX_READ_ERROR;
    }
}

gpux_read
gpux_read_file(const char *path, char *buf, size_t cap)
{
    if (cap == 0)
        return GPUX_READ_ERROR;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return classify(errno);
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            errno = e;
            return classify(e);
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ' || buf[len - 1] == '\t' ||
                       buf[len - 1] == '\r' || buf[len - 1] == '\0'))
        len--;
    buf[len] = 0;
    return GPUX_READ_OK;
}

gpux_read
gpux_read_u64(const char *path, uint64_t *out)
{
    char buf[64];
    gpux_read r = gpux_read_file(path, buf, sizeof(buf));
    if (r != GPUX_READ_OK)
        return r;
    const char *p = buf;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p < '0' || *p > '9') {
        errno = EBADMSG;
        return GPUX_READ_ERROR;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 0);
    if (errno || *end) {
        errno = EBADMSG;
        return GPUX_READ_ERROR;
    }
    *out = v;
    return GPUX_READ_OK;
}

gpux_read
gpux_read_i64(const char *path, int64_t *out)
{
    char buf[64];
    gpux_read r = gpux_read_file(path, buf, sizeof(buf));
    if (r != GPUX_READ_OK)
        return r;
    const char *p = buf;
    while (*p == ' ' || *p == '\t')
        p++;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno || end == p || *end) {
        errno = EBADMSG;
        return GPUX_READ_ERROR;
    }
    *out = v;
    return GPUX_READ_OK;
}
