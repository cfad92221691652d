/* relabel_test.c - relabel actions, table-driven, against Prometheus results. */
#include "osp_test.h"

#include <string.h>

#include "coll_relabel.h"
#include "osp_buf.h"

typedef struct rcase {
    const char *name;
    coll_relabel_action action;
    const char *sources[3];
    const char *regex;
    const char *target;
    const char *replacement;
    uint64_t modulus;
    const char *in; /* a=x,b=y */
    bool keep;
    const char *want; /* sorted a=x,b=y (when kept) */
} rcase;

static void
parse_set(const char *s, osp_labels *ls)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        *eq = 0;
        osp_labels_addc(ls, tok, eq + 1);
    }
}

static void
fmt_set(osp_labels *ls, osp_buf *out)
{
    osp_labels_sort(ls);
    for (size_t i = 0; i < ls->n; i++)
        osp_buf_printf(out, "%s%s=%s", i ? "," : "", ls->v[i].name, ls->v[i].value);
}

static const rcase cases[] = {
    {"replace default", COLL_RL_REPLACE, {"a"}, NULL, "c", NULL, 0, "a=x,b=y", true, "a=x,b=y,c=x"},
    {"replace groups",
     COLL_RL_REPLACE,
     {"a", "b"},
     "(.*);(.*)",
     "c",
     "$2-${1}",
     0,
     "a=x,b=y",
     true,
     "a=x,b=y,c=y-x"},
    {"replace named group",
     COLL_RL_REPLACE,
     {"a"},
     "(?P<h>[^:]+):\\d+",
     "host",
     "$h",
     0,
     "a=web:80",
     true,
     "a=web:80,host=web"},
    {"replace $1x is group 1x (empty)",
     COLL_RL_REPLACE,
     {"a"},
     "(.*)",
     "c",
     "$1x",
     0,
     "a=v",
     true,
     "a=v"},
    {"replace anchored no match", COLL_RL_REPLACE, {"a"}, "x", "c", "hit", 0, "a=xx", true, "a=xx"},
    {"replace missing source is empty",
     COLL_RL_REPLACE,
     {"nope"},
     "",
     "c",
     "empty",
     0,
     "a=x",
     true,
     "a=x,c=empty"},
    {"replace empty result deletes",
     COLL_RL_REPLACE,
     {"nope"},
     "(.*)",
     "a",
     "$1",
     0,
     "a=x",
     true,
     ""},
    {"replace target from group",
     COLL_RL_REPLACE,
     {"a"},
     "(.*)",
     "l_$1",
     "v",
     0,
     "a=k",
     true,
     "a=k,l_k=v"},
    {"keep match", COLL_RL_KEEP, {"a"}, "x|z", NULL, NULL, 0, "a=x", true, "a=x"},
    {"keep anchored", COLL_RL_KEEP, {"a"}, "x", NULL, NULL, 0, "a=xy", false, NULL},
    {"drop match", COLL_RL_DROP, {"a"}, "x.*", NULL, NULL, 0, "a=xy", false, NULL},
    {"drop no match", COLL_RL_DROP, {"a"}, "y", NULL, NULL, 0, "a=x", true, "a=x"},
    {"hashmod",
     COLL_RL_HASHMOD,
     {"a"},
     NULL,
     "shard",
     NULL,
     8,
     "a=web-1:9100",
     true,
     "a=web-1:9100,shard=3"},
    {"labelmap",
     COLL_RL_LABELMAP,
     {0},
     "__meta_(.+)",
     NULL,
     "m_$1",
     0,
     "__meta_zone=eu,a=x",
     true,
     "__meta_zone=eu,a=x,m_zone=eu"},
    {"labeldrop", COLL_RL_LABELDROP, {0}, "b.*", NULL, NULL, 0, "a=x,b=y,bb=z", true, "a=x"},
    {"labelkeep",
     COLL_RL_LABELKEEP,
     {0},
     "a|__name__",
     NULL,
     NULL,
     0,
     "__name__=m,a=x,b=y",
     true,
     "__name__=m,a=x"},
    {"lowercase", COLL_RL_LOWERCASE, {"a"}, NULL, "l", NULL, 0, "a=AbC", true, "a=AbC,l=abc"},
    {"uppercase", COLL_RL_UPPERCASE, {"a"}, NULL, "u", NULL, 0, "a=AbC", true, "a=AbC,u=ABC"},
    {"keepequal", COLL_RL_KEEPEQUAL, {"a"}, NULL, "b", NULL, 0, "a=x,b=x", true, "a=x,b=x"},
    {"keepequal differs", COLL_RL_KEEPEQUAL, {"a"}, NULL, "b", NULL, 0, "a=x,b=y", false, NULL},
    {"dropequal", COLL_RL_DROPEQUAL, {"a"}, NULL, "b", NULL, 0, "a=x,b=x", false, NULL},
};

static void
test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const rcase *c = &cases[i];
        size_t ns = 0;
        while (ns < 3 && c->sources[ns])
            ns++;
        coll_relabel r;
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        int rc = coll_relabel_init(&r, c->action, c->sources, ns, c->regex, c->target,
                                   c->replacement, c->modulus, &ei);
        if (rc)
            fail_msg("%s: init failed: %s", c->name, ei.msg);
        osp_labels ls;
        osp_labels_init(&ls);
        parse_set(c->in, &ls);
        bool keep = coll_relabel_apply(&r, 1, &ls);
        if (keep != c->keep)
            fail_msg("%s: keep=%d want %d", c->name, keep, c->keep);
        if (keep) {
            osp_buf got;
            osp_buf_init(&got);
            fmt_set(&ls, &got);
            if (strcmp(osp_buf_cstr(&got), c->want) != 0)
                fail_msg("%s: got %s want %s", c->name, osp_buf_cstr(&got), c->want);
            osp_buf_fini(&got);
        }
        osp_labels_fini(&ls);
        coll_relabel_fini(&r);
    }
}

static void
test_md5(void **state)
{
    (void)state;
    uint8_t d[16];
    coll_md5("abc", 3, d);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
    coll_md5("", 0, d);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    assert_string_equal(hex, "d41d8cd98f00b204e9800998ecf8427e");
}

static void
test_bad_config(void **state)
{
    (void)state;
    coll_relabel r;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    const char *src[] = {"a"};
    assert_int_equal(coll_relabel_init(&r, COLL_RL_REPLACE, src, 1, "(", "t", NULL, 0, &ei),
                     OSP_EINVAL);
    coll_relabel_fini(&r);
    assert_int_equal(coll_relabel_init(&r, COLL_RL_HASHMOD, src, 1, NULL, "t", NULL, 0, &ei),
                     OSP_EINVAL);
    coll_relabel_fini(&r);
    assert_int_equal(coll_relabel_init(&r, COLL_RL_REPLACE, src, 1, NULL, NULL, NULL, 0, &ei),
                     OSP_EINVAL);
    coll_relabel_fini(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_md5),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
