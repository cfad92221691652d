/* fleet - a synthetic fleet of scrape targets for the benchmarks: N HTTP servers on 127.0.0.1, each
 * serving /metrics with S series in text format 0.0.4 whose values change on every request.
 * Pages are rendered from precomputed line prefixes, so the fleet costs little CPU. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

/* How a series' value evolves with the request number n of its target. */
enum kind { K_COUNTER, K_GAUGE, K_BUCKET, K_HSUM, K_HCOUNT };

struct series {
    uint32_t prefix_off; /* into the target's prefixes: optional HELP/TYPE lines, "name{...} " */
    uint32_t prefix_len;
    uint8_t kind;
    uint8_t step;  /* counters: increment per request; buckets: bucket index + 1 */
    uint16_t seed; /* gauges: phase */
};

struct target {
    int index;
    unsigned port;
    uint64_t requests;
    char *prefixes; /* every line's fixed part, concatenated */
    size_t prefixes_len;
    struct series *series;
    size_t nseries;
    char *page; /* scratch for rendering, prefixes_len + nseries * 24 bytes */
    struct evhttp *http;
};

static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
static const char *const codes[] = {"200", "201", "204", "400", "404", "500"};
static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])
/* Series of one histogram child: the buckets, +Inf, _sum and _count. */
#define HIST_SERIES (NBUCKETS + 3)

struct strbuf {
    char *p;
    size_t len, cap;
};

static void
die(const char *msg)
{
    fprintf(stderr, "fleet: %s\n", msg);
    exit(2);
}

static void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct strbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            die("vsnprintf failed");
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)n + 1;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            die("out of memory");
    }
}

/* Appends one series line's fixed part; the HELP/TYPE header, if any, was appended just before
 * and belongs to the same prefix (hdr_start marks where it began). */
static void
add_series(struct target *t, struct strbuf *b, size_t hdr_start, enum kind kind, unsigned step,
           unsigned seed)
{
    struct series *s = &t->series[t->nseries++];
    s->prefix_off = (uint32_t)hdr_start;
    s->prefix_len = (uint32_t)(b->len - hdr_start);
    s->kind = (uint8_t)kind;
    s->step = (uint8_t)step;
    s->seed = (uint16_t)seed;
}

/* Builds the target's series: one histogram family (10% of the series, at most 40 children),
 * gauges (20%), the rest counters with method/code/handler labels, in families of 100. */
static void
target_build(struct target *t, size_t nseries)
{
    struct strbuf b = {0};
    t->series = calloc(nseries + HIST_SERIES, sizeof *t->series);
    if (!t->series)
        die("out of memory");

    size_t hist_children = nseries / 10 / HIST_SERIES;
    if (hist_children > 40)
        hist_children = 40;
    size_t ngauges = nseries / 5;
    size_t ncounters = nseries - hist_children * HIST_SERIES - ngauges;

    for (size_t i = 0; i < ncounters; i++) {
        size_t fam = i / 100, start = b.len;
        if (i % 100 == 0)
            sb_printf(&b,
                      "# HELP bench_requests_%zu_total Requests handled by component %zu.\n"
                      "# TYPE bench_requests_%zu_total counter\n",
                      fam, fam, fam);
        sb_printf(&b,
                  "bench_requests_%zu_total{method=\"%s\",code=\"%s\",handler=\"/api/v1/h%zu\"} ",
                  fam, methods[i % 4], codes[(i / 4) % 6], i / 24);
        add_series(t, &b, start, K_COUNTER, 1 + (unsigned)(i % 7), 0);
    }
    for (size_t i = 0; i < ngauges; i++) {
        size_t fam = i / 50, start = b.len;
        if (i % 50 == 0)
            sb_printf(&b,
                      "# HELP bench_queue_depth_%zu Items waiting in queue group %zu.\n"
                      "# TYPE bench_queue_depth_%zu gauge\n",
                      fam, fam, fam);
        sb_printf(&b, "bench_queue_depth_%zu{queue=\"q%zu\",shard=\"%zu\"} ", fam, i % 50, i % 3);
        add_series(t, &b, start, K_GAUGE, 0, (unsigned)(i * 7919 % 1000));
    }
    for (size_t c = 0; c < hist_children; c++) {
        size_t start = b.len;
        if (c == 0)
            sb_printf(&b, "# HELP bench_request_duration_seconds Request latency.\n"
                          "# TYPE bench_request_duration_seconds histogram\n");
        char lbl[64];
        snprintf(lbl, sizeof lbl, "method=\"%s\",handler=\"/api/v1/h%zu\"", methods[c % 4], c);
        for (size_t k = 0; k < NBUCKETS; k++) {
            sb_printf(&b, "bench_request_duration_seconds_bucket{%s,le=\"%g\"} ", lbl, buckets[k]);
            add_series(t, &b, start, K_BUCKET, (unsigned)k + 1, 0);
            start = b.len;
        }
        sb_printf(&b, "bench_request_duration_seconds_bucket{%s,le=\"+Inf\"} ", lbl);
        add_series(t, &b, start, K_BUCKET, NBUCKETS + 1, 0);
        start = b.len;
        sb_printf(&b, "bench_request_duration_seconds_sum{%s} ", lbl);
        add_series(t, &b, start, K_HSUM, 0, 0);
        start = b.len;
        sb_printf(&b, "bench_request_duration_seconds_count{%s} ", lbl);
        add_series(t, &b, start, K_HCOUNT, NBUCKETS + 1, 0);
    }
    t->prefixes = b.p;
    t->prefixes_len = b.len;
    t->page = malloc(b.len + t->nseries * 24 + 1);
    if (!t->page)
        die("out of memory");
}

/* Writes v in decimal at p; returns the number of bytes written. */
static size_t
put_u64(char *p, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

/* Renders the page for request n: every value is a function of n, counters rise with it. */
static size_t
target_render(struct target *t, uint64_t n)
{
    char *p = t->page;
    for (size_t i = 0; i < t->nseries; i++) {
        const struct series *s = &t->series[i];
        memcpy(p, t->prefixes + s->prefix_off, s->prefix_len);
        p += s->prefix_len;
        switch (s->kind) {
        case K_COUNTER: p += put_u64(p, 1000 + n * s->step); break;
        case K_GAUGE: /* a bounded value that moves every request, with two decimals */
            p += put_u64(p, (s->seed + n * 37) % 5000);
            *p++ = '.';
            p += put_u64(p, 10 + (n + s->seed) % 90);
            break;
        case K_BUCKET:
        case K_HCOUNT: /* cumulative: bucket k holds k+1 new observations per request */
            p += put_u64(p, n * s->step);
            break;
        case K_HSUM:
            p += put_u64(p, n * 3);
            *p++ = '.';
            p += put_u64(p, 10 + n % 90);
            break;
        }
        *p++ = '\n';
    }
    return (size_t)(p - t->page);
}

static void
on_metrics(struct evhttp_request *req, void *arg)
{
    struct target *t = arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_send_error(req, 405, NULL);
        return;
    }
    size_t len = target_render(t, ++t->requests);
    struct evbuffer *out = evbuffer_new();
    if (!out || evbuffer_add(out, t->page, len) != 0) {
        evbuffer_free(out);
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

static void
usage(void)
{
    fprintf(stderr, "usage: fleet [--targets N] [--series S] [--port-base P]\n"
                    "Serves N targets on 127.0.0.1 (ports P..P+N-1, or free ports when P is 0),\n"
                    "each with S series on /metrics; prints one address per line, then READY.\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    long ntargets = 20, nseries = 2500, port_base = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        char *end;
        errno = 0;
        long v = strtol(argv[++i], &end, 10);
        if (errno || *end || v < 0)
            usage();
        if (!strcmp(a, "--targets"))
            ntargets = v;
        else if (!strcmp(a, "--series"))
            nseries = v;
        else if (!strcmp(a, "--port-base"))
            port_base = v;
        else
            usage();
    }
    if (ntargets < 1 || ntargets > 10000 || nseries < 1 || nseries > 10000000 ||
        port_base + ntargets > 65536)
        usage();

    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    if (!base)
        die("event_base_new failed");
    struct target *targets = calloc((size_t)ntargets, sizeof *targets);
    if (!targets)
        die("out of memory");

    for (long i = 0; i < ntargets; i++) {
        struct target *t = &targets[i];
        t->index = (int)i;
        target_build(t, (size_t)nseries);
        t->http = evhttp_new(base);
        if (!t->http)
            die("evhttp_new failed");
        evhttp_set_cb(t->http, "/metrics", on_metrics, t);
        struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(
            t->http, "127.0.0.1", (ev_uint16_t)(port_base ? port_base + i : 0));
        if (!bs)
            die("cannot bind a port on 127.0.0.1");
        struct sockaddr_in sa;
        socklen_t sl = sizeof sa;
        if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl) != 0)
            die("getsockname failed");
        t->port = ntohs(sa.sin_port);
        printf("127.0.0.1:%u\n", t->port);
    }
    printf("READY %ld targets x %zu series, %zu bytes per page\n", ntargets, targets[0].nseries,
           target_render(&targets[0], 0));
    fflush(stdout);

    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    if (!sigterm || !sigint || evsignal_add(sigterm, NULL) || evsignal_add(sigint, NULL))
        die("cannot install signal handlers");
    event_base_dispatch(base);

    uint64_t total = 0;
    for (long i = 0; i < ntargets; i++) {
        total += targets[i].requests;
        evhttp_free(targets[i].http);
        free(targets[i].prefixes);
        free(targets[i].series);
        free(targets[i].page);
    }
    fprintf(stderr, "fleet: served %llu pages\n", (unsigned long long)total);
    free(targets);
    event_free(sigterm);
    event_free(sigint);
    event_base_free(base);
    return 0;
}
