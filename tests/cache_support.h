/*
 * cache_support.h - helpers shared by the tuning-database tests: a
 * temporary directory per test, a sample winner, and asserting wrappers of
 * the cache calls.
 */
#ifndef FPX_TESTS_CACHE_SUPPORT_H
#define FPX_TESTS_CACHE_SUPPORT_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "support.h"

static char tmpdir[256];

static inline int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}
static inline void make_tmpdir(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/fpx_cache_test_XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
}
static inline void remove_tmpdir(void) {
  if (tmpdir[0] != '\0') nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  tmpdir[0] = '\0';
}
static inline const char *tmp_path(const char *name) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  return path;
}

static inline fpx__cache_winner sample(int64_t n, int m_bucket, double time_us) {
  fpx__cache_winner w;
  memset(&w, 0, sizeof w);
  snprintf(w.key.gpu_name, sizeof w.key.gpu_name, "NVIDIA H100 80GB HBM3");
  snprintf(w.key.arch, sizeof w.key.arch, "sm_90a");
  w.key.sm_count = 132;
  w.key.driver_version = 12040;
  w.key.nvrtc_version = 12040;
  snprintf(w.key.fpx_hash, sizeof w.key.fpx_hash, "0123456789abcdef");
  snprintf(w.key.family, sizeof w.key.family, "weight_only");
  snprintf(w.key.weight_format, sizeof w.key.weight_format, "e3m2");
  snprintf(w.key.x_dtype, sizeof w.key.x_dtype, "f16");
  snprintf(w.key.y_dtype, sizeof w.key.y_dtype, "f16");
  w.key.group_size = 0;
  w.key.n = n;
  w.key.k = 4096;
  w.key.m_bucket = m_bucket;
  w.config = (fpx_wo_config){4, 1, 2, 1, 0, 0, 0};
  w.time_us = time_us;
  w.check_tolerance = 0.01;
  w.check_error = 0.001;
  w.tuned_at = 1700000000;
  snprintf(w.candidates_checksum, sizeof w.candidates_checksum, "feedbeef");
  return w;
}

static inline fpx__cache *open_ok(const char *path, int flags) {
  fpx__cache *c = NULL;
  fpx_status st = fpx__cache_open(path, flags, &c);
  cr_assert_eq(st, FPX_OK, "open %s: %s", path ? path : "(default)", fpx_last_error());
  cr_assert_not_null(c);
  return c;
}

static inline void put_ok(fpx__cache *c, const fpx__cache_winner *w) {
  cr_assert_eq(fpx__cache_put_winner(c, w), FPX_OK, "%s", fpx_last_error());
}

static inline size_t count_of(fpx__cache *c) {
  size_t n = 12345;
  cr_assert_eq(fpx__cache_count_winners(c, &n), FPX_OK, "%s", fpx_last_error());
  return n;
}

static inline int write_file(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (f == NULL) return 0;
  const size_t written = fwrite(data, 1, size, f);
  return fclose(f) == 0 && written == size;
}

#endif
