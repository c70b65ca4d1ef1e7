/*
 * winners.c - tuned winners: validation, the keep-the-faster upsert, exact
 * and nearest-bucket lookups, listing in key order, counting and clearing.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cache_internal.h"
#include "config.h"
#include "error.h"
#include "wgmma_config.h"

#define KEY_COLUMNS                                                              \
  "gpu_name, arch, sm_count, driver_version, nvrtc_version, fpx_hash, family, " \
  "weight_format, x_dtype, y_dtype, group_size, n, k, m_bucket"
#define VALUE_COLUMNS \
  "warps_n, warps_k, m_tiles, split_k, time_us, check_tolerance, check_error, tuned_at"
/* The key without m_bucket, as a WHERE clause over parameters ?1..?13. */
#define KEY_WHERE_NO_BUCKET                                                       \
  "gpu_name = ?1 AND arch = ?2 AND sm_count = ?3 AND driver_version = ?4 AND "   \
  "nvrtc_version = ?5 AND fpx_hash = ?6 AND family = ?7 AND weight_format = ?8 " \
  "AND x_dtype = ?9 AND y_dtype = ?10 AND group_size = ?11 AND n = ?12 AND k = ?13"

static int bounded(const char *s, size_t size) { return memchr(s, '\0', size) != NULL; }

static int is_hex(const char *s) {
  for (; *s != '\0'; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
      return 0;
  return 1;
}

#define FIELD(name) snprintf(field_buf, sizeof field_buf, "%s", name)

fpx_status fpx__cache_winner_check(const fpx__cache_winner *w, char field[32]) {
  fpx_status st = FPX_OK;
  char field_buf[32] = "";
  const fpx__cache_key *k;
  fpx__wo_key wk;
  fpx_format_info info;
  FPX_CHECK_PTR(w);
  k = &w->key;
#define STRING_FIELD(member)                                                             \
  if (!bounded(k->member, sizeof k->member) || k->member[0] == '\0') {                   \
    FIELD(#member);                                                                      \
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "winner field " #member                    \
                    " is empty or not terminated within %zu bytes", sizeof k->member);   \
    goto fail;                                                                           \
  }
  STRING_FIELD(gpu_name)
  STRING_FIELD(arch)
  STRING_FIELD(fpx_hash)
  STRING_FIELD(family)
  STRING_FIELD(weight_format)
  STRING_FIELD(x_dtype)
  STRING_FIELD(y_dtype)
#undef STRING_FIELD
  if (!bounded(w->candidates_checksum, sizeof w->candidates_checksum)) {
    FIELD("candidates_checksum");
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT,
                    "winner field candidates_checksum is not terminated within %zu bytes",
                    sizeof w->candidates_checksum);
    goto fail;
  }
  if (!is_hex(k->fpx_hash)) {
    FIELD("fpx_hash");
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "winner fpx_hash \"%s\" is not hex", k->fpx_hash);
    goto fail;
  }
  if (strcmp(k->family, "weight_only") != 0) {
    FIELD("family");
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "winner family \"%s\" is not weight_only",
                    k->family);
    goto fail;
  }
  FIELD("weight_format");
  FPX_TRY(fpx_format_parse(k->weight_format, &wk.format));
  FPX_TRY(fpx_format_get_info(wk.format, &info));
  if (strcmp(info.name, k->weight_format) != 0) {
    st = fpx__error(FPX_ERR_UNSUPPORTED_FORMAT,
                    "winner weight_format \"%s\" is not canonical (write \"%s\")",
                    k->weight_format, info.name);
    goto fail;
  }
  FIELD("x_dtype");
  FPX_TRY(fpx_dtype_parse(k->x_dtype, &wk.x_dtype));
  if (strcmp(fpx_dtype_name(wk.x_dtype), k->x_dtype) != 0) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "winner x_dtype \"%s\" is not canonical (write \"%s\")",
                    k->x_dtype, fpx_dtype_name(wk.x_dtype));
    goto fail;
  }
  FIELD("y_dtype");
  FPX_TRY(fpx_dtype_parse(k->y_dtype, &wk.y_dtype));
  if (strcmp(fpx_dtype_name(wk.y_dtype), k->y_dtype) != 0) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "winner y_dtype \"%s\" is not canonical (write \"%s\")",
                    k->y_dtype, fpx_dtype_name(wk.y_dtype));
    goto fail;
  }
  /* staged so that a failure names its field: the format/x_dtype pair first
   * with a neutral y_dtype and group, then y_dtype, then group_size */
  {
    const fpx_dtype y = wk.y_dtype;
    wk.y_dtype = FPX_DTYPE_F16;
    wk.group_size = 0;
    FIELD("x_dtype");
    FPX_TRY(fpx__wo_key_check(&wk));
    wk.y_dtype = y;
    FIELD("y_dtype");
    FPX_TRY(fpx__wo_key_check(&wk));
    wk.group_size = k->group_size;
    FIELD("group_size");
    FPX_TRY(fpx__wo_key_check(&wk));
  }
  if (k->n < 1 || k->k < 1) {
    FIELD(k->n < 1 ? "n" : "k");
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "winner %s = %lld is not >= 1",
                    k->n < 1 ? "n" : "k", (long long)(k->n < 1 ? k->n : k->k));
    goto fail;
  }
  if (k->m_bucket < 1 || k->m_bucket > FPX__CACHE_M_BUCKET_MAX ||
      (k->m_bucket & (k->m_bucket - 1)) != 0) {
    FIELD("m_bucket");
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT,
                    "winner m_bucket %d is not a power of two in 1..%d", k->m_bucket,
                    FPX__CACHE_M_BUCKET_MAX);
    goto fail;
  }
  FIELD("config");
  FPX_TRY(fpx__wo_config_check(&w->config));
  if (w->config.kernel == 1) {
    const fpx__wgmma_config wc = fpx__wgmma_config_of(&w->config);
    wk.group_size = k->group_size;
    FPX_TRY(fpx__wgmma_key_check(&wk));
    FPX_TRY(fpx__wgmma_config_check(&wk, &wc));
  }
  if (!(w->time_us > 0) || !isfinite(w->time_us)) {
    FIELD("time_us");
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "winner time_us %g is not finite and > 0",
                    w->time_us);
    goto fail;
  }
  if (!isfinite(w->check_tolerance) || !isfinite(w->check_error)) {
    FIELD(!isfinite(w->check_tolerance) ? "check_tolerance" : "check_error");
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "winner %s is not finite", field_buf);
    goto fail;
  }
  return FPX_OK;
fail:
  if (field != NULL) snprintf(field, 32, "%s", field_buf);
  return st;
}

static fpx_status bind_key(fpx__cache *c, sqlite3_stmt *stmt, const fpx__cache_key *k,
                           int with_bucket) {
  int rc = SQLITE_OK;
#define B(expr) \
  if (rc == SQLITE_OK) rc = (expr)
  B(sqlite3_bind_text(stmt, 1, k->gpu_name, -1, SQLITE_STATIC));
  B(sqlite3_bind_text(stmt, 2, k->arch, -1, SQLITE_STATIC));
  B(sqlite3_bind_int(stmt, 3, k->sm_count));
  B(sqlite3_bind_int(stmt, 4, k->driver_version));
  B(sqlite3_bind_int(stmt, 5, k->nvrtc_version));
  B(sqlite3_bind_text(stmt, 6, k->fpx_hash, -1, SQLITE_STATIC));
  B(sqlite3_bind_text(stmt, 7, k->family, -1, SQLITE_STATIC));
  B(sqlite3_bind_text(stmt, 8, k->weight_format, -1, SQLITE_STATIC));
  B(sqlite3_bind_text(stmt, 9, k->x_dtype, -1, SQLITE_STATIC));
  B(sqlite3_bind_text(stmt, 10, k->y_dtype, -1, SQLITE_STATIC));
  B(sqlite3_bind_int(stmt, 11, k->group_size));
  B(sqlite3_bind_int64(stmt, 12, k->n));
  B(sqlite3_bind_int64(stmt, 13, k->k));
  if (with_bucket) B(sqlite3_bind_int(stmt, 14, k->m_bucket));
#undef B
  return rc == SQLITE_OK ? FPX_OK : fpx__cache_sql_error(c, rc, "binding a key");
}

static void column_text(sqlite3_stmt *stmt, int col, char *dst, size_t size) {
  const unsigned char *t = sqlite3_column_text(stmt, col);
  snprintf(dst, size, "%s", t != NULL ? (const char *)t : "");
}

/* Reads a row of SELECT_WINNER. */
static void read_winner(sqlite3_stmt *stmt, fpx__cache_winner *w) {
  fpx__cache_key *k = &w->key;
  memset(w, 0, sizeof *w);
  column_text(stmt, 0, k->gpu_name, sizeof k->gpu_name);
  column_text(stmt, 1, k->arch, sizeof k->arch);
  k->sm_count = sqlite3_column_int(stmt, 2);
  k->driver_version = sqlite3_column_int(stmt, 3);
  k->nvrtc_version = sqlite3_column_int(stmt, 4);
  column_text(stmt, 5, k->fpx_hash, sizeof k->fpx_hash);
  column_text(stmt, 6, k->family, sizeof k->family);
  column_text(stmt, 7, k->weight_format, sizeof k->weight_format);
  column_text(stmt, 8, k->x_dtype, sizeof k->x_dtype);
  column_text(stmt, 9, k->y_dtype, sizeof k->y_dtype);
  k->group_size = sqlite3_column_int(stmt, 10);
  k->n = sqlite3_column_int64(stmt, 11);
  k->k = sqlite3_column_int64(stmt, 12);
  k->m_bucket = sqlite3_column_int(stmt, 13);
  w->config.warps_n = sqlite3_column_int(stmt, 14);
  w->config.warps_k = sqlite3_column_int(stmt, 15);
  w->config.m_tiles = sqlite3_column_int(stmt, 16);
  w->config.split_k = sqlite3_column_int(stmt, 17);
  w->time_us = sqlite3_column_double(stmt, 18);
  w->check_tolerance = sqlite3_column_double(stmt, 19);
  w->check_error = sqlite3_column_double(stmt, 20);
  w->tuned_at = sqlite3_column_int64(stmt, 21);
  column_text(stmt, 22, w->candidates_checksum, sizeof w->candidates_checksum);
  w->config.kernel = sqlite3_column_int(stmt, 23);
  w->config.tokens = sqlite3_column_int(stmt, 24);
  w->config.stages = sqlite3_column_int(stmt, 25);
  /* wgmma rows stored before the family had split-K hold split_k 0 */
  if (w->config.kernel == 1 && w->config.split_k == 0) w->config.split_k = 1;
}

/* "SELECT <all columns> FROM winners <tail>"; schema 1 has no checksum,
 * schemas 1 and 2 no kernel fields (their rows are mma.sync). */
static fpx_status prepare_select(fpx__cache *c, const char *tail, sqlite3_stmt **out) {
  char sql[1024];
  snprintf(sql, sizeof sql, "SELECT " KEY_COLUMNS ", " VALUE_COLUMNS ", %s, %s FROM winners %s",
           c->version >= 2 ? "candidates_checksum" : "''",
           c->version >= 3 ? "kernel, tokens, stages" : "0, 0, 0", tail);
  return fpx__cache_prepare(c, sql, out);
}

fpx_status fpx__cache_prepare_upsert(fpx__cache *c, sqlite3_stmt **out) {
  return fpx__cache_prepare(
      c,
      "INSERT INTO winners (" KEY_COLUMNS ", " VALUE_COLUMNS ", candidates_checksum, kernel, "
      "tokens, stages) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
      "?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26) "
      "ON CONFLICT (" KEY_COLUMNS ") DO UPDATE SET warps_n = excluded.warps_n, "
      "warps_k = excluded.warps_k, m_tiles = excluded.m_tiles, split_k = excluded.split_k, "
      "time_us = excluded.time_us, check_tolerance = excluded.check_tolerance, "
      "check_error = excluded.check_error, tuned_at = excluded.tuned_at, "
      "candidates_checksum = excluded.candidates_checksum, kernel = excluded.kernel, "
      "tokens = excluded.tokens, stages = excluded.stages "
      "WHERE excluded.time_us < winners.time_us",
      out);
}

fpx_status fpx__cache_upsert(fpx__cache *c, sqlite3_stmt *stmt, const fpx__cache_winner *w) {
  fpx_status st = FPX_OK;
  int rc = SQLITE_OK;
  sqlite3_reset(stmt);
  FPX_TRY(bind_key(c, stmt, &w->key, 1));
#define B(expr) \
  if (rc == SQLITE_OK) rc = (expr)
  /* the fields the configuration's family ignores are stored as 0 */
  const fpx_wo_config *cfg = &w->config;
  const int wg = cfg->kernel == 1;
  B(sqlite3_bind_int(stmt, 15, wg ? 0 : cfg->warps_n));
  B(sqlite3_bind_int(stmt, 16, wg ? 0 : cfg->warps_k));
  B(sqlite3_bind_int(stmt, 17, wg ? 0 : cfg->m_tiles));
  B(sqlite3_bind_int(stmt, 18, cfg->split_k));
  B(sqlite3_bind_double(stmt, 19, w->time_us));
  B(sqlite3_bind_double(stmt, 20, w->check_tolerance));
  B(sqlite3_bind_double(stmt, 21, w->check_error));
  B(sqlite3_bind_int64(stmt, 22, w->tuned_at));
  B(sqlite3_bind_text(stmt, 23, w->candidates_checksum, -1, SQLITE_STATIC));
  B(sqlite3_bind_int(stmt, 24, cfg->kernel));
  B(sqlite3_bind_int(stmt, 25, wg ? cfg->tokens : 0));
  B(sqlite3_bind_int(stmt, 26, wg ? cfg->stages : 0));
#undef B
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) {
    st = fpx__cache_sql_error(c, rc, "storing a winner");
    goto fail;
  }
fail:
  sqlite3_reset(stmt);
  return st;
}

fpx_status fpx__cache_put_winner(fpx__cache *cache, const fpx__cache_winner *w) {
  fpx_status st = FPX_OK;
  sqlite3_stmt *stmt = NULL;
  FPX_CHECK_PTR(cache);
  FPX_CHECK_PTR(w);
  FPX_TRY(fpx__cache_check_writable(cache, "fpx__cache_put_winner"));
  FPX_TRY(fpx__cache_winner_check(w, NULL));
  FPX_TRY(fpx__cache_prepare_upsert(cache, &stmt));
  FPX_TRY(fpx__cache_upsert(cache, stmt, w));
fail:
  sqlite3_finalize(stmt);
  return st;
}

fpx_status fpx__cache_get_winner(fpx__cache *cache, const fpx__cache_key *key,
                                 fpx__cache_winner *out, int *found) {
  fpx_status st = FPX_OK;
  sqlite3_stmt *stmt = NULL;
  FPX_CHECK_PTR(found);
  *found = 0;
  FPX_CHECK_PTR(cache);
  FPX_CHECK_PTR(key);
  FPX_CHECK_PTR(out);
  FPX_TRY(prepare_select(cache, "WHERE " KEY_WHERE_NO_BUCKET " AND m_bucket = ?14", &stmt));
  FPX_TRY(bind_key(cache, stmt, key, 1));
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    read_winner(stmt, out);
    *found = 1;
  } else if (rc != SQLITE_DONE) {
    st = fpx__cache_sql_error(cache, rc, "looking up a winner");
  }
fail:
  sqlite3_finalize(stmt);
  return st;
}

fpx_status fpx__cache_nearest_bucket(fpx__cache *cache, const fpx__cache_key *key,
                                     fpx__cache_winner *out, int *found) {
  fpx_status st = FPX_OK;
  sqlite3_stmt *stmt = NULL;
  int rc;
  FPX_CHECK_PTR(found);
  *found = 0;
  FPX_CHECK_PTR(cache);
  FPX_CHECK_PTR(key);
  FPX_CHECK_PTR(out);
  if (key->m_bucket < 1) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx__cache_nearest_bucket: m_bucket %d < 1",
                    key->m_bucket);
    goto fail;
  }
  /* ascending buckets: a later bucket replaces the best only when strictly
   * nearer, so ties go to the smaller one */
  FPX_TRY(prepare_select(cache, "WHERE " KEY_WHERE_NO_BUCKET " ORDER BY m_bucket", &stmt));
  FPX_TRY(bind_key(cache, stmt, key, 0));
  const double target = log2((double)key->m_bucket);
  double best = INFINITY;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const int bucket = sqlite3_column_int(stmt, 13);
    if (bucket < 1) continue;
    const double distance = fabs(log2((double)bucket) - target);
    if (distance < best) {
      best = distance;
      read_winner(stmt, out);
      *found = 1;
    }
  }
  if (rc != SQLITE_DONE) {
    *found = 0;
    st = fpx__cache_sql_error(cache, rc, "looking up the nearest bucket");
  }
fail:
  sqlite3_finalize(stmt);
  return st;
}

fpx_status fpx__cache_list_winners(fpx__cache *cache, fpx__cache_winner_fn callback,
                                   void *user) {
  fpx_status st = FPX_OK;
  sqlite3_stmt *stmt = NULL;
  fpx__cache_winner w;
  int rc;
  FPX_CHECK_PTR(cache);
  FPX_CHECK_PTR(callback);
  FPX_TRY(prepare_select(cache, "ORDER BY " KEY_COLUMNS, &stmt));
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    read_winner(stmt, &w);
    if (callback(&w, user) != 0) {
      rc = SQLITE_DONE;
      break;
    }
  }
  if (rc != SQLITE_DONE) st = fpx__cache_sql_error(cache, rc, "listing winners");
fail:
  sqlite3_finalize(stmt);
  return st;
}

static fpx_status count_rows(fpx__cache *cache, const char *sql, size_t *out) {
  fpx_status st = FPX_OK;
  sqlite3_stmt *stmt = NULL;
  FPX_TRY(fpx__cache_prepare(cache, sql, &stmt));
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) {
    st = fpx__cache_sql_error(cache, rc, "counting rows");
    goto fail;
  }
  *out = (size_t)sqlite3_column_int64(stmt, 0);
fail:
  sqlite3_finalize(stmt);
  return st;
}

fpx_status fpx__cache_count_winners(fpx__cache *cache, size_t *out_count) {
  fpx_status st = FPX_OK;
  FPX_CHECK_PTR(out_count);
  *out_count = 0;
  FPX_CHECK_PTR(cache);
  FPX_TRY(count_rows(cache, "SELECT count(*) FROM winners", out_count));
fail:
  return st;
}

fpx_status fpx__cache_count_binaries(fpx__cache *cache, size_t *out_count) {
  fpx_status st = FPX_OK;
  FPX_CHECK_PTR(out_count);
  *out_count = 0;
  FPX_CHECK_PTR(cache);
  if (cache->version < 2) return FPX_OK;
  FPX_TRY(count_rows(cache, "SELECT count(*) FROM binaries", out_count));
fail:
  return st;
}

fpx_status fpx__cache_clear(fpx__cache *cache) {
  fpx_status st = FPX_OK;
  FPX_CHECK_PTR(cache);
  FPX_TRY(fpx__cache_check_writable(cache, "fpx__cache_clear"));
  FPX_TRY(fpx__cache_exec(cache, "BEGIN IMMEDIATE; DELETE FROM winners; DELETE FROM binaries; COMMIT",
                          "clearing the cache"));
fail:
  if (st != FPX_OK && cache != NULL && !sqlite3_get_autocommit(cache->db))
    sqlite3_exec(cache->db, "ROLLBACK", NULL, NULL, NULL);
  return st;
}
