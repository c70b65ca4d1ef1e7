/*
 * binaries.c - compiled kernel binaries keyed by the caller's hash of
 * (source, options, NVRTC version, arch). Each blob carries an FNV-1a
 * checksum checked on every load; a mismatching row is removed so the
 * caller recompiles, and a damaged blob is never handed out.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache_internal.h"
#include "config.h"
#include "error.h"

static void checksum_hex(const void *blob, size_t size, char out[17]) {
  snprintf(out, 17, "%016" PRIx64, fpx__hash64(blob, size, 0));
}

static fpx_status check_hash(const char *func, const char *hash) {
  const size_t len = strlen(hash);
  if (len == 0 || len > 32)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: hash \"%s\" is not 1..32 hex digits",
                      func, hash);
  for (size_t i = 0; i < len; i++) {
    const char ch = hash[i];
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
      return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: hash \"%s\" is not hex", func, hash);
  }
  return FPX_OK;
}

fpx_status fpx__cache_put_binary(fpx__cache *cache, const char *hash, const char *arch,
                                 int nvrtc_version, const char *lowered_name,
                                 const void *blob, size_t size) {
  fpx_status st = FPX_OK;
  sqlite3_stmt *stmt = NULL;
  char checksum[17];
  int rc = SQLITE_OK;
  FPX_CHECK_PTR(cache);
  FPX_CHECK_PTR(hash);
  FPX_CHECK_PTR(arch);
  FPX_CHECK_PTR(lowered_name);
  FPX_CHECK_PTR(blob);
  FPX_TRY(fpx__cache_check_writable(cache, "fpx__cache_put_binary"));
  FPX_TRY(check_hash("fpx__cache_put_binary", hash));
  if (strlen(lowered_name) == 0 || strlen(lowered_name) >= FPX__CACHE_LOWERED_NAME_MAX) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT,
                    "fpx__cache_put_binary: lowered name of %zu bytes is not 1..%d",
                    strlen(lowered_name), FPX__CACHE_LOWERED_NAME_MAX - 1);
    goto fail;
  }
  if (size == 0 || size > (size_t)0x7fffffff) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx__cache_put_binary: blob size %zu is not "
                    "1..2^31-1", size);
    goto fail;
  }
  checksum_hex(blob, size, checksum);
  FPX_TRY(fpx__cache_prepare(
      cache,
      "INSERT OR REPLACE INTO binaries (hash, arch, nvrtc_version, lowered_name, blob, "
      "checksum, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
      &stmt));
#define B(expr) \
  if (rc == SQLITE_OK) rc = (expr)
  B(sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC));
  B(sqlite3_bind_text(stmt, 2, arch, -1, SQLITE_STATIC));
  B(sqlite3_bind_int(stmt, 3, nvrtc_version));
  B(sqlite3_bind_text(stmt, 4, lowered_name, -1, SQLITE_STATIC));
  B(sqlite3_bind_blob(stmt, 5, blob, (int)size, SQLITE_STATIC));
  B(sqlite3_bind_text(stmt, 6, checksum, -1, SQLITE_STATIC));
  B(sqlite3_bind_int64(stmt, 7, (sqlite3_int64)time(NULL)));
#undef B
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) st = fpx__cache_sql_error(cache, rc, "storing a binary");
fail:
  sqlite3_finalize(stmt);
  return st;
}

static fpx_status delete_binary(fpx__cache *cache, const char *hash) {
  fpx_status st = FPX_OK;
  sqlite3_stmt *stmt = NULL;
  if (cache->readonly) return FPX_OK;
  FPX_TRY(fpx__cache_prepare(cache, "DELETE FROM binaries WHERE hash = ?1", &stmt));
  int rc = sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) st = fpx__cache_sql_error(cache, rc, "removing a damaged binary");
fail:
  sqlite3_finalize(stmt);
  return st;
}

fpx_status fpx__cache_get_binary(fpx__cache *cache, const char *hash, void **out_blob,
                                 size_t *out_size,
                                 char lowered_name[FPX__CACHE_LOWERED_NAME_MAX],
                                 int *found) {
  fpx_status st = FPX_OK;
  sqlite3_stmt *stmt = NULL;
  void *copy = NULL;
  int damaged = 0;
  FPX_CHECK_PTR(found);
  *found = 0;
  FPX_CHECK_PTR(out_blob);
  *out_blob = NULL;
  FPX_CHECK_PTR(out_size);
  *out_size = 0;
  FPX_CHECK_PTR(cache);
  FPX_CHECK_PTR(hash);
  FPX_CHECK_PTR(lowered_name);
  FPX_TRY(check_hash("fpx__cache_get_binary", hash));
  if (cache->version < 2) return FPX_OK; /* schema 1 stored no binaries */
  FPX_TRY(fpx__cache_prepare(
      cache, "SELECT blob, checksum, lowered_name FROM binaries WHERE hash = ?1", &stmt));
  int rc = sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE) goto fail; /* not found */
  if (rc != SQLITE_ROW) {
    st = fpx__cache_sql_error(cache, rc, "loading a binary");
    goto fail;
  }
  const void *blob = sqlite3_column_blob(stmt, 0);
  const size_t size = (size_t)sqlite3_column_bytes(stmt, 0);
  const unsigned char *stored = sqlite3_column_text(stmt, 1);
  const unsigned char *name = sqlite3_column_text(stmt, 2);
  char checksum[17];
  checksum_hex(blob != NULL ? blob : "", size, checksum);
  if (blob == NULL || size == 0 || stored == NULL || name == NULL ||
      strlen((const char *)name) >= FPX__CACHE_LOWERED_NAME_MAX ||
      strcmp(checksum, (const char *)stored) != 0) {
    damaged = 1;
    goto fail;
  }
  copy = malloc(size);
  if (copy == NULL) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "fpx__cache_get_binary: %zu bytes", size);
    goto fail;
  }
  memcpy(copy, blob, size);
  snprintf(lowered_name, FPX__CACHE_LOWERED_NAME_MAX, "%s", (const char *)name);
  *out_blob = copy;
  *out_size = size;
  *found = 1;
  copy = NULL;
fail:
  sqlite3_finalize(stmt);
  free(copy);
  if (damaged) st = delete_binary(cache, hash);
  return st;
}
