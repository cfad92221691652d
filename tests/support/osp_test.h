/* osp_test.h - thin helpers on top of cmocka shared by the C unit tests:
 * per-test temporary directories, fixture paths, file slurping, free ports. */
#ifndef OSP_TEST_H
#define OSP_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* osp_test_tmpdir: create a fresh directory under $TMPDIR (or /tmp); caller frees
 * the string; the tree is removed by osp_test_rmtree. */
char *osp_test_tmpdir(const char *prefix);
void osp_test_rmtree(const char *path);
/* osp_test_slurp: whole file into a NUL-terminated heap buffer; NULL on error. */
char *osp_test_slurp(const char *path, size_t *len);
/* osp_test_path: "$OSP_SOURCE_DIR/<rel>" (or "$OSP_SHARED_DIR/<rel>" when rel starts
 * with "shared/"); static buffer per call site is not kept: caller frees. */
char *osp_test_path(const char *rel);
/* osp_test_write: write text to dir/name (dir NULL: the process's scratch
 * directory, removed at exit; a later file of the same name replaces the
 * earlier one); returns the path, caller frees. */
char *osp_test_write(const char *dir, const char *name, const char *text);
/* osp_test_free_port: a TCP port on 127.0.0.1 that was free a moment ago. */
int osp_test_free_port(void);

#endif
