/*
 * json.c - winners as JSON ({"fpx_tuning_db": 1, "winners": [...]}) for
 * shipping and sharing tuning results, and merging another database file.
 * The kernel family fields (kernel, tokens, stages) are optional on import:
 * files written before them hold mma.sync winners and read as 0.
 * Imports validate every entry before writing anything, then write all of
 * them in one transaction.
 */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_internal.h"
#include "error.h"

#define FPX__JSON_FORMAT_VERSION 1

/* ---- export ----------------------------------------------------------- */

typedef struct export_state {
  cJSON *array;
  const char *gpu_filter;
  int failed;
} export_state;

/* Doubles are written with 17 significant digits: cJSON's own printing may
 * round to 15 digits when that is within an epsilon, which is not exact. */
static int add_double(cJSON *o, const char *name, double v) {
  char text[40];
  if (!isfinite(v)) return cJSON_AddNullToObject(o, name) != NULL;
  snprintf(text, sizeof text, "%.17g", v);
  return cJSON_AddRawToObject(o, name, text) != NULL;
}

static int export_one(const fpx__cache_winner *w, void *user) {
  export_state *s = user;
  const fpx__cache_key *k = &w->key;
  if (s->gpu_filter != NULL && strcmp(s->gpu_filter, k->gpu_name) != 0) return 0;
  cJSON *o = cJSON_CreateObject();
  if (o == NULL || !cJSON_AddItemToArray(s->array, o)) {
    cJSON_Delete(o);
    s->failed = 1;
    return 1;
  }
  const int ok =
      cJSON_AddStringToObject(o, "gpu_name", k->gpu_name) &&
      cJSON_AddStringToObject(o, "arch", k->arch) &&
      cJSON_AddNumberToObject(o, "sm_count", k->sm_count) &&
      cJSON_AddNumberToObject(o, "driver_version", k->driver_version) &&
      cJSON_AddNumberToObject(o, "nvrtc_version", k->nvrtc_version) &&
      cJSON_AddStringToObject(o, "fpx_hash", k->fpx_hash) &&
      cJSON_AddStringToObject(o, "family", k->family) &&
      cJSON_AddStringToObject(o, "weight_format", k->weight_format) &&
      cJSON_AddStringToObject(o, "x_dtype", k->x_dtype) &&
      cJSON_AddStringToObject(o, "y_dtype", k->y_dtype) &&
      cJSON_AddNumberToObject(o, "group_size", k->group_size) &&
      cJSON_AddNumberToObject(o, "n", (double)k->n) &&
      cJSON_AddNumberToObject(o, "k", (double)k->k) &&
      cJSON_AddNumberToObject(o, "m_bucket", k->m_bucket) &&
      cJSON_AddNumberToObject(o, "warps_n", w->config.warps_n) &&
      cJSON_AddNumberToObject(o, "warps_k", w->config.warps_k) &&
      cJSON_AddNumberToObject(o, "m_tiles", w->config.m_tiles) &&
      cJSON_AddNumberToObject(o, "split_k", w->config.split_k) &&
      add_double(o, "time_us", w->time_us) &&
      add_double(o, "check_tolerance", w->check_tolerance) &&
      add_double(o, "check_error", w->check_error) &&
      cJSON_AddNumberToObject(o, "tuned_at", (double)w->tuned_at) &&
      cJSON_AddStringToObject(o, "candidates_checksum", w->candidates_checksum) &&
      cJSON_AddNumberToObject(o, "kernel", w->config.kernel) &&
      cJSON_AddNumberToObject(o, "tokens", w->config.tokens) &&
      cJSON_AddNumberToObject(o, "stages", w->config.stages);
  if (!ok) s->failed = 1;
  return s->failed;
}

fpx_status fpx__cache_export_json(fpx__cache *cache, const char *gpu_filter,
                                  char **out_json) {
  fpx_status st = FPX_OK;
  cJSON *root = NULL;
  export_state s = {0};
  FPX_CHECK_PTR(out_json);
  *out_json = NULL;
  FPX_CHECK_PTR(cache);
  root = cJSON_CreateObject();
  if (root == NULL || !cJSON_AddNumberToObject(root, "fpx_tuning_db", FPX__JSON_FORMAT_VERSION) ||
      (s.array = cJSON_AddArrayToObject(root, "winners")) == NULL)
    goto oom;
  s.gpu_filter = gpu_filter;
  FPX_TRY(fpx__cache_list_winners(cache, export_one, &s));
  if (s.failed) goto oom;
  *out_json = cJSON_Print(root);
  if (*out_json == NULL) goto oom;
  cJSON_Delete(root);
  return FPX_OK;
oom:
  st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "fpx__cache_export_json: out of memory");
fail:
  cJSON_Delete(root);
  return st;
}

/* ---- import ----------------------------------------------------------- */

/* Each reader fills one field of *w from entry `o`, or records a message. */
static fpx_status entry_error(size_t index, const char *field, const char *what) {
  return fpx__error(FPX_ERR_INVALID_ARGUMENT, "tuning JSON: winners[%zu] field %s: %s", index,
                    field, what);
}

static fpx_status read_string(const cJSON *o, size_t index, const char *field, char *dst,
                              size_t size) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, field);
  if (item == NULL) return entry_error(index, field, "missing");
  if (!cJSON_IsString(item) || item->valuestring == NULL)
    return entry_error(index, field, "is not a string");
  if (strlen(item->valuestring) >= size)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "tuning JSON: winners[%zu] field %s: \"%.40s\" is longer than %zu bytes",
                      index, field, item->valuestring, size - 1);
  snprintf(dst, size, "%s", item->valuestring);
  return FPX_OK;
}

static fpx_status read_number(const cJSON *o, size_t index, const char *field, double *dst) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, field);
  if (item == NULL) return entry_error(index, field, "missing");
  if (!cJSON_IsNumber(item)) return entry_error(index, field, "is not a number");
  *dst = item->valuedouble;
  return FPX_OK;
}

static fpx_status read_integer(const cJSON *o, size_t index, const char *field, double lo,
                               double hi, int64_t *dst) {
  double v;
  fpx_status st = read_number(o, index, field, &v);
  if (st != FPX_OK) return st;
  if (!isfinite(v) || v != floor(v) || v < lo || v > hi)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "tuning JSON: winners[%zu] field %s: %.17g is not an integer in "
                      "%.0f..%.0f",
                      index, field, v, lo, hi);
  *dst = (int64_t)v;
  return FPX_OK;
}

static fpx_status read_int(const cJSON *o, size_t index, const char *field, int *dst) {
  int64_t v = 0;
  fpx_status st = read_integer(o, index, field, -2147483648.0, 2147483647.0, &v);
  if (st == FPX_OK) *dst = (int)v;
  return st;
}

/* An integer field that files written before it existed lack: absent
 * reads as 0. */
static fpx_status read_optional_int(const cJSON *o, size_t index, const char *field, int *dst) {
  *dst = 0;
  if (cJSON_GetObjectItemCaseSensitive(o, field) == NULL) return FPX_OK;
  return read_int(o, index, field, dst);
}

static fpx_status parse_entry(const cJSON *o, size_t index, fpx__cache_winner *w) {
  fpx_status st = FPX_OK;
  fpx__cache_key *k = &w->key;
  const double max_int64 = 9007199254740992.0; /* exact in a double */
  memset(w, 0, sizeof *w);
  if (!cJSON_IsObject(o)) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "tuning JSON: winners[%zu] is not an object",
                    index);
    goto fail;
  }
  FPX_TRY(read_string(o, index, "gpu_name", k->gpu_name, sizeof k->gpu_name));
  FPX_TRY(read_string(o, index, "arch", k->arch, sizeof k->arch));
  FPX_TRY(read_int(o, index, "sm_count", &k->sm_count));
  FPX_TRY(read_int(o, index, "driver_version", &k->driver_version));
  FPX_TRY(read_int(o, index, "nvrtc_version", &k->nvrtc_version));
  FPX_TRY(read_string(o, index, "fpx_hash", k->fpx_hash, sizeof k->fpx_hash));
  FPX_TRY(read_string(o, index, "family", k->family, sizeof k->family));
  FPX_TRY(read_string(o, index, "weight_format", k->weight_format, sizeof k->weight_format));
  FPX_TRY(read_string(o, index, "x_dtype", k->x_dtype, sizeof k->x_dtype));
  FPX_TRY(read_string(o, index, "y_dtype", k->y_dtype, sizeof k->y_dtype));
  FPX_TRY(read_int(o, index, "group_size", &k->group_size));
  FPX_TRY(read_integer(o, index, "n", -max_int64, max_int64, &k->n));
  FPX_TRY(read_integer(o, index, "k", -max_int64, max_int64, &k->k));
  FPX_TRY(read_int(o, index, "m_bucket", &k->m_bucket));
  FPX_TRY(read_int(o, index, "warps_n", &w->config.warps_n));
  FPX_TRY(read_int(o, index, "warps_k", &w->config.warps_k));
  FPX_TRY(read_int(o, index, "m_tiles", &w->config.m_tiles));
  FPX_TRY(read_int(o, index, "split_k", &w->config.split_k));
  FPX_TRY(read_number(o, index, "time_us", &w->time_us));
  FPX_TRY(read_number(o, index, "check_tolerance", &w->check_tolerance));
  FPX_TRY(read_number(o, index, "check_error", &w->check_error));
  FPX_TRY(read_integer(o, index, "tuned_at", -max_int64, max_int64, &w->tuned_at));
  FPX_TRY(read_string(o, index, "candidates_checksum", w->candidates_checksum,
                      sizeof w->candidates_checksum));
  FPX_TRY(read_optional_int(o, index, "kernel", &w->config.kernel));
  FPX_TRY(read_optional_int(o, index, "tokens", &w->config.tokens));
  FPX_TRY(read_optional_int(o, index, "stages", &w->config.stages));
  /* wgmma entries exported before the family had split-K carry split_k 0 */
  if (w->config.kernel == 1 && w->config.split_k == 0) w->config.split_k = 1;
fail:
  return st;
}

/* Checks one winner; the message names `source`, the index and the field. */
static fpx_status check_entry(const fpx__cache_winner *w, const char *source, size_t index) {
  char field[32] = "";
  fpx_status st = fpx__cache_winner_check(w, field);
  if (st == FPX_OK) return FPX_OK;
  char detail[512];
  snprintf(detail, sizeof detail, "%s", fpx_last_error());
  return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: winners[%zu] field %s: %s", source, index,
                    field, detail);
}

/* Upserts `count` checked winners in one transaction. */
static fpx_status insert_all(fpx__cache *cache, const fpx__cache_winner *w, size_t count) {
  fpx_status st = FPX_OK;
  sqlite3_stmt *stmt = NULL;
  int in_txn = 0;
  FPX_TRY(fpx__cache_exec(cache, "BEGIN IMMEDIATE", "starting an import"));
  in_txn = 1;
  FPX_TRY(fpx__cache_prepare_upsert(cache, &stmt));
  for (size_t i = 0; i < count; i++) FPX_TRY(fpx__cache_upsert(cache, stmt, &w[i]));
  sqlite3_finalize(stmt);
  stmt = NULL;
  FPX_TRY(fpx__cache_exec(cache, "COMMIT", "committing an import"));
  return FPX_OK;
fail:
  sqlite3_finalize(stmt);
  if (in_txn) sqlite3_exec(cache->db, "ROLLBACK", NULL, NULL, NULL);
  return st;
}

fpx_status fpx__cache_import_json(fpx__cache *cache, const char *json, char *err,
                                  size_t err_size) {
  fpx_status st = FPX_OK;
  cJSON *root = NULL;
  fpx__cache_winner *winners = NULL;
  size_t count = 0;
  if (err != NULL && err_size > 0) err[0] = '\0';
  FPX_CHECK_PTR(cache);
  FPX_CHECK_PTR(json);
  FPX_TRY(fpx__cache_check_writable(cache, "fpx__cache_import_json"));
  const char *end = NULL;
  root = cJSON_ParseWithOpts(json, &end, 1);
  if (root == NULL) {
    const size_t at = end != NULL && end >= json ? (size_t)(end - json) : 0;
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "tuning JSON: syntax error at byte %zu", at);
    goto fail;
  }
  const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "fpx_tuning_db");
  if (!cJSON_IsObject(root) || !cJSON_IsNumber(version) ||
      version->valuedouble != FPX__JSON_FORMAT_VERSION) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT,
                    "tuning JSON: not an object with \"fpx_tuning_db\": %d",
                    FPX__JSON_FORMAT_VERSION);
    goto fail;
  }
  const cJSON *array = cJSON_GetObjectItemCaseSensitive(root, "winners");
  if (!cJSON_IsArray(array)) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "tuning JSON: \"winners\" is missing or not an "
                    "array");
    goto fail;
  }
  count = (size_t)cJSON_GetArraySize(array);
  winners = calloc(count > 0 ? count : 1, sizeof *winners);
  if (winners == NULL) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "tuning JSON: %zu entries", count);
    goto fail;
  }
  size_t index = 0;
  for (const cJSON *o = array->child; o != NULL; o = o->next, index++) {
    FPX_TRY(parse_entry(o, index, &winners[index]));
    FPX_TRY(check_entry(&winners[index], "tuning JSON", index));
  }
  FPX_TRY(insert_all(cache, winners, count));
fail:
  if (st != FPX_OK && err != NULL && err_size > 0)
    snprintf(err, err_size, "%s", fpx_last_error());
  free(winners);
  cJSON_Delete(root);
  return st;
}

/* ---- merge ------------------------------------------------------------ */

typedef struct merge_state {
  fpx__cache_winner *items;
  size_t count, capacity;
  int failed;
} merge_state;

static int collect(const fpx__cache_winner *w, void *user) {
  merge_state *s = user;
  if (s->count == s->capacity) {
    const size_t capacity = s->capacity ? s->capacity * 2 : 64;
    fpx__cache_winner *grown = realloc(s->items, capacity * sizeof *grown);
    if (grown == NULL) {
      s->failed = 1;
      return 1;
    }
    s->items = grown;
    s->capacity = capacity;
  }
  s->items[s->count++] = *w;
  return 0;
}

fpx_status fpx__cache_merge(fpx__cache *dst, const char *src_path) {
  fpx_status st = FPX_OK;
  fpx__cache *src = NULL;
  merge_state s = {0};
  FPX_CHECK_PTR(dst);
  FPX_CHECK_PTR(src_path);
  FPX_TRY(fpx__cache_check_writable(dst, "fpx__cache_merge"));
  FPX_TRY(fpx__cache_open(src_path, FPX__CACHE_READONLY, &src));
  FPX_TRY(fpx__cache_list_winners(src, collect, &s));
  if (s.failed) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "fpx__cache_merge: out of memory reading %s",
                    src_path);
    goto fail;
  }
  for (size_t i = 0; i < s.count; i++) FPX_TRY(check_entry(&s.items[i], src_path, i));
  FPX_TRY(insert_all(dst, s.items, s.count));
fail:
  free(s.items);
  fpx__cache_close(src);
  return st;
}
