/*
 * config_lookup.c - which configuration fpx_gemm runs when the caller gives
 * none: an in-process table of resolved keys in front of the user database
 * and the databases shipped inside the library for this GPU model (exact M
 * bucket in either before the nearest bucket in either), and the
 * heuristic. Counts where each call's configuration came from.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "context.h"
#include "embedded_templates.h"
#include "error.h"
#include "format.h"

static const char *const source_names[FPX__SRC_COUNT] = {
    "explicit", "user database", "user database (nearest M bucket)", "shipped database", "heuristic",
    "first-use tuning"};

void fpx__ctx_open_databases(fpx_ctx *ctx, const char *cache_path) {
  const char *env = getenv("FPX_LOG");
  ctx->log_fallbacks = env != NULL && strcmp(env, "1") == 0;
  pthread_mutex_init(&ctx->tuned_lock, NULL);
  if (cache_path != NULL && cache_path[0] == '\0') {
    snprintf(ctx->user_db_note, sizeof ctx->user_db_note, "no database (disabled by the caller)");
  } else if (fpx__cache_open(cache_path, 0, &ctx->user_db) != FPX_OK) {
    snprintf(ctx->user_db_note, sizeof ctx->user_db_note, "running without a database: %s",
             fpx_last_error());
    ctx->user_db = NULL;
    if (ctx->log_fallbacks) fprintf(stderr, "fpx: %s\n", ctx->user_db_note);
  } else {
    snprintf(ctx->user_db_note, sizeof ctx->user_db_note, "%s", cache_path ? cache_path : "default");
  }
  /* the shipped databases: an in-memory copy, imported once per context */
  fpx__shipped_databases_open(&ctx->shipped_db);
  fpx__error_clear();
}

fpx_status fpx__shipped_databases_open(fpx__cache **out) {
  fpx_status st = FPX_OK;
  *out = NULL;
  if (fpx__embedded_shipped[0].name == NULL) return FPX_OK;
  FPX_TRY(fpx__cache_open(":memory:", 0, out));
  for (const fpx__embedded_template *s = fpx__embedded_shipped; s->name; s++)
    if (fpx__cache_import_json(*out, s->source, NULL, 0) != FPX_OK && st == FPX_OK) {
      char why[512];
      snprintf(why, sizeof why, "%s", fpx_last_error());
      st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "shipped database %s: %s", s->name, why);
    }
fail:
  return st;
}

void fpx__ctx_close_databases(fpx_ctx *ctx) {
  fpx__cache_close(ctx->user_db);
  fpx__cache_close(ctx->shipped_db);
  free(ctx->tuned);
  pthread_mutex_destroy(&ctx->tuned_lock);
}

static void copy_str(char *dst, size_t size, const char *src) { snprintf(dst, size, "%s", src); }

void fpx__cache_key_for(const fpx_device_info *info, const fpx__wo_key *key, size_t n, size_t k,
                        int m_bucket, fpx__cache_key *out) {
  const fpx__format_traits *t = NULL;
  memset(out, 0, sizeof *out);
  copy_str(out->gpu_name, sizeof out->gpu_name, info->name);
  copy_str(out->arch, sizeof out->arch, info->arch);
  out->sm_count = info->sm_count;
  out->driver_version = info->driver_version;
  out->nvrtc_version = fpx__nvrtc_version();
  copy_str(out->fpx_hash, sizeof out->fpx_hash, fpx__templates_hash());
  copy_str(out->family, sizeof out->family, "weight_only");
  if (fpx__format_lookup(key->format, "cache key", &t) == FPX_OK)
    copy_str(out->weight_format, sizeof out->weight_format, t->info.name);
  copy_str(out->x_dtype, sizeof out->x_dtype, fpx_dtype_name(key->x_dtype));
  copy_str(out->y_dtype, sizeof out->y_dtype, fpx_dtype_name(key->y_dtype));
  out->group_size = key->group_size;
  out->n = (int64_t)n;
  out->k = (int64_t)k;
  out->m_bucket = m_bucket;
}

/* ---- the shipped databases: same GPU model and problem, any driver ---- */

typedef struct shipped_search {
  const fpx__cache_key *want;
  int best_distance; /* |log2 bucket difference| * 2, +1 for the larger of a tie */
  int64_t best_tuned_at;
  fpx_wo_config config;
} shipped_search;

static int log2i(int v) {
  int l = 0;
  while (v > 1) {
    v >>= 1;
    l++;
  }
  return l;
}

static int shipped_visit(const fpx__cache_winner *w, void *user) {
  shipped_search *s = user;
  const fpx__cache_key *a = &w->key, *b = s->want;
  if (strcmp(a->gpu_name, b->gpu_name) || strcmp(a->arch, b->arch) || a->sm_count != b->sm_count ||
      strcmp(a->family, b->family) || strcmp(a->weight_format, b->weight_format) ||
      strcmp(a->x_dtype, b->x_dtype) || strcmp(a->y_dtype, b->y_dtype) ||
      a->group_size != b->group_size || a->n != b->n || a->k != b->k)
    return 0;
  int d = 2 * abs(log2i(a->m_bucket) - log2i(b->m_bucket)) + (a->m_bucket > b->m_bucket);
  /* the same key tuned again by a later library (another templates hash)
   * is a second entry: the newer measurement wins */
  if (s->best_distance < 0 || d < s->best_distance ||
      (d == s->best_distance && (int64_t)w->tuned_at > s->best_tuned_at)) {
    s->best_distance = d;
    s->best_tuned_at = (int64_t)w->tuned_at;
    s->config = w->config;
  }
  return 0;
}

/* A stored configuration this context can run: valid, and a wgmma one
 * (kernel 1) only on sm_90. */
static int usable(const fpx_ctx *ctx, const fpx_wo_config *c) {
  if (fpx__wo_config_check(c) != FPX_OK) return 0;
  return c->kernel != 1 || ctx->sm_version == 90;
}

/* The automatic wgmma rule (fpx__gemm_wgmma_choice) replaces a
 * configuration from a fallback (another M bucket's winner, the heuristic);
 * winners of the exact M bucket, user or shipped, run as stored. */
static void apply_wgmma_rule(const fpx_ctx *ctx, const fpx__wo_key *key, size_t m, size_t n,
                             size_t k, fpx__config_source source, int exact_bucket,
                             fpx_wo_config *cfg) {
  fpx__wgmma_config w;
  if (source != FPX__SRC_USER_NEAREST && source != FPX__SRC_SHIPPED && source != FPX__SRC_HEURISTIC)
    return;
  if (source == FPX__SRC_SHIPPED && exact_bucket) return;
  if (!fpx__gemm_wgmma_choice(ctx, key, m, n, k, &w)) return;
  *cfg = (fpx_wo_config){.kernel = 1, .split_k = w.split_k, .tokens = w.tokens, .stages = w.stages};
}

/* Slow path: the lookup order, without the in-process table. A winner
 * measured at this M bucket (user, then shipped) comes before one of
 * another bucket (user, then shipped): a user database tuned at M = 16 only
 * does not replace the shipped M = 1 winners. */
static fpx__config_source lookup(fpx_ctx *ctx, const fpx__wo_key *key, size_t m, size_t n,
                                 size_t k, int bucket, fpx_wo_config *out, int *exact_bucket) {
  fpx__cache_key ck;
  fpx__cache_winner w;
  int found = 0;
  *exact_bucket = 0;
  fpx__cache_key_for(&ctx->info, key, n, k, bucket, &ck);
  if (ctx->user_db != NULL && fpx__cache_get_winner(ctx->user_db, &ck, &w, &found) == FPX_OK && found &&
      usable(ctx, &w.config)) {
    *out = w.config;
    return FPX__SRC_USER_EXACT;
  }
  shipped_search s = {&ck, -1, 0, {0}};
  if (ctx->shipped_db != NULL && fpx__cache_list_winners(ctx->shipped_db, shipped_visit, &s) != FPX_OK)
    s.best_distance = -1;
  if (s.best_distance >= 0 && !usable(ctx, &s.config)) s.best_distance = -1;
  if (s.best_distance == 0) {
    *out = s.config;
    *exact_bucket = 1;
    return FPX__SRC_SHIPPED;
  }
  if (ctx->user_db != NULL && fpx__cache_nearest_bucket(ctx->user_db, &ck, &w, &found) == FPX_OK && found &&
      usable(ctx, &w.config)) {
    *out = w.config;
    return FPX__SRC_USER_NEAREST;
  }
  if (s.best_distance > 0) {
    *out = s.config;
    return FPX__SRC_SHIPPED;
  }
  fpx__wo_config_default(m, n, k, ctx->info.sm_count, out);
  return FPX__SRC_HEURISTIC;
}

static uint64_t slot_hash(uint64_t id, int64_t n, int64_t k, int bucket) {
  uint64_t h = id * 0x9E3779B97F4A7C15ull;
  h ^= (uint64_t)n * 0xC2B2AE3D27D4EB4Full;
  h ^= (uint64_t)k * 0x165667B19E3779F9ull;
  h ^= (uint64_t)bucket * 0x27D4EB2F165667C5ull;
  return h ^ (h >> 29);
}

static fpx__tuned_entry *find_slot(fpx__tuned_entry *table, size_t capacity, uint64_t id,
                                   int64_t n, int64_t k, int bucket) {
  size_t i = (size_t)slot_hash(id, n, k, bucket) & (capacity - 1);
  for (;; i = (i + 1) & (capacity - 1)) {
    fpx__tuned_entry *e = &table[i];
    if (!e->used || (e->id == id && e->n == n && e->k == k && e->m_bucket == bucket)) return e;
  }
}

static fpx_status grow(fpx_ctx *ctx) {
  size_t cap = ctx->tuned_capacity ? 2 * ctx->tuned_capacity : 64;
  fpx__tuned_entry *table = calloc(cap, sizeof *table);
  if (table == NULL) return fpx__error(FPX_ERR_OUT_OF_MEMORY, "no memory for the configuration table");
  for (size_t i = 0; i < ctx->tuned_capacity; i++)
    if (ctx->tuned[i].used) {
      const fpx__tuned_entry *e = &ctx->tuned[i];
      *find_slot(table, cap, e->id, e->n, e->k, e->m_bucket) = *e;
    }
  free(ctx->tuned);
  ctx->tuned = table;
  ctx->tuned_capacity = cap;
  return FPX_OK;
}

fpx__tuned_entry *fpx__ctx_tuned_entry(fpx_ctx *ctx, const fpx__wo_key *key, size_t m, size_t n,
                                       size_t k) {
  static const fpx_wo_config zero = {0};
  if (ctx->tuned_capacity == 0) return NULL;
  fpx__tuned_entry *e = find_slot(ctx->tuned, ctx->tuned_capacity, fpx__wo_gemm_id(key, &zero), (int64_t)n,
                                  (int64_t)k, fpx__cache_m_bucket(m));
  return e->used ? e : NULL;
}

fpx_status fpx__ctx_resolve_config(fpx_ctx *ctx, const fpx__wo_key *key, size_t m, size_t n,
                                   size_t k, fpx_wo_config *out) {
  static const fpx_wo_config zero = {0};
  const uint64_t id = fpx__wo_gemm_id(key, &zero);
  const int bucket = fpx__cache_m_bucket(m);
  fpx_status st = FPX_OK;
  pthread_mutex_lock(&ctx->tuned_lock);
  if (ctx->tuned_capacity > 0) {
    const fpx__tuned_entry *e = find_slot(ctx->tuned, ctx->tuned_capacity, id, (int64_t)n, (int64_t)k, bucket);
    if (e->used) {
      *out = e->config;
      ctx->source_calls[e->source]++;
      pthread_mutex_unlock(&ctx->tuned_lock);
      return FPX_OK;
    }
  }
  /* first call of this key: the database lookups, then remember */
  fpx_wo_config cfg;
  int exact_bucket;
  const fpx__config_source source = lookup(ctx, key, m, n, k, bucket, &cfg, &exact_bucket);
  fpx__error_clear(); /* a missing or unusable entry is not the call's failure */
  apply_wgmma_rule(ctx, key, m, n, k, source, exact_bucket, &cfg);
  if (2 * (ctx->tuned_count + 1) > ctx->tuned_capacity) FPX_TRY(grow(ctx));
  fpx__tuned_entry *e = find_slot(ctx->tuned, ctx->tuned_capacity, id, (int64_t)n, (int64_t)k, bucket);
  *e = (fpx__tuned_entry){id, (int64_t)n, (int64_t)k, bucket, 1, cfg, source};
  ctx->tuned_count++;
  ctx->lookups++;
  ctx->source_calls[source]++;
  *out = cfg;
  if (ctx->log_fallbacks && source != FPX__SRC_USER_EXACT) {
    char name[FPX__NAME_EXPR_MAX], text[48];
    fpx__wo_gemm_name(key, &cfg, name);
    fpx__wo_config_text(&cfg, text, sizeof text);
    fprintf(stderr, "fpx: N=%zu K=%zu M bucket %d: no tuned entry, using the %s: %s (%s)\n", n, k,
            bucket, source_names[source], name, text);
  }
fail:
  pthread_mutex_unlock(&ctx->tuned_lock);
  return st;
}

FPX_API fpx_status fpx_ctx_get_stats(fpx_ctx *ctx, fpx_ctx_stats *out) {
  fpx__error_clear();
  if (ctx == NULL || out == NULL)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_ctx_get_stats: %s is NULL", ctx ? "out_stats" : "ctx");
  if (out->struct_size < sizeof *out)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_ctx_get_stats: out_stats->struct_size %zu < %zu",
                      out->struct_size, sizeof *out);
  memset(out, 0, sizeof *out);
  out->struct_size = sizeof *out;
  pthread_mutex_lock(&ctx->tuned_lock);
  out->calls_explicit = ctx->source_calls[FPX__SRC_EXPLICIT];
  out->calls_user_exact = ctx->source_calls[FPX__SRC_USER_EXACT];
  out->calls_user_nearest = ctx->source_calls[FPX__SRC_USER_NEAREST];
  out->calls_shipped = ctx->source_calls[FPX__SRC_SHIPPED];
  out->calls_heuristic = ctx->source_calls[FPX__SRC_HEURISTIC];
  out->calls_first_use_tuned = ctx->source_calls[FPX__SRC_FIRST_USE];
  out->lookups = ctx->lookups;
  out->kernels_compiled = ctx->kernels_compiled;
  out->kernels_loaded = ctx->kernels_loaded;
  pthread_mutex_unlock(&ctx->tuned_lock);
  out->user_db_open = ctx->user_db != NULL;
  snprintf(out->user_db_note, sizeof out->user_db_note, "%s", ctx->user_db_note);
  return FPX_OK;
}
