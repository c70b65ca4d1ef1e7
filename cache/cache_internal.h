/*
 * cache_internal.h - what the files of cache/ share: the handle, the SQLite
 * error translation, and the winners column list. Only cache/ includes it.
 */
#ifndef FPX_CACHE_INTERNAL_H
#define FPX_CACHE_INTERNAL_H

#include <sqlite3.h>

#include "cache.h"

struct fpx__cache {
  sqlite3 *db;
  int readonly;
  int version; /* schema version of the file */
  char path[4096];
};

/* Translates an SQLite result code into FPX_ERR_IO (FPX_ERR_OUT_OF_MEMORY
 * for SQLITE_NOMEM) with a message naming the path and what failed; a
 * corrupted or foreign file is said to be so. */
fpx_status fpx__cache_sql_error(const fpx__cache *cache, int rc, const char *what);
/* Runs SQL without results. */
fpx_status fpx__cache_exec(fpx__cache *cache, const char *sql, const char *what);
/* Prepares one statement. */
fpx_status fpx__cache_prepare(fpx__cache *cache, const char *sql, sqlite3_stmt **out);
/* Fails with FPX_ERR_INVALID_ARGUMENT when the handle is read-only. */
fpx_status fpx__cache_check_writable(const fpx__cache *cache, const char *func);

/* Creates the tables of a schema version on an empty database, or migrates
 * version v -> v+1 (called inside a transaction). */
fpx_status fpx__cache_schema_create_v1(fpx__cache *cache);
fpx_status fpx__cache_schema_migrate(fpx__cache *cache, int from_version);

/* Upserts one (already checked) winner with a prepared upsert statement. */
fpx_status fpx__cache_upsert(fpx__cache *cache, sqlite3_stmt *stmt,
                             const fpx__cache_winner *w);
fpx_status fpx__cache_prepare_upsert(fpx__cache *cache, sqlite3_stmt **out);

#endif
