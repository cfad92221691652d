/* alert_rules.c - loading and validating Prometheus rule files (rulefmt). */
#include "alert_rules.h"

#include <glob.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "osp_mem.h"
#include "osp_time.h"
#include "promql.h"

alert_ruleset *
alert_ruleset_new(void)
{
    return osp_calloc(1, sizeof(alert_ruleset));
}

static void
rule_fini(alert_rule *r)
{
    for (size_t i = 0; r->label_tmpls && i < r->labels.n; i++)
        alert_tmpl_free(r->label_tmpls[i]);
    for (size_t i = 0; r->ann_tmpls && i < r->annotations.n; i++)
        alert_tmpl_free(r->ann_tmpls[i]);
    osp_free(r->label_tmpls);
    osp_free(r->ann_tmpls);
    osp_labels_fini(&r->labels);
    osp_labels_fini(&r->annotations);
    osp_free(r->name);
    osp_free(r->expr);
}

void
alert_ruleset_free(alert_ruleset *rs)
{
    if (rs == NULL)
        return;
    for (size_t g = 0; g < rs->ngroups; g++) {
        alert_group *grp = &rs->groups[g];
        for (size_t i = 0; i < grp->nrules; i++)
            rule_fini(&grp->rules[i]);
        osp_free(grp->rules);
        osp_labels_fini(&grp->labels);
        osp_free(grp->name);
        osp_free(grp->file);
    }
    osp_free(rs->groups);
    osp_free(rs);
}

/* Context of an error: "group \"g\", rule 3 (alert \"X\"): ". */
typedef struct where {
    const char *group;
    size_t rule; /* 1-based; 0 = not in a rule */
    const char *kind, *name;
} where;

static int
err_at(osp_errinfo *ei, const osp_yaml_node *n, const where *w, const char *msg)
{
    char ctx[300] = "";
    if (w && w->group && w->rule)
        snprintf(ctx, sizeof(ctx), "group \"%s\", rule %zu%s%s%s%s: ", w->group, w->rule,
                 w->name ? " (" : "", w->name ? w->kind : "", w->name ? w->name : "",
                 w->name ? "\")" : "");
    else if (w && w->group)
        snprintf(ctx, sizeof(ctx), "group \"%s\": ", w->group);
    return osp_yaml_err(ei, n, NULL, OSP_EINVAL, "%s%s", ctx, msg);
}

static int
check_keys(const osp_yaml_node *map, const char *type, const char *const *keys, const where *w,
           osp_errinfo *ei)
{
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->pairs[i].key->str;
        bool ok = false;
        for (size_t j = 0; keys[j] && !ok; j++)
            ok = strcmp(keys[j], k) == 0;
        if (!ok) {
            char m[200];
            snprintf(m, sizeof(m), "field %s not found in type %s", k, type);
            return err_at(ei, map->pairs[i].key, w, m);
        }
    }
    return 0;
}

static const osp_yaml_node *
get(const osp_yaml_node *m, const char *k)
{
    const osp_yaml_node *n = osp_yaml_map_get(m, k);
    return n && n->type == OSP_YAML_NULL ? NULL : n;
}

static int
scalar(const osp_yaml_node *n, const char *what, const where *w, osp_errinfo *ei)
{
    if (n->type == OSP_YAML_SCALAR)
        return 0;
    char m[120];
    snprintf(m, sizeof(m), "%s must be a string", what);
    return err_at(ei, n, w, m);
}

static int
duration(const osp_yaml_node *n, const char *what, const where *w, int64_t *out, osp_errinfo *ei)
{
    if (n == NULL)
        return 0;
    int rc = scalar(n, what, w, ei);
    if (rc)
        return rc;
    if (osp_parse_duration(osp_str_c(n->str), out) != 0 || *out < 0) {
        char m[200];
        snprintf(m, sizeof(m), "%s: not a valid duration string: \"%s\"", what, n->str);
        return err_at(ei, n, w, m);
    }
    return 0;
}

/* label map: names valid, values strings; templates parsed when tmpls. */
static int
label_map(const osp_yaml_node *n, const char *what, const where *w, osp_labels *out,
          alert_tmpl ***tmpls, const char *tname, osp_errinfo *ei)
{
    if (n == NULL)
        return 0;
    if (n->type != OSP_YAML_MAP) {
        char m[120];
        snprintf(m, sizeof(m), "%s must be a mapping", what);
        return err_at(ei, n, w, m);
    }
    if (tmpls)
        *tmpls = osp_calloc(n->n + 1, sizeof(**tmpls));
    for (size_t i = 0; i < n->n; i++) {
        const osp_yaml_node *k = n->pairs[i].key, *v = n->pairs[i].value;
        char m[700];
        if (!osp_label_name_valid(k->str, k->len)) {
            snprintf(m, sizeof(m), "invalid %s name: %s", what, k->str);
            return err_at(ei, k, w, m);
        }
        if (osp_labels_get(out, k->str) != NULL) {
            snprintf(m, sizeof(m), "duplicate %s name: %s", what, k->str);
            return err_at(ei, k, w, m);
        }
        const char *val = v->type == OSP_YAML_NULL ? "" : v->str;
        if (v->type != OSP_YAML_SCALAR && v->type != OSP_YAML_NULL) {
            snprintf(m, sizeof(m), "%s %s must be a string", what, k->str);
            return err_at(ei, v, w, m);
        }
        osp_labels_add(out, k->str, k->len, val, strlen(val));
        if (tmpls) {
            osp_errinfo te;
            osp_errinfo_clear(&te);
            if (alert_tmpl_parse(tname, val, strlen(val), &(*tmpls)[i], &te) != 0) {
                snprintf(m, sizeof(m), "%s %s: template: %s:%d:%d: %s", what, k->str, tname,
                         te.line, te.col, te.msg);
                return err_at(ei, v, w, m);
            }
        }
    }
    return 0;
}

static int
load_rule(const osp_yaml_node *rn, alert_rule *r, where *w, osp_errinfo *ei)
{
    static const char *const keys[] = {"record",          "alert",  "expr",        "for",
                                       "keep_firing_for", "labels", "annotations", NULL};
    char m[700];
    if (rn->type != OSP_YAML_MAP)
        return err_at(ei, rn, w, "rule must be a mapping");
    r->line = rn->line;
    int rc = check_keys(rn, "rulefmt.Rule", keys, w, ei);
    if (rc)
        return rc;
    const osp_yaml_node *rec = get(rn, "record"), *al = get(rn, "alert"), *ex = get(rn, "expr");
    if (rec && al)
        return err_at(ei, rn, w, "only one of 'record' and 'alert' must be set");
    if (!rec && !al)
        return err_at(ei, rn, w, "one of 'record' or 'alert' must be set");
    const osp_yaml_node *nm = rec ? rec : al;
    if ((rc = scalar(nm, rec ? "record" : "alert", w, ei)))
        return rc;
    r->alerting = al != NULL;
    r->name = osp_strndup(nm->str, nm->len);
    w->kind = r->alerting ? "alert \"" : "record \"";
    w->name = r->name;
    if (rec && !osp_metric_name_valid(nm->str, nm->len)) {
        snprintf(m, sizeof(m), "invalid recording rule name: %s", nm->str);
        return err_at(ei, nm, w, m);
    }
    if (al && nm->len == 0)
        return err_at(ei, nm, w, "alert name must not be empty");
    if (ex == NULL)
        return err_at(ei, rn, w, "field 'expr' must be set in rule");
    if ((rc = scalar(ex, "expr", w, ei)))
        return rc;
    r->expr = osp_strndup(ex->str, ex->len);
    osp_promql_expr *pe = NULL;
    osp_errinfo pei;
    osp_errinfo_clear(&pei);
    if (osp_promql_parse(ex->str, ex->len, &pe, &pei) != 0) {
        snprintf(m, sizeof(m), "could not parse expression: %s", pei.msg);
        return err_at(ei, ex, w, m);
    }
    osp_promql_vtype t = osp_promql_expr_type(pe);
    osp_promql_expr_free(pe);
    if (t != OSP_PROMQL_VECTOR && t != OSP_PROMQL_SCALAR) {
        snprintf(m, sizeof(m),
                 "invalid expression type \"%s\": must be an instant vector or scalar",
                 t == OSP_PROMQL_MATRIX ? "range vector" : "string");
        return err_at(ei, ex, w, m);
    }
    const osp_yaml_node *fr = get(rn, "for"), *kf = get(rn, "keep_firing_for");
    const osp_yaml_node *an = get(rn, "annotations");
    if (rec && fr)
        return err_at(ei, fr, w, "invalid field 'for' in recording rule");
    if (rec && kf)
        return err_at(ei, kf, w, "invalid field 'keep_firing_for' in recording rule");
    if (rec && an)
        return err_at(ei, an, w, "invalid field 'annotations' in recording rule");
    if ((rc = duration(fr, "for", w, &r->for_ms, ei)) ||
        (rc = duration(kf, "keep_firing_for", w, &r->keep_firing_ms, ei)))
        return rc;
    char tname[300];
    snprintf(tname, sizeof(tname), "__alert_%s", r->name);
    if ((rc = label_map(get(rn, "labels"), "label", w, &r->labels,
                        r->alerting ? &r->label_tmpls : NULL, tname, ei)) ||
        (rc = label_map(an, "annotation", w, &r->annotations, &r->ann_tmpls, tname, ei)))
        return rc;
    if (rec && osp_labels_get(&r->labels, "__name__"))
        return err_at(ei, rn, w, "invalid recording rule label: __name__");
    return 0;
}

static int
load_group(const osp_yaml_node *gn, alert_group *g, const char *path, int64_t def_interval,
           osp_errinfo *ei)
{
    static const char *const keys[] = {"name",   "interval", "limit", "query_offset",
                                       "labels", "rules",    NULL};
    where w = {0};
    if (gn->type != OSP_YAML_MAP)
        return err_at(ei, gn, NULL, "group must be a mapping");
    int rc = check_keys(gn, "rulefmt.RuleGroup", keys, NULL, ei);
    if (rc)
        return rc;
    const osp_yaml_node *nm = get(gn, "name");
    if (nm == NULL || nm->type != OSP_YAML_SCALAR || nm->len == 0)
        return err_at(ei, nm ? nm : gn, NULL, "group name must not be empty");
    g->name = osp_strndup(nm->str, nm->len);
    g->file = osp_strdup(path);
    w.group = g->name;
    g->interval_ms = def_interval;
    if ((rc = duration(get(gn, "interval"), "interval", &w, &g->interval_ms, ei)) ||
        (rc = duration(get(gn, "query_offset"), "query_offset", &w, &g->query_offset_ms, ei)))
        return rc;
    if (g->interval_ms <= 0)
        return err_at(ei, get(gn, "interval"), &w, "interval must be positive");
    const osp_yaml_node *lim = get(gn, "limit");
    if (lim && (osp_yaml_int64(lim, &g->limit, ei) != 0 || g->limit < 0))
        return err_at(ei, lim, &w, "limit must be a non-negative integer");
    if ((rc = label_map(get(gn, "labels"), "label", &w, &g->labels, NULL, NULL, ei)))
        return rc;
    const osp_yaml_node *rules = get(gn, "rules");
    if (rules == NULL)
        return 0;
    if (rules->type != OSP_YAML_SEQ)
        return err_at(ei, rules, &w, "rules must be a sequence");
    g->rules = osp_calloc(rules->n + 1, sizeof(*g->rules));
    for (size_t i = 0; i < rules->n; i++) {
        w.rule = i + 1;
        w.name = NULL;
        osp_labels_init(&g->rules[i].labels);
        osp_labels_init(&g->rules[i].annotations);
        g->nrules = i + 1;
        if ((rc = load_rule(rules->items[i], &g->rules[i], &w, ei)))
            return rc;
    }
    return 0;
}

int
alert_rules_load_file(alert_ruleset *rs, const char *path, int64_t def_interval, osp_errinfo *ei)
{
    osp_yaml_doc *doc = NULL;
    int rc = osp_yaml_load_file(path, &doc, ei);
    if (rc)
        return rc;
    const osp_yaml_node *root = osp_yaml_root(doc);
    size_t first = rs->ngroups;
    if (root->type == OSP_YAML_NULL)
        goto out; /* an empty file has no groups */
    if (root->type != OSP_YAML_MAP) {
        rc = err_at(ei, root, NULL, "rule file must be a mapping with 'groups'");
        goto out;
    }
    static const char *const keys[] = {"groups", NULL};
    if ((rc = check_keys(root, "rulefmt.RuleGroups", keys, NULL, ei)))
        goto out;
    const osp_yaml_node *groups = get(root, "groups");
    if (groups == NULL)
        goto out;
    if (groups->type != OSP_YAML_SEQ) {
        rc = err_at(ei, groups, NULL, "groups must be a sequence");
        goto out;
    }
    rs->groups = osp_reallocarray(rs->groups, rs->ngroups + groups->n + 1, sizeof(*rs->groups));
    for (size_t i = 0; i < groups->n; i++) {
        alert_group *g = &rs->groups[rs->ngroups++];
        memset(g, 0, sizeof(*g));
        osp_labels_init(&g->labels);
        if ((rc = load_group(groups->items[i], g, path, def_interval, ei)))
            goto out;
        for (size_t j = first; j + 1 < rs->ngroups; j++)
            if (strcmp(rs->groups[j].name, g->name) == 0) {
                char m[300];
                snprintf(m, sizeof(m), "groupname: \"%s\" is repeated in the same file", g->name);
                rc = err_at(ei, groups->items[i], NULL, m);
                goto out;
            }
        rs->nrules += g->nrules;
    }
out:
    if (rc == 0)
        rs->nfiles++;
    else if (ei && !ei->file[0])
        snprintf(ei->file, sizeof(ei->file), "%s", path);
    osp_yaml_free(doc);
    return rc;
}

int
alert_rules_load(const char *const *globs, size_t n, int64_t def_interval, alert_ruleset **out,
                 osp_errinfo *ei)
{
    alert_ruleset *rs = alert_ruleset_new();
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        glob_t gl;
        memset(&gl, 0, sizeof(gl));
        int g = glob(globs[i], 0, NULL, &gl);
        if (g == GLOB_NOMATCH && strpbrk(globs[i], "*?[") == NULL) {
            snprintf(ei->file, sizeof(ei->file), "%s", globs[i]);
            rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "rule file does not exist");
        } else if (g == 0) {
            for (size_t j = 0; j < gl.gl_pathc && rc == 0; j++)
                rc = alert_rules_load_file(rs, gl.gl_pathv[j], def_interval, ei);
        } else if (g != GLOB_NOMATCH) {
            rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "cannot expand rule file glob %s", globs[i]);
        }
        globfree(&gl);
    }
    if (rc) {
        alert_ruleset_free(rs);
        return rc;
    }
    *out = rs;
    return 0;
}
