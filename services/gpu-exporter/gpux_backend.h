/* gpux_backend.h - what the vendor backends (NVML, amdgpu sysfs) share: the
 * per-cycle outcome they report and the small file readers under a root. */
#ifndef GPUX_BACKEND_H
#define GPUX_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Outcome of one backend's collection. */
typedef struct gpux_backend_stats {
    bool available;  /* driver/library present and initialised */
    unsigned gpus;   /* GPUs known (lost ones included) */
    unsigned errors; /* failed reads this cycle ("not supported" is not a failure) */
    unsigned lost;   /* GPUs that did not answer this cycle */
} gpux_backend_stats;

/* Result of gpux_read_file. */
typedef enum gpux_read {
    GPUX_READ_OK = 0,
    GPUX_READ_ABSENT, /* ENOENT, EINVAL, EOPNOTSUPP, ENODATA: not supported here */
    GPUX_READ_ERROR,  /* any other failure (EIO, EACCES, EISDIR...); errno kept */
} gpux_read;

/* gpux_read_file: read at most cap-1 bytes of path into buf (NUL-terminated,
 * trailing whitespace cut). Never blocks on anything but the file system.
 * Any thread. */
gpux_read gpux_read_file(const char *path, char *buf, size_t cap);

/* gpux_read_u64: gpux_read_file + a decimal or 0x-hex integer (surrounding
 * space allowed). Unparseable content is GPUX_READ_ERROR (errno EBADMSG). */
gpux_read gpux_read_u64(const char *path, uint64_t *out);

/* gpux_read_i64: like gpux_read_u64 for a signed decimal. */
gpux_read gpux_read_i64(const char *path, int64_t *out);

#endif
