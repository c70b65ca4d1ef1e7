/*
 * test_config_lookup.c - the order in which fpx_gemm finds a configuration
 * (user database exact key, shipped exact M bucket, user nearest M bucket,
 * shipped nearest, heuristic),
 * the in-process table in front of it and the per-source call counts. The
 * context is assembled by hand with a fake device, so no GPU is needed.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "context.h"
#include "embedded_templates.h"

static fpx_ctx *fake_ctx(const char *db_path) {
  fpx_ctx *ctx = calloc(1, sizeof *ctx);
  cr_assert_not_null(ctx);
  pthread_mutex_init(&ctx->lock, NULL);
  snprintf(ctx->info.name, sizeof ctx->info.name, "Test GPU");
  snprintf(ctx->info.arch, sizeof ctx->info.arch, "sm_90a");
  ctx->info.sm_count = 132;
  ctx->info.driver_version = 13000;
  fpx__ctx_open_databases(ctx, db_path);
  return ctx;
}

static void free_ctx(fpx_ctx *ctx) {
  fpx__ctx_close_databases(ctx);
  pthread_mutex_destroy(&ctx->lock);
  free(ctx);
}

static const fpx__wo_key key = {{3, 2}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0};

static fpx_ctx_stats stats_of(fpx_ctx *ctx) {
  fpx_ctx_stats st;
  memset(&st, 0, sizeof st);
  st.struct_size = sizeof st;
  cr_assert_eq(fpx_ctx_get_stats(ctx, &st), FPX_OK);
  return st;
}

static void put(fpx_ctx *ctx, fpx__cache *db, int bucket, fpx_wo_config c) {
  fpx__cache_winner w;
  memset(&w, 0, sizeof w);
  fpx__cache_key_for(&ctx->info, &key, 4096, 4096, bucket, &w.key);
  w.config = c;
  w.time_us = 10;
  w.check_tolerance = 1;
  w.tuned_at = 1;
  snprintf(w.candidates_checksum, sizeof w.candidates_checksum, "0");
  cr_assert_eq(fpx__cache_put_winner(db, &w), FPX_OK, "%s", fpx_last_error());
}

static char db_file[64];
static void setup_db(void) {
  snprintf(db_file, sizeof db_file, "/tmp/fpx-lookup-%d.db", (int)getpid());
}
static void teardown_db(void) {
  char path[80];
  unlink(db_file);
  snprintf(path, sizeof path, "%s-wal", db_file);
  unlink(path);
  snprintf(path, sizeof path, "%s-shm", db_file);
  unlink(path);
}

TestSuite(config_lookup, .init = setup_db, .fini = teardown_db);

Test(config_lookup, exact_then_nearest_bucket_then_heuristic) {
  fpx_ctx *ctx = fake_ctx(db_file);
  cr_assert_not_null(ctx->user_db, "%s", ctx->user_db_note);
  const fpx_wo_config at16 = {2, 2, 2, 3, 0, 0, 0}, at256 = {8, 1, 8, 1, 0, 0, 0};
  put(ctx, ctx->user_db, 16, at16);
  put(ctx, ctx->user_db, 256, at256);
  fpx_wo_config c;
  /* exact bucket: M = 9..16 all map to bucket 16 */
  cr_assert_eq(fpx__ctx_resolve_config(ctx, &key, 12, 4096, 4096, &c), FPX_OK);
  cr_assert_eq(memcmp(&c, &at16, sizeof c), 0);
  /* bucket 64 is nearer to 16 (2 steps) than to 256 (2 steps): tie -> smaller */
  cr_assert_eq(fpx__ctx_resolve_config(ctx, &key, 64, 4096, 4096, &c), FPX_OK);
  cr_assert_eq(memcmp(&c, &at16, sizeof c), 0);
  /* bucket 128 is nearer to 256 */
  cr_assert_eq(fpx__ctx_resolve_config(ctx, &key, 100, 4096, 4096, &c), FPX_OK);
  cr_assert_eq(memcmp(&c, &at256, sizeof c), 0);
  /* another shape: nothing tuned -> the heuristic */
  fpx_wo_config h;
  fpx__wo_config_default(1, 8192, 8192, 132, &h);
  cr_assert_eq(fpx__ctx_resolve_config(ctx, &key, 1, 8192, 8192, &c), FPX_OK);
  cr_assert_eq(memcmp(&c, &h, sizeof c), 0);
  /* second calls come from memory and count under the same source */
  cr_assert_eq(fpx__ctx_resolve_config(ctx, &key, 12, 4096, 4096, &c), FPX_OK);
  const fpx_ctx_stats st = stats_of(ctx);
  cr_assert_eq(st.calls_user_exact, 2);
  cr_assert_eq(st.calls_user_nearest, 2);
  cr_assert_eq(st.calls_heuristic, 1);
  cr_assert_eq(st.lookups, 4);
  cr_assert_eq(st.user_db_open, 1);
  free_ctx(ctx);
}

/* A shipped winner of the call's own M bucket comes before a user winner of
 * another bucket; the user's nearest bucket comes before the shipped
 * database's nearest. */
Test(config_lookup, exact_bucket_before_nearest_across_databases) {
  fpx_ctx *ctx = fake_ctx(db_file);
  cr_assert_not_null(ctx->user_db, "%s", ctx->user_db_note);
  if (ctx->shipped_db == NULL) cr_assert_eq(fpx__cache_open(":memory:", 0, &ctx->shipped_db), FPX_OK);
  const fpx_wo_config user16 = {2, 2, 2, 3, 0, 0, 0}, shipped1 = {1, 4, 1, 2, 0, 0, 0},
                      shipped4096 = {8, 1, 8, 1, 0, 0, 0};
  put(ctx, ctx->user_db, 16, user16);
  put(ctx, ctx->shipped_db, 1, shipped1);
  put(ctx, ctx->shipped_db, 4096, shipped4096);
  fpx_wo_config c;
  cr_assert_eq(fpx__ctx_resolve_config(ctx, &key, 1, 4096, 4096, &c), FPX_OK);
  cr_assert(fpx__wo_config_equal(&c, &shipped1), "M = 1 took %d/%d/%d/%d", c.warps_n, c.warps_k,
            c.m_tiles, c.split_k);
  cr_assert_eq(fpx__ctx_resolve_config(ctx, &key, 16, 4096, 4096, &c), FPX_OK);
  cr_assert(fpx__wo_config_equal(&c, &user16));
  /* bucket 8: user 16 (1 step) and shipped 1 (3 steps) are both nearest
   * candidates; the user's wins */
  cr_assert_eq(fpx__ctx_resolve_config(ctx, &key, 8, 4096, 4096, &c), FPX_OK);
  cr_assert(fpx__wo_config_equal(&c, &user16));
  const fpx_ctx_stats st = stats_of(ctx);
  cr_assert_eq(st.calls_shipped, 1);
  cr_assert_eq(st.calls_user_exact, 1);
  cr_assert_eq(st.calls_user_nearest, 1);
  free_ctx(ctx);
}

/* A shipped key tuned again by a later library is a second entry (another
 * templates hash): the newer one (tuned_at) is used, whichever comes first. */
static void put_shipped(fpx_ctx *ctx, const char *hash, int64_t tuned_at, fpx_wo_config c) {
  fpx__cache_winner w;
  memset(&w, 0, sizeof w);
  fpx__cache_key_for(&ctx->info, &key, 4096, 4096, 512, &w.key);
  snprintf(w.key.fpx_hash, sizeof w.key.fpx_hash, "%s", hash);
  w.config = c;
  w.time_us = 10;
  w.check_tolerance = 1;
  w.tuned_at = tuned_at;
  snprintf(w.candidates_checksum, sizeof w.candidates_checksum, "0");
  cr_assert_eq(fpx__cache_put_winner(ctx->shipped_db, &w), FPX_OK, "%s", fpx_last_error());
}

Test(config_lookup, shipped_key_tuned_twice_takes_the_newer_entry) {
  const fpx_wo_config older = {1, 4, 1, 2, 0, 0, 0}, newer = {2, 2, 2, 3, 0, 0, 0};
  for (int newer_first = 0; newer_first < 2; newer_first++) {
    fpx_ctx *ctx = fake_ctx(NULL);
    if (ctx->shipped_db != NULL) fpx__cache_close(ctx->shipped_db);
    cr_assert_eq(fpx__cache_open(":memory:", 0, &ctx->shipped_db), FPX_OK);
    if (newer_first) put_shipped(ctx, "bbbb", 2000, newer);
    put_shipped(ctx, "aaaa", 1000, older);
    if (!newer_first) put_shipped(ctx, "bbbb", 2000, newer);
    fpx_wo_config c;
    cr_assert_eq(fpx__ctx_resolve_config(ctx, &key, 512, 4096, 4096, &c), FPX_OK);
    cr_assert(fpx__wo_config_equal(&c, &newer), "newer entry %s: took %d/%d/%d/%d",
              newer_first ? "first" : "second", c.warps_n, c.warps_k, c.m_tiles, c.split_k);
    free_ctx(ctx);
  }
}

Test(config_lookup, a_different_gpu_or_driver_does_not_match) {
  fpx_ctx *ctx = fake_ctx(db_file);
  put(ctx, ctx->user_db, 1, (fpx_wo_config){1, 4, 1, 5, 0, 0, 0});
  ctx->info.driver_version = 13010; /* a driver update invalidates tuned entries */
  fpx_wo_config c, h;
  fpx__wo_config_default(1, 4096, 4096, 132, &h);
  cr_assert_eq(fpx__ctx_resolve_config(ctx, &key, 1, 4096, 4096, &c), FPX_OK);
  cr_assert_eq(memcmp(&c, &h, sizeof c), 0);
  free_ctx(ctx);
}

Test(config_lookup, shipped_entries_match_the_gpu_model_at_any_driver) {
  fpx_ctx *ctx = fake_ctx("");
  cr_assert_null(ctx->user_db);
  cr_assert(strstr(ctx->user_db_note, "disabled") != NULL);
  if (ctx->shipped_db == NULL) cr_assert_eq(fpx__cache_open(":memory:", 0, &ctx->shipped_db), FPX_OK);
  const fpx_wo_config shipped = {4, 2, 1, 6, 0, 0, 0};
  fpx_device_info other_driver = ctx->info;
  other_driver.driver_version = 12040;
  fpx__cache_winner w;
  memset(&w, 0, sizeof w);
  fpx__cache_key_for(&other_driver, &key, 4096, 4096, 8, &w.key);
  w.config = shipped;
  w.time_us = 5;
  w.check_tolerance = 1;
  snprintf(w.candidates_checksum, sizeof w.candidates_checksum, "0");
  cr_assert_eq(fpx__cache_put_winner(ctx->shipped_db, &w), FPX_OK, "%s", fpx_last_error());
  fpx_wo_config c;
  cr_assert_eq(fpx__ctx_resolve_config(ctx, &key, 3, 4096, 4096, &c), FPX_OK); /* bucket 4 -> 8 */
  cr_assert_eq(memcmp(&c, &shipped, sizeof c), 0);
  cr_assert_eq(stats_of(ctx).calls_shipped, 1);
  free_ctx(ctx);
}

/* The database shipped for the H200 holds the W8A8 rowwise keys
 * (tools/ship-sweep.sh with KEYS="--family w8a8"): on llama3-8b o (N = K = 4096) the tuned
 * mma.sync tile at M = 16 and the wgmma family with 64 tokens at M = 64
 * (docs/tuning/h200-ship-w8a8-small-m.log), not the fallbacks. */
Test(config_lookup, shipped_h200_database_holds_w8a8_winners) {
  fpx_ctx *ctx = fake_ctx("");
  snprintf(ctx->info.name, sizeof ctx->info.name, "NVIDIA H200");
  ctx->sm_version = 90;
  cr_assert_not_null(ctx->shipped_db, "no shipped database is embedded");
  const fpx__wo_key w8a8 = {{4, 3}, FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0};
  fpx_wo_config c, fallback;
  cr_assert_eq(fpx__ctx_resolve_config(ctx, &w8a8, 16, 4096, 4096, &c), FPX_OK, "%s",
               fpx_last_error());
  /* the tuned winners (which tile won is the database's business, and
   * changes with each retune): not the heuristic's tile at M = 16, the
   * wgmma family at M = 64 (every W8A8 winner from M = 32 is) */
  fpx__wo_config_default(16, 4096, 4096, 132, &fallback);
  cr_assert(!fpx__wo_config_equal(&c, &fallback), "M = 16: the tuned tile is the heuristic's");
  cr_assert_eq(fpx__ctx_resolve_config(ctx, &w8a8, 64, 4096, 4096, &c), FPX_OK, "%s",
               fpx_last_error());
  cr_assert(c.kernel == 1 && c.tokens == 64, "M = 64: %d %d/%d/%d", c.kernel, c.tokens, c.stages,
            c.split_k);
  cr_assert_eq(stats_of(ctx).calls_shipped, 2);
  free_ctx(ctx);
}

Test(config_lookup, a_corrupted_database_runs_uncached) {
  FILE *f = fopen(db_file, "wb");
  cr_assert_not_null(f);
  for (int i = 0; i < 4096; i++) fputc(i * 7 + 3, f);
  fclose(f);
  fpx_ctx *ctx = fake_ctx(db_file);
  cr_assert_null(ctx->user_db);
  cr_assert(strstr(ctx->user_db_note, "running without a database") != NULL, "%s", ctx->user_db_note);
  fpx_wo_config c;
  cr_assert_eq(fpx__ctx_resolve_config(ctx, &key, 1, 4096, 4096, &c), FPX_OK);
  cr_assert_eq(fpx__wo_config_check(&c), FPX_OK);
  /* the file is left as it was */
  f = fopen(db_file, "rb");
  cr_assert_eq(fgetc(f), 3);
  fclose(f);
  free_ctx(ctx);
}

/* Tuned winners are keyed by the weight-only template alone: adding or
 * changing another template (quantizers, wgmma) keeps a user's winners. */
Test(config_lookup, winners_hash_covers_the_weight_only_template_only) {
  const char *src = fpx__template_source(FPX__TEMPLATE_WEIGHT_ONLY);
  cr_assert_not_null(src);
  uint64_t h = fpx__hash64(FPX_VERSION_STRING, strlen(FPX_VERSION_STRING), 0);
  h = fpx__hash64(FPX__TEMPLATE_WEIGHT_ONLY, strlen(FPX__TEMPLATE_WEIGHT_ONLY), h);
  h = fpx__hash64(src, strlen(src), h);
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
  cr_assert_str_eq(fpx__templates_hash(), hex);
}
