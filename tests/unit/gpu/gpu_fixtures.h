/* gpu_fixtures.h - fake amdgpu sysfs trees for the GPU exporter's tests,
 * shaped like a real Radeon RX 7800 XT's files (Linux 6.x). */
#ifndef GPU_FIXTURES_H
#define GPU_FIXTURES_H

/* fx_write: create path's parent directories and write text to it. */
void fx_write(const char *root, const char *rel, const char *text);
/* fx_mkdir: mkdir -p root/rel. */
void fx_mkdir(const char *root, const char *rel);
/* fx_symlink: root/rel -> target (parents created). */
void fx_symlink(const char *root, const char *rel, const char *target);

/* fx_rx7800xt: under root, card<card> as an RX 7800 XT at PCI slot `slot`
 * (e.g. "0000:03:00.0") with the values documented in amd_test.c; plus a
 * connector (card<card>-DP-1) that must be ignored. */
void fx_rx7800xt(const char *root, int card, const char *slot);

/* fx_other_card: card<card> of another vendor (0x10de, nvidia driver). */
void fx_other_card(const char *root, int card);

#endif
