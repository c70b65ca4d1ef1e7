/*
 * test_cache.c - the tuning database: default path, schema creation and
 * migration, refusing newer schemas and damaged files, M buckets, winners
 * (keep-the-faster upsert, lookups, nearest bucket, listing) and concurrent
 * upserts from several processes.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache_support.h"

TestSuite(cache, .init = make_tmpdir, .fini = remove_tmpdir);

/* ---- M buckets -------------------------------------------------------- */

Test(cache, m_bucket_is_the_next_power_of_two_capped_at_8192) {
  static const struct { size_t m; int bucket; } cases[] = {
      {0, 1}, {1, 1}, {2, 2}, {3, 4}, {4, 4}, {5, 8}, {16, 16}, {17, 32}, {1000, 1024},
      {1024, 1024}, {1025, 2048}, {4097, 8192}, {8192, 8192}, {8193, 8192}, {10000, 8192},
      {(size_t)-1, 8192},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    cr_assert_eq(fpx__cache_m_bucket(cases[i].m), cases[i].bucket, "m=%zu: got %d want %d",
                 cases[i].m, fpx__cache_m_bucket(cases[i].m), cases[i].bucket);
}

/* ---- default path ----------------------------------------------------- */

Test(cache, default_path_prefers_fpx_cache_dir) {
  char buf[512], want[512];
  setenv("FPX_CACHE_DIR", tmp_path("a/b"), 1);
  setenv("XDG_CACHE_HOME", "/nonexistent/xdg", 1);
  snprintf(want, sizeof want, "%s/a/b/fpx.db", tmpdir);
  cr_assert_eq(fpx__cache_default_path(buf, sizeof buf), FPX_OK, "%s", fpx_last_error());
  cr_assert_str_eq(buf, want);
  /* opening the default path creates the missing directories */
  fpx__cache *c = open_ok(NULL, 0);
  cr_assert_str_eq(fpx__cache_path(c), want);
  fpx__cache_close(c);
  struct stat sb;
  cr_assert_eq(stat(want, &sb), 0, "%s was not created", want);
}

Test(cache, default_path_falls_back_to_xdg_then_home) {
  char buf[512], want[512];
  unsetenv("FPX_CACHE_DIR");
  setenv("XDG_CACHE_HOME", tmp_path("xdg"), 1);
  snprintf(want, sizeof want, "%s/xdg/fpx/fpx.db", tmpdir);
  cr_assert_eq(fpx__cache_default_path(buf, sizeof buf), FPX_OK, "%s", fpx_last_error());
  cr_assert_str_eq(buf, want);
  setenv("FPX_CACHE_DIR", "", 1); /* empty counts as unset */
  cr_assert_eq(fpx__cache_default_path(buf, sizeof buf), FPX_OK);
  cr_assert_str_eq(buf, want);
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", tmp_path("home"), 1);
  snprintf(want, sizeof want, "%s/home/.cache/fpx/fpx.db", tmpdir);
  cr_assert_eq(fpx__cache_default_path(buf, sizeof buf), FPX_OK);
  cr_assert_str_eq(buf, want);
  fpx__cache *c = open_ok(NULL, 0);
  fpx__cache_close(c);
  struct stat sb;
  cr_assert_eq(stat(want, &sb), 0, "%s was not created", want);
}

Test(cache, default_path_errors) {
  char small[8];
  setenv("FPX_CACHE_DIR", "/a/rather/long/directory", 1);
  cr_assert_eq(fpx__cache_default_path(small, sizeof small), FPX_ERR_BUFFER_TOO_SMALL);
  cr_assert_str_eq(small, "");
  unsetenv("FPX_CACHE_DIR");
  unsetenv("XDG_CACHE_HOME");
  unsetenv("HOME");
  char buf[256];
  cr_assert_eq(fpx__cache_default_path(buf, sizeof buf), FPX_ERR_IO);
  cr_assert(contains(fpx_last_error(), "HOME"), "%s", fpx_last_error());
}

/* ---- schema ----------------------------------------------------------- */

Test(cache, a_new_database_gets_the_current_schema) {
  fpx__cache *c = open_ok(tmp_path("new.db"), 0);
  cr_assert_eq(fpx__cache_schema_version(c), FPX__CACHE_SCHEMA_VERSION);
  cr_assert_eq(count_of(c), 0);
  size_t bins = 99;
  cr_assert_eq(fpx__cache_count_binaries(c, &bins), FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(bins, 0);
  /* both tables with the v2 columns exist */
  cr_assert_eq(fpx__cache_exec_for_testing(c, "SELECT candidates_checksum FROM winners; "
                                              "SELECT hash, blob, checksum FROM binaries"),
               FPX_OK, "%s", fpx_last_error());
  fpx__cache_close(c);
  /* reopening keeps the version and does not migrate again */
  c = open_ok(tmp_path("new.db"), FPX__CACHE_READONLY);
  cr_assert_eq(fpx__cache_schema_version(c), FPX__CACHE_SCHEMA_VERSION);
  fpx__cache_close(c);
}

Test(cache, memory_database_works_and_close_accepts_null) {
  fpx__cache *c = open_ok(":memory:", 0);
  fpx__cache_winner w = sample(128, 1, 5.0);
  put_ok(c, &w);
  cr_assert_eq(count_of(c), 1);
  fpx__cache_close(c);
  fpx__cache_close(NULL);
}

Test(cache, migrates_version_1_and_keeps_its_rows) {
  const char *path = tmp_path("v1.db");
  cr_assert_eq(fpx__cache_create_v1_for_testing(path), FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(fpx__cache_exec_file_for_testing(
                   path,
                   "INSERT INTO winners VALUES ('NVIDIA H100 80GB HBM3', 'sm_90a', 132, 12040, "
                   "12040, '0123456789abcdef', 'weight_only', 'e3m2', 'f16', 'f16', 0, 128, "
                   "4096, 1, 2, 1, 4, 3, 7.25, 0.01, 0.001, 1600000000)"),
               FPX_OK, "%s", fpx_last_error());
  /* read-only: version 1 as is, no binaries table yet, rows readable */
  fpx__cache *c = open_ok(path, FPX__CACHE_READONLY);
  cr_assert_eq(fpx__cache_schema_version(c), 1);
  cr_assert_neq(fpx__cache_exec_for_testing(c, "SELECT * FROM binaries"), FPX_OK);
  fpx__cache_winner want = sample(128, 1, 7.25), got;
  want.config = (fpx_wo_config){2, 1, 4, 3, 0, 0, 0};
  want.tuned_at = 1600000000;
  int found = 0;
  cr_assert_eq(fpx__cache_get_winner(c, &want.key, &got, &found), FPX_OK, "%s",
               fpx_last_error());
  cr_assert(found);
  cr_assert_str_eq(got.candidates_checksum, "");
  fpx__cache_close(c);
  /* read-write: migrated to the current version in place, the row kept */
  c = open_ok(path, 0);
  cr_assert_eq(fpx__cache_schema_version(c), FPX__CACHE_SCHEMA_VERSION);
  cr_assert_eq(fpx__cache_exec_for_testing(c, "SELECT candidates_checksum FROM winners; "
                                              "SELECT hash FROM binaries"),
               FPX_OK, "%s", fpx_last_error());
  found = 0;
  cr_assert_eq(fpx__cache_get_winner(c, &want.key, &got, &found), FPX_OK);
  cr_assert(found);
  cr_assert_eq(got.config.warps_n, 2);
  cr_assert_eq(got.config.split_k, 3);
  cr_assert_eq(got.time_us, 7.25);
  cr_assert_eq(got.tuned_at, 1600000000);
  cr_assert_str_eq(got.candidates_checksum, "");
  cr_assert_eq(count_of(c), 1);
  /* and new rows with a checksum can be written */
  fpx__cache_winner w = sample(256, 1, 3.0);
  put_ok(c, &w);
  cr_assert_eq(count_of(c), 2);
  fpx__cache_close(c);
  c = open_ok(path, FPX__CACHE_READONLY);
  cr_assert_eq(fpx__cache_schema_version(c), FPX__CACHE_SCHEMA_VERSION);
  fpx__cache_close(c);
}

Test(cache, refuses_a_newer_schema_naming_both_versions) {
  const char *path = tmp_path("future.db");
  cr_assert_eq(fpx__cache_exec_file_for_testing(path, "CREATE TABLE t(x); PRAGMA user_version = 7"),
               FPX_OK, "%s", fpx_last_error());
  for (int flags = 0; flags <= FPX__CACHE_READONLY; flags++) {
    fpx__cache *c = (fpx__cache *)1;
    cr_assert_eq(fpx__cache_open(path, flags, &c), FPX_ERR_IO);
    cr_assert_null(c);
    cr_assert(contains(fpx_last_error(), "version 7"), "%s", fpx_last_error());
    cr_assert(contains(fpx_last_error(), "version 3"), "%s", fpx_last_error());
    cr_assert(contains(fpx_last_error(), path), "%s", fpx_last_error());
  }
  /* the file is left alone */
  fpx__cache_close(NULL);
  cr_assert_eq(fpx__cache_exec_file_for_testing(path, "SELECT x FROM t"), FPX_OK);
}

Test(cache, a_garbage_file_is_a_clear_io_error_and_is_kept) {
  const char *path = tmp_path("garbage.db");
  char garbage[8192];
  uint64_t rng = 42;
  for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (char)rng_next(&rng);
  cr_assert(write_file(path, garbage, sizeof garbage));
  for (int flags = 0; flags <= FPX__CACHE_READONLY; flags++) {
    fpx__cache *c = (fpx__cache *)1;
    cr_assert_eq(fpx__cache_open(path, flags, &c), FPX_ERR_IO);
    cr_assert_null(c);
    cr_assert(contains(fpx_last_error(), path), "%s", fpx_last_error());
    cr_assert(contains(fpx_last_error(), "not an SQLite database"), "%s", fpx_last_error());
  }
  struct stat sb;
  cr_assert_eq(stat(path, &sb), 0);
  cr_assert_eq((size_t)sb.st_size, sizeof garbage, "the damaged file was modified");
}

Test(cache, a_truncated_database_is_a_clear_io_error) {
  const char *path = tmp_path("trunc.db");
  fpx__cache *c = open_ok(path, 0);
  for (int i = 0; i < 300; i++) {
    fpx__cache_winner w = sample(16 + i, 1, 1.0 + i);
    put_ok(c, &w);
  }
  fpx__cache_close(c); /* checkpoints the WAL into the file */
  struct stat sb;
  cr_assert_eq(stat(path, &sb), 0);
  cr_assert_gt(sb.st_size, 8192, "database too small to truncate meaningfully");
  cr_assert_eq(truncate(path, sb.st_size / 2), 0);
  for (int flags = 0; flags <= FPX__CACHE_READONLY; flags++) {
    fpx_status st = fpx__cache_open(path, flags, &c);
    if (st == FPX_OK) {
      /* a lazily detected truncation must surface on first use */
      size_t n = 0;
      st = fpx__cache_count_winners(c, &n);
      fpx__cache_close(c);
    }
    cr_assert_eq(st, FPX_ERR_IO, "flags %d: %s", flags, fpx_status_name(st));
    cr_assert(contains(fpx_last_error(), path), "%s", fpx_last_error());
    cr_assert(contains(fpx_last_error(), "corrupted"), "%s", fpx_last_error());
  }
}

Test(cache, missing_read_only_file_and_bad_flags_are_errors) {
  fpx__cache *c = (fpx__cache *)1;
  cr_assert_eq(fpx__cache_open(tmp_path("absent.db"), FPX__CACHE_READONLY, &c), FPX_ERR_IO);
  cr_assert_null(c);
  cr_assert(contains(fpx_last_error(), "absent.db"), "%s", fpx_last_error());
  cr_assert_eq(fpx__cache_open(tmp_path("x.db"), 0x80, &c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx__cache_open(tmp_path("x.db"), 0, NULL), FPX_ERR_INVALID_ARGUMENT);
}

Test(cache, read_only_handles_refuse_writes) {
  const char *path = tmp_path("ro.db");
  fpx__cache *c = open_ok(path, 0);
  fpx__cache_close(c);
  c = open_ok(path, FPX__CACHE_READONLY);
  fpx__cache_winner w = sample(64, 1, 2.0);
  cr_assert_eq(fpx__cache_put_winner(c, &w), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "read-only"), "%s", fpx_last_error());
  cr_assert_eq(fpx__cache_clear(c), FPX_ERR_INVALID_ARGUMENT);
  fpx__cache_close(c);
}

/* ---- winners ---------------------------------------------------------- */

Test(cache, upsert_keeps_the_faster_entry) {
  fpx__cache *c = open_ok(":memory:", 0);
  fpx__cache_winner w = sample(1024, 16, 10.0), got;
  int found = 0;
  put_ok(c, &w);
  /* slower: ignored */
  fpx__cache_winner slower = w;
  slower.time_us = 12.0;
  slower.config = (fpx_wo_config){8, 2, 1, 4, 0, 0, 0};
  put_ok(c, &slower);
  cr_assert_eq(fpx__cache_get_winner(c, &w.key, &got, &found), FPX_OK);
  cr_assert(found);
  cr_assert_eq(got.time_us, 10.0);
  cr_assert_eq(got.config.warps_n, 4);
  /* faster: replaces every value column */
  fpx__cache_winner faster = w;
  faster.time_us = 8.5;
  faster.config = (fpx_wo_config){2, 2, 8, 2, 0, 0, 0};
  faster.check_error = 0.002;
  faster.tuned_at = 1800000000;
  snprintf(faster.candidates_checksum, sizeof faster.candidates_checksum, "c0ffee");
  put_ok(c, &faster);
  cr_assert_eq(fpx__cache_get_winner(c, &w.key, &got, &found), FPX_OK);
  cr_assert(found);
  cr_assert_eq(got.time_us, 8.5);
  cr_assert_eq(got.config.warps_n, 2);
  cr_assert_eq(got.config.m_tiles, 8);
  cr_assert_eq(got.config.split_k, 2);
  cr_assert_eq(got.check_error, 0.002);
  cr_assert_eq(got.tuned_at, 1800000000);
  cr_assert_str_eq(got.candidates_checksum, "c0ffee");
  cr_assert_eq(count_of(c), 1);
  fpx__cache_close(c);
}

Test(cache, get_winner_matches_every_key_column) {
  fpx__cache *c = open_ok(":memory:", 0);
  fpx__cache_winner w = sample(2048, 4, 3.0), got;
  put_ok(c, &w);
  int found = 0;
  cr_assert_eq(fpx__cache_get_winner(c, &w.key, &got, &found), FPX_OK);
  cr_assert(found);
  cr_assert_eq(memcmp(&got.key, &w.key, sizeof w.key), 0);
  /* change each key column in turn: no longer found */
  for (int field = 0; field < 14; field++) {
    fpx__cache_key k = w.key;
    switch (field) {
      case 0: k.gpu_name[0] = 'X'; break;
      case 1: snprintf(k.arch, sizeof k.arch, "sm_89"); break;
      case 2: k.sm_count++; break;
      case 3: k.driver_version++; break;
      case 4: k.nvrtc_version++; break;
      case 5: k.fpx_hash[0] = 'f'; break;
      case 6: snprintf(k.family, sizeof k.family, "w8a8"); break;
      case 7: snprintf(k.weight_format, sizeof k.weight_format, "e2m3"); break;
      case 8: snprintf(k.x_dtype, sizeof k.x_dtype, "bf16"); break;
      case 9: snprintf(k.y_dtype, sizeof k.y_dtype, "f32"); break;
      case 10: k.group_size = 128; break;
      case 11: k.n++; break;
      case 12: k.k++; break;
      case 13: k.m_bucket = 8; break;
    }
    found = 1;
    cr_assert_eq(fpx__cache_get_winner(c, &k, &got, &found), FPX_OK);
    cr_assert_not(found, "key column %d ignored", field);
  }
  fpx__cache_close(c);
}

Test(cache, put_rejects_invalid_winners_naming_the_value) {
  fpx__cache *c = open_ok(":memory:", 0);
  fpx__cache_winner w = sample(64, 3, 1.0);
  cr_assert_eq(fpx__cache_put_winner(c, &w), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "m_bucket 3"), "%s", fpx_last_error());
  w = sample(64, 16384, 1.0);
  cr_assert_eq(fpx__cache_put_winner(c, &w), FPX_ERR_INVALID_ARGUMENT);
  w = sample(64, 1, 1.0);
  w.config.warps_n = 3;
  cr_assert_eq(fpx__cache_put_winner(c, &w), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "warps_n 3"), "%s", fpx_last_error());
  w = sample(64, 1, 0.0);
  cr_assert_eq(fpx__cache_put_winner(c, &w), FPX_ERR_INVALID_ARGUMENT);
  w = sample(64, 1, NAN);
  cr_assert_eq(fpx__cache_put_winner(c, &w), FPX_ERR_INVALID_ARGUMENT);
  w = sample(0, 1, 1.0);
  cr_assert_eq(fpx__cache_put_winner(c, &w), FPX_ERR_INVALID_ARGUMENT);
  w = sample(64, 1, 1.0);
  snprintf(w.key.weight_format, sizeof w.key.weight_format, "e9m9");
  cr_assert_eq(fpx__cache_put_winner(c, &w), FPX_ERR_UNSUPPORTED_FORMAT);
  w = sample(64, 1, 1.0);
  snprintf(w.key.weight_format, sizeof w.key.weight_format, "fp6"); /* not canonical */
  cr_assert_neq(fpx__cache_put_winner(c, &w), FPX_OK);
  w = sample(64, 1, 1.0);
  snprintf(w.key.x_dtype, sizeof w.key.x_dtype, "f32");
  char field[32] = "";
  cr_assert_neq(fpx__cache_winner_check(&w, field), FPX_OK);
  cr_assert_str_eq(field, "x_dtype");
  w = sample(64, 1, 1.0);
  w.key.group_size = 48;
  cr_assert_neq(fpx__cache_winner_check(&w, field), FPX_OK);
  cr_assert_str_eq(field, "group_size");
  w = sample(64, 1, 1.0);
  memset(w.key.arch, 'a', sizeof w.key.arch); /* unterminated */
  cr_assert_neq(fpx__cache_winner_check(&w, field), FPX_OK);
  cr_assert_str_eq(field, "arch");
  cr_assert_eq(count_of(c), 0);
  fpx__cache_close(c);
}

static void put_bucket(fpx__cache *c, int bucket) {
  fpx__cache_winner w = sample(4096, bucket, 100.0 + bucket);
  put_ok(c, &w);
}
static int nearest(fpx__cache *c, int bucket) {
  fpx__cache_winner w = sample(4096, bucket, 1.0), got;
  int found = 0;
  cr_assert_eq(fpx__cache_nearest_bucket(c, &w.key, &got, &found), FPX_OK, "%s",
               fpx_last_error());
  if (!found) return -1;
  cr_assert_eq(got.time_us, 100.0 + got.key.m_bucket, "row and bucket disagree");
  return got.key.m_bucket;
}

Test(cache, nearest_bucket_by_log_distance_ties_to_the_smaller) {
  fpx__cache *c = open_ok(":memory:", 0);
  cr_assert_eq(nearest(c, 16), -1);
  put_bucket(c, 4);
  put_bucket(c, 64);
  put_bucket(c, 1024);
  /* another n, nearer: must not be chosen */
  fpx__cache_winner other = sample(8192, 32, 1.0);
  put_ok(c, &other);
  cr_assert_eq(nearest(c, 4), 4);   /* exact */
  cr_assert_eq(nearest(c, 1), 4);
  cr_assert_eq(nearest(c, 8), 4);   /* 1 vs 3 */
  cr_assert_eq(nearest(c, 16), 4);  /* 2 vs 2: tie, smaller */
  cr_assert_eq(nearest(c, 32), 64); /* 3 vs 1 */
  cr_assert_eq(nearest(c, 256), 64); /* 2 vs 2: tie, smaller */
  cr_assert_eq(nearest(c, 512), 1024);
  cr_assert_eq(nearest(c, 8192), 1024);
  fpx__cache_close(c);
}

typedef struct list_state { fpx__cache_winner items[16]; int count, stop_after; } list_state;
static int list_cb(const fpx__cache_winner *w, void *user) {
  list_state *s = user;
  if (s->count < 16) s->items[s->count] = *w;
  s->count++;
  return s->stop_after > 0 && s->count >= s->stop_after;
}

Test(cache, list_in_key_order_stop_early_and_clear) {
  fpx__cache *c = open_ok(":memory:", 0);
  const int64_t ns[] = {512, 128, 4096, 256};
  for (int i = 0; i < 4; i++) {
    fpx__cache_winner w = sample(ns[i], 1 << i, 1.0 + i);
    put_ok(c, &w);
  }
  fpx__cache_winner g = sample(64, 1, 1.0);
  snprintf(g.key.gpu_name, sizeof g.key.gpu_name, "NVIDIA A100-SXM4-80GB");
  put_ok(c, &g);
  list_state s = {0};
  cr_assert_eq(fpx__cache_list_winners(c, list_cb, &s), FPX_OK);
  cr_assert_eq(s.count, 5);
  cr_assert_str_eq(s.items[0].key.gpu_name, "NVIDIA A100-SXM4-80GB");
  cr_assert_eq(s.items[1].key.n, 128);
  cr_assert_eq(s.items[2].key.n, 256);
  cr_assert_eq(s.items[3].key.n, 512);
  cr_assert_eq(s.items[4].key.n, 4096);
  list_state stop = {.stop_after = 2};
  cr_assert_eq(fpx__cache_list_winners(c, list_cb, &stop), FPX_OK);
  cr_assert_eq(stop.count, 2);
  cr_assert_eq(fpx__cache_clear(c), FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(count_of(c), 0);
  fpx__cache_close(c);
}

/* ---- several processes ------------------------------------------------ */

#define PROCS 4
#define PER_PROC 1000

static double shared_time(int proc, int i) {
  return 50.0 + (double)((i * 7919 + proc * 104729) % 10007) * 0.01;
}

static int child_main(const char *path, int proc) {
  fpx__cache *c = NULL;
  if (fpx__cache_open(path, 0, &c) != FPX_OK) return 10;
  for (int i = 0; i < PER_PROC; i++) {
    fpx__cache_winner w = sample(100000 + proc * PER_PROC + i, 1, 1.0 + i);
    if (fpx__cache_put_winner(c, &w) != FPX_OK) return 11;
    fpx__cache_winner s = sample(7, 2, shared_time(proc, i));
    s.config.split_k = 1 + (i % 64);
    if (fpx__cache_put_winner(c, &s) != FPX_OK) return 12;
  }
  fpx__cache_close(c);
  return 0;
}

Test(cache, concurrent_upserts_from_four_processes_lose_nothing, .timeout = 120) {
  const char *path = tmp_path("shared.db");
  char saved[512];
  snprintf(saved, sizeof saved, "%s", path);
  fpx__cache *c = open_ok(saved, 0);
  fpx__cache_close(c);
  pid_t pids[PROCS];
  for (int p = 0; p < PROCS; p++) {
    pids[p] = fork();
    cr_assert_neq(pids[p], -1);
    if (pids[p] == 0) _exit(child_main(saved, p));
  }
  for (int p = 0; p < PROCS; p++) {
    int status = 0;
    cr_assert_eq(waitpid(pids[p], &status, 0), pids[p]);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status 0x%x", p,
              status);
  }
  double best = INFINITY;
  int best_split = 0;
  for (int p = 0; p < PROCS; p++)
    for (int i = 0; i < PER_PROC; i++)
      if (shared_time(p, i) < best) {
        best = shared_time(p, i);
        best_split = 1 + (i % 64);
      }
  c = open_ok(saved, 0);
  cr_assert_eq(count_of(c), PROCS * PER_PROC + 1);
  fpx__cache_winner s = sample(7, 2, 1.0), got;
  int found = 0;
  cr_assert_eq(fpx__cache_get_winner(c, &s.key, &got, &found), FPX_OK);
  cr_assert(found);
  cr_assert_eq(got.time_us, best, "shared key holds %g, minimum was %g", got.time_us, best);
  cr_assert_eq(got.config.split_k, best_split);
  for (int p = 0; p < PROCS; p++) {
    fpx__cache_winner w = sample(100000 + p * PER_PROC + PER_PROC - 1, 1, 1.0);
    cr_assert_eq(fpx__cache_get_winner(c, &w.key, &got, &found), FPX_OK);
    cr_assert(found, "process %d's last row is missing", p);
    cr_assert_eq(got.time_us, (double)PER_PROC);
  }
  fpx__cache_close(c);
}
