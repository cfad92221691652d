/* coll_relabel.h - Prometheus relabel_configs / metric_relabel_configs:
 * compiled rules (PCRE2, anchored like Prometheus) applied to a label set. */
#ifndef COLL_RELABEL_H
#define COLL_RELABEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "osp_err.h"
#include "osp_labels.h"

typedef enum coll_relabel_action {
    COLL_RL_REPLACE = 0,
    COLL_RL_KEEP,
    COLL_RL_DROP,
    COLL_RL_HASHMOD,
    COLL_RL_LABELMAP,
    COLL_RL_LABELDROP,
    COLL_RL_LABELKEEP,
    COLL_RL_LOWERCASE,
    COLL_RL_UPPERCASE,
    COLL_RL_KEEPEQUAL,
    COLL_RL_DROPEQUAL,
} coll_relabel_action;

/* One compiled rule. Strings owned; free with coll_relabel_fini. */
typedef struct coll_relabel {
    coll_relabel_action action;
    char **source_labels;
    size_t nsource;
    char *separator; /* default ";" */
    char *regex;     /* as written; default "(.*)" */
    void *re;        /* pcre2_code of ^(?s:regex)$ */
    uint64_t modulus;
    char *target_label;
    char *replacement; /* default "$1" */
} coll_relabel;

/* coll_relabel_parse: compile one rule from a YAML mapping (keys source_labels,
 * separator, regex, modulus, target_label, replacement, action). *out is
 * zeroed first and owns its strings even on error (call coll_relabel_fini).
 * Errors: OSP_EINVAL with file:line:col and key in ei (unknown key, bad
 * action, regex that does not compile, missing target_label/modulus). */
int coll_relabel_parse(const osp_yaml_node *map, coll_relabel *out, osp_errinfo *ei);

/* coll_relabel_init: build a rule programmatically (tests): sources[0..nsource)
 * are the source labels, regex NULL = "(.*)", replacement NULL = "$1",
 * separator ";". *r owns copies (coll_relabel_fini in every case). Errors:
 * OSP_EINVAL (regex does not compile, missing target_label/modulus). */
int coll_relabel_init(coll_relabel *r, coll_relabel_action action, const char *const *sources,
                      size_t nsource, const char *regex, const char *target,
                      const char *replacement, uint64_t modulus, osp_errinfo *ei);

void coll_relabel_fini(coll_relabel *r);

/* coll_relabel_action_parse: "replace" .. "dropequal" (case-insensitive).
 * 0 or OSP_EINVAL. */
int coll_relabel_action_parse(const char *s, coll_relabel_action *out);

/* coll_relabel_apply: run rules[0..n) over ls in order (ls need not be sorted
 * and is left unsorted). Returns false when a keep/drop rule dropped the set
 * (ls is then undefined). Any thread; the rules are read-only. */
bool coll_relabel_apply(const coll_relabel *rules, size_t n, osp_labels *ls);

/* coll_md5: MD5 digest of p[0..n) (hashmod must match Prometheus, which uses the
 * last 8 bytes of MD5, big-endian, modulo modulus). */
void coll_md5(const void *p, size_t n, uint8_t out[16]);

#endif
