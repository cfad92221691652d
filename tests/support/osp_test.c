/* osp_test.c - helpers for C unit tests (see osp_test.h). */
#include "osp_test.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

char *
osp_test_tmpdir(const char *prefix)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/%s-XXXXXX", base ? base : "/tmp", prefix ? prefix : "osp");
    if (mkdtemp(tmpl) == NULL)
        return NULL;
    return strdup(tmpl);
}

static int
rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

void
osp_test_rmtree(const char *path)
{
    if (path != NULL)
        nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

char *
osp_test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = (size_t)n;
    return buf;
}

char *
osp_test_path(const char *rel)
{
    char out[4096];
    if (strncmp(rel, "shared/", 7) == 0) {
        const char *sd = getenv("OSP_SHARED_DIR");
        snprintf(out, sizeof(out), "%s/%s", sd ? sd : "../shared", rel + 7);
    } else {
        const char *sd = getenv("OSP_SOURCE_DIR");
        snprintf(out, sizeof(out), "%s/%s", sd ? sd : ".", rel);
    }
    return strdup(out);
}

/* The directory of osp_test_write(NULL, ...): one a process, removed at exit. */
static char *scratch;

static void
scratch_remove(void)
{
    osp_test_rmtree(scratch);
    free(scratch);
    scratch = NULL;
}

char *
osp_test_write(const char *dir, const char *name, const char *text)
{
    if (dir == NULL && scratch == NULL) {
        if ((scratch = osp_test_tmpdir("osptest")) == NULL)
            return NULL;
        atexit(scratch_remove);
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : scratch, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return NULL;
    fputs(text, f);
    fclose(f);
    return strdup(path);
}

int
osp_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t l = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int port = ntohs(a.sin_port);
    close(fd);
    return port;
}
