/* coll_sd.h - file-based service discovery (file_sd_configs): JSON or YAML
 * target-group files found by glob, reread when their mtime or size changes
 * and at refresh_interval; a broken file keeps its previous targets. */
#ifndef COLL_SD_H
#define COLL_SD_H

#include <stdbool.h>
#include <stdint.h>

#include "coll_config.h"
#include "coll_target.h"

typedef struct coll_sd coll_sd;

/* coll_sd_new / coll_sd_free (NULL-safe). State is keyed by job name and
 * file path, so it survives config reloads. Loop thread only. */
coll_sd *coll_sd_new(void);
void coll_sd_free(coll_sd *sd);

/* coll_sd_refresh: expand the globs of every job of cfg, stat the files and
 * (re)load new or changed ones (and all of them when force). Files that are
 * gone or belong to no job any more are forgotten. Returns true when the set
 * of groups may have changed. Load failures are logged with file:line:col. */
bool coll_sd_refresh(coll_sd *sd, const coll_config *cfg, int64_t now_ms, bool force);

/* coll_sd_add_targets: add the targets of job's current file groups to set. */
void coll_sd_add_targets(const coll_sd *sd, const coll_job *job, coll_tset *set);

/* coll_sd_load_file: parse one file_sd file (a list of {targets, labels});
 * every group also gets __meta_filepath. out and n are written only on success. Errors:
 * OSP_EIO, OSP_EPARSE, OSP_EINVAL with position in ei. Any thread. */
int coll_sd_load_file(const char *path, coll_tgroup **out, size_t *n, osp_errinfo *ei);

#endif
