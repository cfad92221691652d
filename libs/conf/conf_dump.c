/* conf_dump.c - text generated from schema tables: --help / docs reference
 * and the effective configuration as YAML (secrets masked). */
#include <inttypes.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "osp_time.h"

static void
help_fields(const osp_conf_field *schema, size_t n, const char *prefix, FILE *out)
{
    for (size_t i = 0; i < n; i++) {
        const osp_conf_field *f = &schema[i];
        char path[128];
        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", f->key);
        if (f->type == OSP_CONF_SECTION) {
            if (f->help != NULL)
                fprintf(out, "  %s:\n      %s\n", path, f->help);
            help_fields(f->sub, f->nsub, path, out);
            continue;
        }
        fprintf(out, "  %s (%s", path, osp_conf_type_name(f->type));
        if (f->def != NULL && f->type != OSP_CONF_SECRET)
            fprintf(out, ", default \"%s\"", f->def);
        if (f->flags & OSP_CONF_REQUIRED)
            fprintf(out, ", required");
        fprintf(out, ")\n");
        if (f->help != NULL)
            fprintf(out, "      %s\n", f->help);
    }
}

void
osp_conf_help(const osp_conf_field *schema, size_t n, FILE *out)
{
    help_fields(schema, n, "", out);
}

static void
indent(osp_buf *out, int depth)
{
    for (int i = 0; i < depth; i++)
        osp_buf_puts(out, "  ");
}

static void
dump_fields(const osp_conf_field *schema, size_t n, const void *obj, int depth, osp_buf *out)
{
    static const char *levels[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < n; i++) {
        const osp_conf_field *f = &schema[i];
        const char *p = (const char *)obj + f->offset;
        indent(out, depth);
        osp_buf_printf(out, "%s:", f->key);
        char num[32];
        switch (f->type) {
        case OSP_CONF_STR: {
            const char *s = *(char *const *)p;
            if (s == NULL) {
                osp_buf_puts(out, " null\n");
            } else {
                /* JSON strings are valid YAML double-quoted scalars. */
                osp_buf_putc(out, ' ');
                osp_buf_json_cstr(out, s);
                osp_buf_putc(out, '\n');
            }
            break;
        }
        case OSP_CONF_SECRET: {
            const char *s = *(char *const *)p;
            osp_buf_puts(out, s != NULL && *s ? " \"<secret>\"\n" : " \"\"\n");
            break;
        }
        case OSP_CONF_INT: osp_buf_printf(out, " %d\n", *(const int *)p); break;
        case OSP_CONF_UINT64: osp_buf_printf(out, " %" PRIu64 "\n", *(const uint64_t *)p); break;
        case OSP_CONF_DOUBLE:
            osp_fmt_double(num, *(const double *)p);
            osp_buf_printf(out, " %s\n", num);
            break;
        case OSP_CONF_BOOL: osp_buf_puts(out, *(const bool *)p ? " true\n" : " false\n"); break;
        case OSP_CONF_DURATION:
            osp_format_duration(*(const int64_t *)p, num, sizeof(num));
            osp_buf_printf(out, " %s\n", num);
            break;
        case OSP_CONF_BYTES: osp_buf_printf(out, " %zu\n", *(const size_t *)p); break;
        case OSP_CONF_STRLIST: {
            const osp_strlist *l = (const osp_strlist *)p;
            if (l->n == 0)
                osp_buf_puts(out, " []");
            osp_buf_putc(out, '\n');
            for (size_t j = 0; j < l->n; j++) {
                indent(out, depth + 1);
                osp_buf_puts(out, "- ");
                osp_buf_json_cstr(out, l->v[j]);
                osp_buf_putc(out, '\n');
            }
            break;
        }
        case OSP_CONF_LOGLEVEL: {
            unsigned lv = (unsigned)*(const osp_log_level *)p;
            osp_buf_printf(out, " %s\n", lv < 4 ? levels[lv] : "info");
            break;
        }
        case OSP_CONF_SECTION:
            osp_buf_putc(out, '\n');
            dump_fields(f->sub, f->nsub, p, depth + 1, out);
            break;
        case OSP_CONF_NODE:
            osp_buf_puts(out, *(const osp_yaml_node *const *)p ? " \"<...>\"\n" : " null\n");
            break;
        }
    }
}

void
osp_conf_dump(const osp_conf_field *schema, size_t n, const void *obj, osp_buf *out)
{
    dump_fields(schema, n, obj, 0, out);
}
