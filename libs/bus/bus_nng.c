/* bus_nng.c - translation of nng errors and dial/listen helpers. */
#include "bus_int.h"

#include <string.h>
#include <time.h>

#include <nng/nng.h>

#include "osp_mem.h"

int
osp_bus_nng_err(int rv)
{
    switch (rv) {
    case 0: return 0;
    case NNG_ENOMEM: return OSP_ENOMEM;
    case NNG_EINVAL:
    case NNG_EADDRINVAL:
    case NNG_ENOTSUP: return OSP_EINVAL;
    case NNG_ETIMEDOUT: return OSP_ETIMEDOUT;
    case NNG_EAGAIN: return OSP_EAGAIN;
    case NNG_ECLOSED: return OSP_ECLOSED;
    case NNG_ECONNREFUSED:
    case NNG_ECONNRESET:
    case NNG_ECONNSHUT:
    case NNG_EUNREACHABLE: return OSP_EUNAVAIL;
    default: return OSP_EIO;
    }
}

int
osp_bus_dial_list(uint32_t sock_id, const char *list, const char *what, osp_errinfo *ei)
{
    nng_socket s = {.id = sock_id};
    char *copy = osp_strdup(list ? list : "");
    int rc = 0, n = 0;
    char *save = NULL;
    for (char *u = strtok_r(copy, ", ", &save); u != NULL; u = strtok_r(NULL, ", ", &save)) {
        int rv = nng_dial(s, u, NULL, NNG_FLAG_NONBLOCK);
        if (rv != 0) {
            rc = osp_errinfo_set(ei, osp_bus_nng_err(rv) == OSP_EIO ? OSP_EIO : OSP_EINVAL, 0, 0,
                                 "%s: dial %s: %s", what, u, nng_strerror(rv));
            break;
        }
        n++;
    }
    if (rc == 0 && n == 0)
        rc = osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "%s: no URL given", what);
    osp_free(copy);
    return rc;
}

int
osp_bus_listen(uint32_t sock_id, const char *url, const char *what, osp_errinfo *ei)
{
    nng_socket s = {.id = sock_id};
    if (url == NULL || url[0] == '\0')
        return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "%s: no URL given", what);
    int rv = nng_listen(s, url, NULL, 0);
    if (rv != 0) {
        int code =
            (rv == NNG_EADDRINVAL || rv == NNG_EINVAL || rv == NNG_ENOTSUP) ? OSP_EINVAL : OSP_EIO;
        return osp_errinfo_set(ei, code, 0, 0, "%s: listen %s: %s", what, url, nng_strerror(rv));
    }
    return 0;
}

int64_t
osp_bus_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#if defined(__SANITIZE_THREAD__)
/* libnng is not built with ThreadSanitizer: its message refcounts and task
 * queues synchronize through atomics TSan cannot see, so it reports frees of a
 * message shared by pipes (e.g. a pub socket's copies) as races. Only reports
 * with libnng frames are suppressed. Weak, so a binary can supply its own. */
const char *__tsan_default_suppressions(void);
__attribute__((weak)) const char *
__tsan_default_suppressions(void)
{
    return "race:libnng.so\n";
}
#endif
