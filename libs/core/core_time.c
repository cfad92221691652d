/* core_time.c - clocks, Prometheus durations, API time parsing and RFC3339. */
#include "osp_time.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "osp_err.h"

int64_t
osp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
osp_timespec_add_ms(struct timespec *ts, int64_t ms)
{
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int64_t
osp_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void
osp_sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static const struct {
    const char *unit;
    int64_t ms;
} units[] = {
    {"y", 365LL * 24 * 3600 * 1000},
    {"w", 7LL * 24 * 3600 * 1000},
    {"d", 24LL * 3600 * 1000},
    {"h", 3600LL * 1000},
    {"m", 60LL * 1000},
    {"s", 1000},
    {"ms", 1},
};

int
osp_parse_duration(osp_str s, int64_t *ms)
{
    if (s.n == 0)
        return OSP_EPARSE;
    if (s.n == 1 && s.p[0] == '0') {
        *ms = 0;
        return 0;
    }
    size_t i = 0;
    int64_t total = 0;
    int last_unit = -1;
    while (i < s.n) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return OSP_EPARSE;
        int64_t num = 0;
        while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9') {
            if (num > INT64_MAX / 10)
                return OSP_EPARSE;
            num = num * 10 + (s.p[i] - '0');
            i++;
        }
        int u = -1;
        /* "ms" must be tried before "m" */
        if (i + 1 < s.n && s.p[i] == 'm' && s.p[i + 1] == 's')
            u = 6;
        else if (i < s.n) {
            for (int k = 0; k < 6; k++)
                if (s.p[i] == units[k].unit[0])
                    u = k;
        }
        if (u < 0 || u <= last_unit)
            return OSP_EPARSE;
        i += strlen(units[u].unit);
        if (num > INT64_MAX / units[u].ms || total > INT64_MAX - num * units[u].ms)
            return OSP_EPARSE;
        total += num * units[u].ms;
        last_unit = u;
    }
    *ms = total;
    return 0;
}

void
osp_format_duration(int64_t ms, char *out, size_t outsz)
{
    if (ms == 0) {
        snprintf(out, outsz, "0s");
        return;
    }
    size_t off = 0;
    out[0] = '\0';
    if (ms < 0) {
        off += (size_t)snprintf(out, outsz, "-");
        ms = -ms;
    }
    for (size_t k = 0; k < sizeof(units) / sizeof(units[0]) && off < outsz; k++) {
        if (ms >= units[k].ms) {
            int64_t q = ms / units[k].ms;
            ms -= q * units[k].ms;
            off += (size_t)snprintf(out + off, outsz - off, "%lld%s", (long long)q, units[k].unit);
        }
    }
}

static int
parse_digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

/* days_from_civil: days since 1970-01-01 (Howard Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int
parse_rfc3339(const char *p, size_t n, int64_t *ms)
{
    int Y, M, D, h, mi, s;
    if (n < 20 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't') || p[13] != ':' ||
        p[16] != ':')
        return OSP_EPARSE;
    if (parse_digits(p, 4, &Y) || parse_digits(p + 5, 2, &M) || parse_digits(p + 8, 2, &D) ||
        parse_digits(p + 11, 2, &h) || parse_digits(p + 14, 2, &mi) || parse_digits(p + 17, 2, &s))
        return OSP_EPARSE;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || s > 60)
        return OSP_EPARSE;
    size_t i = 19;
    int64_t frac_ms = 0;
    if (i < n && p[i] == '.') {
        i++;
        int digits = 0;
        int64_t scale = 100;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            if (digits < 3) {
                frac_ms += (p[i] - '0') * scale;
                scale /= 10;
            }
            digits++;
            i++;
        }
        if (digits == 0)
            return OSP_EPARSE;
    }
    int64_t off_s = 0;
    if (i < n && (p[i] == 'Z' || p[i] == 'z')) {
        i++;
    } else if (i + 6 == n && (p[i] == '+' || p[i] == '-') && p[i + 3] == ':') {
        int oh, om;
        if (parse_digits(p + i + 1, 2, &oh) || parse_digits(p + i + 4, 2, &om))
            return OSP_EPARSE;
        off_s = (oh * 3600 + om * 60) * (p[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return OSP_EPARSE;
    }
    if (i != n)
        return OSP_EPARSE;
    int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + s - off_s;
    *ms = secs * 1000 + frac_ms;
    return 0;
}

int
osp_parse_api_time(osp_str s, int64_t *ms)
{
    double v;
    if (osp_parse_double(s, &v) == 0) {
        if (!isfinite(v) || fabs(v) > 9.2e15)
            return OSP_EPARSE;
        *ms = (int64_t)llround(v * 1000.0);
        return 0;
    }
    return parse_rfc3339(s.p, s.n, ms);
}

void
osp_format_rfc3339(int64_t ms, char *out, size_t outsz)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int msec = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, msec);
}
