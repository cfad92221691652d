/* coll_target.h - scrape targets from target groups with Prometheus semantics:
 * __address__, __scheme__, __metrics_path__, __param_NAME, __scrape_interval__,
 * __scrape_timeout__ labels, relabel_configs, instance default, URL, identity and
 * scrape offset; and the merge of scraped labels with target labels. */
#ifndef COLL_TARGET_H
#define COLL_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coll_config.h"
#include "osp_labels.h"

/* One target to scrape. Owned strings; job is borrowed from a coll_config that
 * the holder keeps referenced. */
typedef struct coll_tdef {
    osp_labels labels; /* final target labels, sorted, none starting with "__" */
    char *url;
    int64_t interval_ms;
    int64_t timeout_ms;
    uint64_t key; /* identity: job name, labels and URL */
    const coll_job *job;
} coll_tdef;

void coll_tdef_fini(coll_tdef *t);

/* A list of targets. */
typedef struct coll_tset {
    coll_tdef *v;
    size_t n;
    size_t cap;
} coll_tset;

void coll_tset_fini(coll_tset *s);

/* coll_target_build: compute the target for address addr of group g (g may
 * be NULL: no group labels) in job. *dropped is set when relabeling dropped it
 * or __address__ ended up empty (out untouched then). Errors: OSP_EINVAL when
 * __scrape_interval__/__scrape_timeout__ became unparsable or timeout >
 * interval (ei->msg says which target). out is written only on success and
 * not dropped. Any thread. */
int coll_target_build(const coll_job *job, const coll_tgroup *g, const char *addr, coll_tdef *out,
                      bool *dropped, osp_errinfo *ei);

/* coll_tset_add_groups: coll_target_build every target of groups[0..n) into
 * set, skipping dropped targets and duplicates (same key); a target with an
 * error is logged and skipped. */
void coll_tset_add_groups(coll_tset *set, const coll_job *job, const coll_tgroup *groups, size_t n);

/* coll_target_offset: the fixed offset in [0, interval) at which the target
 * with this key is scraped inside each interval (spread like Prometheus). */
int64_t coll_target_offset(uint64_t key, int64_t interval_ms);

/* coll_labels_merge_target: merge target labels tl (sorted) into scraped labels
 * ls (which hold __name__ and the exposition's labels). honor_labels=false: a
 * scraped label that clashes with a target label is renamed exported_<name>
 * (exported_exported_<name> ... while that exists too) and the target value
 * wins; honor_labels=true: scraped values win, missing target labels are
 * added. Empty values are removed. ls is left unsorted. */
void coll_labels_merge_target(osp_labels *ls, const osp_labels *tl, bool honor_labels);

#endif
