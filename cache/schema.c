/*
 * schema.c - the versioned schema (PRAGMA user_version) and its
 * migrations: 0 (empty) -> 1 -> 2 -> 3. Callers run them inside one transaction.
 */
#include <stdio.h>

#include "cache_internal.h"
#include "error.h"

#define FPX__WINNER_KEY_COLUMNS                                                  \
  "gpu_name, arch, sm_count, driver_version, nvrtc_version, fpx_hash, family, " \
  "weight_format, x_dtype, y_dtype, group_size, n, k, m_bucket"

/* Version 1: winners without candidates_checksum, no binaries. */
static const char fpx__schema_v1[] =
    "CREATE TABLE winners ("
    " gpu_name TEXT NOT NULL, arch TEXT NOT NULL, sm_count INTEGER NOT NULL,"
    " driver_version INTEGER NOT NULL, nvrtc_version INTEGER NOT NULL,"
    " fpx_hash TEXT NOT NULL, family TEXT NOT NULL, weight_format TEXT NOT NULL,"
    " x_dtype TEXT NOT NULL, y_dtype TEXT NOT NULL, group_size INTEGER NOT NULL,"
    " n INTEGER NOT NULL, k INTEGER NOT NULL, m_bucket INTEGER NOT NULL,"
    " warps_n INTEGER NOT NULL, warps_k INTEGER NOT NULL, m_tiles INTEGER NOT NULL,"
    " split_k INTEGER NOT NULL, time_us REAL NOT NULL, check_tolerance REAL NOT NULL,"
    " check_error REAL NOT NULL, tuned_at INTEGER NOT NULL,"
    " PRIMARY KEY (" FPX__WINNER_KEY_COLUMNS "));"
    "PRAGMA user_version = 1;";

/* Version 1 -> 2. */
static const char fpx__schema_v2[] =
    "ALTER TABLE winners ADD COLUMN candidates_checksum TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE binaries ("
    " hash TEXT PRIMARY KEY NOT NULL, arch TEXT NOT NULL,"
    " nvrtc_version INTEGER NOT NULL, lowered_name TEXT NOT NULL,"
    " blob BLOB NOT NULL, checksum TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "PRAGMA user_version = 2;";

/* Version 2 -> 3: the kernel family of a winner and the wgmma fields
 * (rows written before are mma.sync). */
static const char fpx__schema_v3[] =
    "ALTER TABLE winners ADD COLUMN kernel INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE winners ADD COLUMN tokens INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE winners ADD COLUMN stages INTEGER NOT NULL DEFAULT 0;"
    "PRAGMA user_version = 3;";

fpx_status fpx__cache_schema_create_v1(fpx__cache *cache) {
  return fpx__cache_exec(cache, fpx__schema_v1, "creating schema version 1");
}

fpx_status fpx__cache_schema_migrate(fpx__cache *cache, int from_version) {
  switch (from_version) {
    case 0:
      return fpx__cache_schema_create_v1(cache);
    case 1:
      return fpx__cache_exec(cache, fpx__schema_v2, "migrating schema 1 -> 2");
    case 2:
      return fpx__cache_exec(cache, fpx__schema_v3, "migrating schema 2 -> 3");
    default:
      return fpx__error(FPX_ERR_INTERNAL, "tuning cache %s: no migration from schema %d",
                        cache->path, from_version);
  }
}

static fpx_status exec_file(const char *path, const char *sql, int create_v1) {
  fpx_status st = FPX_OK;
  fpx__cache c = {0};
  FPX_CHECK_PTR(path);
  snprintf(c.path, sizeof c.path, "%s", path);
  int rc = sqlite3_open_v2(path, &c.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc != SQLITE_OK) {
    st = fpx__cache_sql_error(&c, rc, "opening");
    goto fail;
  }
  FPX_TRY(fpx__cache_exec(&c, "BEGIN", "begin"));
  if (create_v1) FPX_TRY(fpx__cache_schema_create_v1(&c));
  if (sql != NULL) FPX_TRY(fpx__cache_exec(&c, sql, "test statement"));
  FPX_TRY(fpx__cache_exec(&c, "COMMIT", "commit"));
fail:
  sqlite3_close(c.db);
  return st;
}

fpx_status fpx__cache_create_v1_for_testing(const char *path) {
  return exec_file(path, NULL, 1);
}

fpx_status fpx__cache_exec_file_for_testing(const char *path, const char *sql) {
  fpx_status st = FPX_OK;
  FPX_CHECK_PTR(sql);
  FPX_TRY(exec_file(path, sql, 0));
fail:
  return st;
}

fpx_status fpx__cache_exec_for_testing(fpx__cache *cache, const char *sql) {
  fpx_status st = FPX_OK;
  FPX_CHECK_PTR(cache);
  FPX_CHECK_PTR(sql);
  FPX_TRY(fpx__cache_exec(cache, sql, "test statement"));
fail:
  return st;
}
