/* bus_nng.c - translation of nng errors and dial/listen helpers. */
#include "bus_int.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>

#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

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

int
osp_bus_recv_wait(uint32_t sock_id, void **out, int timeout_ms)
{
    nng_socket s = {.id = sock_id};
    int fd;
    int rv = nng_socket_get_int(s, NNG_OPT_RECVFD, &fd);
    if (rv != 0)
        return rv;
    int64_t deadline = timeout_ms < 0 ? -1 : osp_bus_mono_ms() + timeout_ms;
    for (;;) {
        nng_msg *m = NULL;
        rv = nng_recvmsg(s, &m, NNG_FLAG_NONBLOCK);
        if (rv != NNG_EAGAIN) {
            if (rv == 0)
                *out = m;
            return rv;
        }
        /* an unbounded wait still wakes every second, so a missed fd signal
         * costs at most that */
        int wait = 1000;
        if (deadline >= 0) {
            int64_t left = deadline - osp_bus_mono_ms();
            if (left <= 0)
                return NNG_ETIMEDOUT;
            if (left < wait)
                wait = (int)left;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        (void)poll(&pfd, 1, wait); /* EINTR and POLLNVAL (closed) end in the recv above */
    }
}

typedef struct closer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int refs; /* the waiter and the closing thread */
    uint32_t sock_id;
} closer;

static void
closer_unref(closer *c)
{
    pthread_mutex_lock(&c->mu);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (last) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        osp_free(c);
    }
}

static void *
close_thread(void *arg)
{
    closer *c = arg;
    nng_close((nng_socket){.id = c->sock_id});
    pthread_mutex_lock(&c->mu);
    c->done = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    closer_unref(c);
    return NULL;
}

void
osp_bus_close_timed(uint32_t sock_id, int timeout_ms)
{
    closer *c = osp_calloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    c->refs = 2;
    c->sock_id = sock_id;
    pthread_t t;
    if (pthread_create(&t, NULL, close_thread, c) != 0) {
        c->refs = 1;
        nng_close((nng_socket){.id = sock_id});
        closer_unref(c);
        return;
    }
    pthread_detach(t);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    osp_timespec_add_ms(&until, timeout_ms);
    pthread_mutex_lock(&c->mu);
    while (!c->done) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &until) != 0)
            break;
    }
    bool done = c->done;
    pthread_mutex_unlock(&c->mu);
    if (!done)
        osp_log(OSP_LOG_WARN, "bus", "an NNG socket did not close in time; shutdown goes on", NULL);
    closer_unref(c);
}
