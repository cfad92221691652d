/* coll_sd.c - file_sd state: one entry per (job, file) with the last good
 * groups, the file's mtime/size and when it was last read. */
#include "coll_sd.h"

#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "osp_mem.h"

typedef struct sd_file {
    char *job;
    char *path;
    int64_t mtime_ns;
    int64_t size;
    int64_t loaded_ms;
    bool seen;
    coll_tgroup *groups;
    size_t ngroups;
} sd_file;

struct coll_sd {
    sd_file *v;
    size_t n, cap;
};

coll_sd *
coll_sd_new(void)
{
    return osp_calloc(1, sizeof(coll_sd));
}

static void
groups_free(coll_tgroup *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        coll_tgroup_fini(&g[i]);
    osp_free(g);
}

static void
file_fini(sd_file *f)
{
    osp_free(f->job);
    osp_free(f->path);
    groups_free(f->groups, f->ngroups);
}

void
coll_sd_free(coll_sd *sd)
{
    if (!sd)
        return;
    for (size_t i = 0; i < sd->n; i++)
        file_fini(&sd->v[i]);
    osp_free(sd->v);
    osp_free(sd);
}

static bool
has_sd_ext(const char *p)
{
    const char *dot = strrchr(p, '.');
    return dot &&
           (strcmp(dot, ".json") == 0 || strcmp(dot, ".yml") == 0 || strcmp(dot, ".yaml") == 0);
}

int
coll_sd_load_file(const char *path, coll_tgroup **out, size_t *n, osp_errinfo *ei)
{
    osp_yaml_doc *doc = NULL;
    int rc = osp_yaml_load_file(path, &doc, ei);
    if (rc)
        return rc;
    coll_tgroup *g = NULL;
    size_t ng = 0;
    const osp_yaml_node *root = osp_yaml_root(doc);
    if (root->type == OSP_YAML_NULL) {
        *out = NULL;
        *n = 0;
    } else if ((rc = coll_tgroups_parse(root, path, &g, &ng, ei)) == 0) {
        for (size_t i = 0; i < ng; i++)
            osp_labels_set(&g[i].labels, "__meta_filepath", path);
        *out = g;
        *n = ng;
    }
    osp_yaml_free(doc);
    return rc;
}

static sd_file *
find(coll_sd *sd, const char *job, const char *path)
{
    for (size_t i = 0; i < sd->n; i++)
        if (strcmp(sd->v[i].job, job) == 0 && strcmp(sd->v[i].path, path) == 0)
            return &sd->v[i];
    if (sd->n == sd->cap) {
        sd->cap = sd->cap ? sd->cap * 2 : 8;
        sd->v = osp_reallocarray(sd->v, sd->cap, sizeof(*sd->v));
    }
    sd_file *f = &sd->v[sd->n++];
    memset(f, 0, sizeof(*f));
    f->job = osp_strdup(job);
    f->path = osp_strdup(path);
    f->mtime_ns = -1;
    return f;
}

static bool
check_file(sd_file *f, const coll_job *job, int64_t now_ms, bool force)
{
    struct stat st;
    f->seen = true;
    if (stat(f->path, &st) != 0)
        return false;
    int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    bool due = force || mt != f->mtime_ns || (int64_t)st.st_size != f->size ||
               now_ms - f->loaded_ms >= job->sd_refresh_ms;
    if (!due)
        return false;
    f->mtime_ns = mt;
    f->size = (int64_t)st.st_size;
    f->loaded_ms = now_ms;
    coll_tgroup *g = NULL;
    size_t ng = 0;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    if (coll_sd_load_file(f->path, &g, &ng, &ei) != 0) {
        char msg[1024];
        osp_errinfo_format(&ei, msg, sizeof(msg));
        osp_log(OSP_LOG_ERROR, "file_sd", "cannot load file_sd file; keeping its previous targets",
                "job", job->name, "file", f->path, "error", msg, NULL);
        return false;
    }
    groups_free(f->groups, f->ngroups);
    f->groups = g;
    f->ngroups = ng;
    return true;
}

bool
coll_sd_refresh(coll_sd *sd, const coll_config *cfg, int64_t now_ms, bool force)
{
    bool changed = false;
    for (size_t i = 0; i < sd->n; i++)
        sd->v[i].seen = false;
    for (size_t j = 0; j < cfg->njobs; j++) {
        const coll_job *job = &cfg->jobs[j];
        for (size_t p = 0; p < job->nsd_files; p++) {
            glob_t gl;
            memset(&gl, 0, sizeof(gl));
            if (glob(job->sd_files[p], 0, NULL, &gl) == 0) {
                for (size_t k = 0; k < gl.gl_pathc; k++) {
                    if (!has_sd_ext(gl.gl_pathv[k]))
                        continue;
                    sd_file *f = find(sd, job->name, gl.gl_pathv[k]);
                    changed |= check_file(f, job, now_ms, force);
                }
            }
            globfree(&gl);
        }
    }
    for (size_t i = 0; i < sd->n;) {
        if (sd->v[i].seen) {
            i++;
            continue;
        }
        changed = true;
        file_fini(&sd->v[i]);
        sd->v[i] = sd->v[--sd->n];
    }
    return changed;
}

void
coll_sd_add_targets(const coll_sd *sd, const coll_job *job, coll_tset *set)
{
    for (size_t i = 0; i < sd->n; i++)
        if (strcmp(sd->v[i].job, job->name) == 0)
            coll_tset_add_groups(set, job, sd->v[i].groups, sd->v[i].ngroups);
}
