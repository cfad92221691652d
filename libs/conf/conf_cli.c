/* conf_cli.c - the command line every daemon shares (-c, --listen,
 * --log-level, --check-config, --version, --help) plus per-daemon flags
 * mapped onto schema keys, and the defaults < file < flags load sequence. */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "osp_mem.h"

enum { F_CONFIG = 1, F_CHECK, F_VERSION, F_HELP };

static const osp_cli_flag common[] = {
    {.name = "config", .short_name = 'c', .arg = "FILE", .help = "YAML configuration file"},
    {.name = "listen", .key = "listen", .arg = "HOST:PORT", .help = "HTTP listen address"},
    {.name = "log-level", .key = "log_level", .arg = "LEVEL", .help = "debug, info, warn or error"},
    {.name = "check-config", .help = "validate the configuration and exit"},
    {.name = "version", .help = "print the version and exit"},
    {.name = "help", .short_name = 'h', .help = "print this help and exit"},
};
#define NCOMMON (sizeof(common) / sizeof(common[0]))

static const osp_cli_flag *
find_flag(const char *name, size_t nlen, char short_name, const osp_cli_flag *extra, size_t nextra)
{
    for (int pass = 0; pass < 2; pass++) {
        const osp_cli_flag *t = pass == 0 ? extra : common;
        size_t n = pass == 0 ? nextra : NCOMMON;
        for (size_t i = 0; i < n; i++) {
            if (name != NULL && strlen(t[i].name) == nlen && strncmp(t[i].name, name, nlen) == 0)
                return &t[i];
            if (name == NULL && short_name != 0 && t[i].short_name == short_name)
                return &t[i];
        }
    }
    return NULL;
}

static bool
is_common(const osp_cli_flag *f, const char *name)
{
    return f >= common && f < common + NCOMMON && strcmp(f->name, name) == 0;
}

int
osp_cli_parse(osp_cli *cli, int argc, char *const *argv, const osp_cli_flag *extra, size_t nextra,
              osp_errinfo *ei)
{
    memset(cli, 0, sizeof(*cli));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const osp_cli_flag *f = NULL;
        const char *value = NULL;
        if (a[0] == '-' && a[1] == '-' && a[2] != '\0') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            f = find_flag(name, nlen, 0, extra, nextra);
            value = eq ? eq + 1 : NULL;
        } else if (a[0] == '-' && a[1] != '\0' && a[1] != '-') {
            f = find_flag(NULL, 0, a[1], extra, nextra);
            value = a[2] != '\0' ? a + 2 + (a[2] == '=') : NULL;
        } else {
            return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "unexpected argument \"%s\"", a);
        }
        if (f == NULL)
            return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "unknown flag \"%s\"", a);
        if (f->arg != NULL && value == NULL) {
            if (i + 1 >= argc)
                return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "flag --%s needs a value %s", f->name,
                                       f->arg);
            value = argv[++i];
        }
        if (f->arg == NULL && value == NULL)
            value = "true";
        if (is_common(f, "config")) {
            cli->config = value;
        } else if (is_common(f, "check-config")) {
            cli->check_config = strcmp(value, "false") != 0;
        } else if (is_common(f, "version")) {
            cli->version = strcmp(value, "false") != 0;
        } else if (is_common(f, "help")) {
            cli->help = strcmp(value, "false") != 0;
        } else {
            cli->set = osp_reallocarray(cli->set, cli->nset + 1, sizeof(*cli->set));
            cli->set[cli->nset].key = f->key;
            cli->set[cli->nset].value = value;
            cli->nset++;
        }
    }
    return 0;
}

void
osp_cli_fini(osp_cli *cli)
{
    if (cli == NULL)
        return;
    osp_free(cli->set);
    cli->set = NULL;
    cli->nset = 0;
}

/* The field type of a dotted key (STRLIST needs clearing once). */
static bool
is_strlist(const osp_conf_field *schema, size_t n, const char *key)
{
    const char *dot = strchr(key, '.');
    size_t len = dot ? (size_t)(dot - key) : strlen(key);
    for (size_t i = 0; i < n; i++) {
        if (strlen(schema[i].key) != len || strncmp(schema[i].key, key, len) != 0)
            continue;
        if (dot != NULL)
            return schema[i].type == OSP_CONF_SECTION &&
                   is_strlist(schema[i].sub, schema[i].nsub, dot + 1);
        return schema[i].type == OSP_CONF_STRLIST;
    }
    return false;
}

int
osp_cli_apply(const osp_cli *cli, const osp_conf_field *schema, size_t n, void *obj,
              osp_errinfo *ei)
{
    for (size_t i = 0; i < cli->nset; i++) {
        const char *key = cli->set[i].key;
        bool first = true;
        for (size_t j = 0; j < i; j++)
            first &= strcmp(cli->set[j].key, key) != 0;
        if (first && is_strlist(schema, n, key))
            osp_conf_unset(schema, n, obj, key);
        int rc = osp_conf_set(schema, n, obj, key, cli->set[i].value, ei);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void
usage_flags(FILE *out, const osp_cli_flag *t, size_t n, const osp_cli_flag *extra, size_t nextra,
            bool skip_overridden)
{
    for (size_t i = 0; i < n; i++) {
        if (skip_overridden && find_flag(t[i].name, strlen(t[i].name), 0, extra, nextra) != &t[i])
            continue;
        char left[96];
        if (t[i].short_name)
            snprintf(left, sizeof(left), "-%c, --%s%s%s", t[i].short_name, t[i].name,
                     t[i].arg ? " " : "", t[i].arg ? t[i].arg : "");
        else
            snprintf(left, sizeof(left), "    --%s%s%s", t[i].name, t[i].arg ? " " : "",
                     t[i].arg ? t[i].arg : "");
        fprintf(out, "  %-32s %s\n", left, t[i].help ? t[i].help : "");
    }
}

void
osp_cli_usage(FILE *out, const char *prog, const char *summary, const osp_cli_flag *extra,
              size_t nextra, const osp_conf_field *schema, size_t n)
{
    fprintf(out, "Usage: %s [flags]\n", prog);
    if (summary != NULL)
        fprintf(out, "%s\n", summary);
    fprintf(out, "\nFlags:\n");
    usage_flags(out, common, NCOMMON, extra, nextra, true);
    usage_flags(out, extra, nextra, NULL, 0, false);
    if (schema != NULL && n > 0) {
        fprintf(out, "\nConfiguration keys (defaults < file < flags):\n");
        osp_conf_help(schema, n, out);
    }
}

int
osp_conf_load(const osp_conf_field *schema, size_t n, void *obj, const osp_cli *cli, unsigned flags,
              osp_yaml_doc **doc, osp_errinfo *ei)
{
    osp_yaml_doc *d = NULL;
    if (doc != NULL)
        *doc = NULL;
    int rc = osp_conf_apply(schema, n, NULL, obj, flags & ~OSP_CONF_NO_DEFAULTS, ei);
    if (rc == 0 && cli != NULL && cli->config != NULL) {
        rc = osp_yaml_load_file(cli->config, &d, ei);
        if (rc == 0)
            rc = osp_conf_apply(schema, n, osp_yaml_root(d), obj, flags | OSP_CONF_NO_DEFAULTS, ei);
    }
    if (rc == 0 && cli != NULL)
        rc = osp_cli_apply(cli, schema, n, obj, ei);
    if (rc == 0)
        rc = osp_conf_check_required(schema, n, obj, ei);
    if (rc == 0 && doc != NULL)
        *doc = d;
    else
        osp_yaml_free(d);
    return rc;
}
