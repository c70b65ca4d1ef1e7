/*
 * open.c - opening and closing the tuning database: the default location,
 * read-only (immutable) and read-write (WAL, busy timeout) opens, schema
 * version checks and migration, and the translation of SQLite errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache_internal.h"
#include "error.h"

#define FPX__CACHE_BUSY_TIMEOUT_MS 10000

fpx_status fpx__cache_sql_error(const fpx__cache *cache, int rc, const char *what) {
  const char *path = cache != NULL ? cache->path : "(none)";
  const int primary = rc & 0xff;
  if (primary == SQLITE_NOMEM)
    return fpx__error(FPX_ERR_OUT_OF_MEMORY, "tuning cache %s: %s: out of memory", path, what);
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
    return fpx__error(FPX_ERR_IO,
                      "tuning cache %s is corrupted, truncated or not an SQLite database "
                      "(%s: %s); the file is left as is, remove it to start over",
                      path, what, sqlite3_errstr(rc));
  const char *detail = (cache != NULL && cache->db != NULL && sqlite3_errcode(cache->db) == rc)
                           ? sqlite3_errmsg(cache->db)
                           : sqlite3_errstr(rc);
  return fpx__error(FPX_ERR_IO, "tuning cache %s: %s failed: %s", path, what, detail);
}

fpx_status fpx__cache_exec(fpx__cache *cache, const char *sql, const char *what) {
  int rc = sqlite3_exec(cache->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? FPX_OK : fpx__cache_sql_error(cache, rc, what);
}

fpx_status fpx__cache_prepare(fpx__cache *cache, const char *sql, sqlite3_stmt **out) {
  int rc = sqlite3_prepare_v2(cache->db, sql, -1, out, NULL);
  return rc == SQLITE_OK ? FPX_OK : fpx__cache_sql_error(cache, rc, "preparing a statement");
}

fpx_status fpx__cache_check_writable(const fpx__cache *cache, const char *func) {
  if (cache->readonly)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: tuning cache %s is opened read-only",
                      func, cache->path);
  return FPX_OK;
}

static const char *nonempty_env(const char *name) {
  const char *v = getenv(name);
  return (v != NULL && v[0] != '\0') ? v : NULL;
}

fpx_status fpx__cache_default_path(char *buf, size_t size) {
  fpx_status st = FPX_OK;
  const char *dir;
  int len;
  FPX_CHECK_PTR(buf);
  if (size == 0)
    return fpx__error(FPX_ERR_BUFFER_TOO_SMALL, "fpx__cache_default_path: size is 0");
  buf[0] = '\0';
  if ((dir = nonempty_env("FPX_CACHE_DIR")) != NULL)
    len = snprintf(buf, size, "%s/fpx.db", dir);
  else if ((dir = nonempty_env("XDG_CACHE_HOME")) != NULL)
    len = snprintf(buf, size, "%s/fpx/fpx.db", dir);
  else if ((dir = nonempty_env("HOME")) != NULL)
    len = snprintf(buf, size, "%s/.cache/fpx/fpx.db", dir);
  else
    return fpx__error(FPX_ERR_IO,
                      "no tuning cache location: FPX_CACHE_DIR, XDG_CACHE_HOME and HOME "
                      "are all unset");
  if (len < 0 || (size_t)len >= size) {
    buf[0] = '\0';
    return fpx__error(FPX_ERR_BUFFER_TOO_SMALL,
                      "fpx__cache_default_path: the path under %s needs %d bytes, buffer "
                      "holds %zu",
                      dir, len + 1, size);
  }
fail:
  return st;
}

/* mkdir -p of the directory holding `file`. */
static fpx_status make_parent_dirs(const char *file) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", file);
  char *slash = strrchr(dir, '/');
  if (slash == NULL || slash == dir) return FPX_OK;
  *slash = '\0';
  for (char *p = dir + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      const char saved = *p;
      *p = '\0';
      if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return fpx__error(FPX_ERR_IO, "tuning cache: cannot create directory %s: %s", dir,
                          strerror(errno));
      *p = saved;
      if (saved == '\0') break;
    }
  }
  return FPX_OK;
}

/* "file:PATH?immutable=1" with the URI's special characters escaped. */
static fpx_status immutable_uri(const char *path, char *out, size_t size) {
  static const char suffix[] = "?immutable=1";
  size_t used = (size_t)snprintf(out, size, "file:");
  for (const char *p = path; *p != '\0'; p++) {
    const unsigned char ch = (unsigned char)*p;
    if (used + 4 + sizeof suffix > size)
      return fpx__error(FPX_ERR_IO, "tuning cache: path %s is too long", path);
    if (ch == '%' || ch == '?' || ch == '#' || ch < 0x20 || ch >= 0x7f)
      used += (size_t)snprintf(out + used, size - used, "%%%02X", ch);
    else
      out[used++] = (char)ch;
  }
  snprintf(out + used, size - used, "%s", suffix);
  return FPX_OK;
}

static fpx_status read_user_version(fpx__cache *c, int *out) {
  fpx_status st = FPX_OK;
  sqlite3_stmt *stmt = NULL;
  FPX_TRY(fpx__cache_prepare(c, "PRAGMA user_version", &stmt));
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) {
    st = fpx__cache_sql_error(c, rc, "reading the schema version");
    goto fail;
  }
  *out = sqlite3_column_int(stmt, 0);
fail:
  sqlite3_finalize(stmt);
  return st;
}

static fpx_status refuse_newer(const fpx__cache *c, int version) {
  return fpx__error(FPX_ERR_IO,
                    "tuning cache %s has schema version %d, newer than version %d that this "
                    "fpx knows; use a newer fpx or another cache file",
                    c->path, version, FPX__CACHE_SCHEMA_VERSION);
}

/* Brings a read-write database to the current schema in one transaction. */
static fpx_status migrate(fpx__cache *c) {
  fpx_status st = FPX_OK;
  int version = 0, in_txn = 0;
  FPX_TRY(read_user_version(c, &version));
  if (version > FPX__CACHE_SCHEMA_VERSION) FPX_TRY(refuse_newer(c, version));
  if (version == FPX__CACHE_SCHEMA_VERSION) goto done;
  FPX_TRY(fpx__cache_exec(c, "BEGIN IMMEDIATE", "starting the schema migration"));
  in_txn = 1;
  FPX_TRY(read_user_version(c, &version)); /* another process may have migrated */
  if (version > FPX__CACHE_SCHEMA_VERSION) FPX_TRY(refuse_newer(c, version));
  if (version < 0) {
    st = fpx__error(FPX_ERR_IO, "tuning cache %s has an invalid schema version %d", c->path,
                    version);
    goto fail;
  }
  for (; version < FPX__CACHE_SCHEMA_VERSION; version++)
    FPX_TRY(fpx__cache_schema_migrate(c, version));
  FPX_TRY(fpx__cache_exec(c, "COMMIT", "committing the schema migration"));
  in_txn = 0;
done:
  c->version = FPX__CACHE_SCHEMA_VERSION;
  return FPX_OK;
fail:
  if (in_txn) sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
  return st;
}

static fpx_status check_readonly_version(fpx__cache *c) {
  fpx_status st = FPX_OK;
  int version = 0;
  FPX_TRY(read_user_version(c, &version));
  if (version > FPX__CACHE_SCHEMA_VERSION) FPX_TRY(refuse_newer(c, version));
  if (version < 1) {
    st = fpx__error(FPX_ERR_IO, "tuning cache %s has no fpx schema (version %d)", c->path,
                    version);
    goto fail;
  }
  c->version = version;
fail:
  return st;
}

fpx_status fpx__cache_open(const char *path, int flags, fpx__cache **out) {
  fpx_status st = FPX_OK;
  fpx__cache *c = NULL;
  char uri[4096 * 3 + 32];
  int rc;
  FPX_CHECK_PTR(out);
  *out = NULL;
  if ((flags & ~FPX__CACHE_READONLY) != 0) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx__cache_open: unknown flags 0x%x", flags);
    goto fail;
  }
  c = calloc(1, sizeof *c);
  if (c == NULL) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "fpx__cache_open: out of memory");
    goto fail;
  }
  c->readonly = (flags & FPX__CACHE_READONLY) != 0;
  if (path == NULL) {
    FPX_TRY(fpx__cache_default_path(c->path, sizeof c->path));
    if (!c->readonly) FPX_TRY(make_parent_dirs(c->path));
  } else if ((size_t)snprintf(c->path, sizeof c->path, "%s", path) >= sizeof c->path) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx__cache_open: path %.64s... is too long",
                    path);
    goto fail;
  }
  if (c->readonly) {
    if (strcmp(c->path, ":memory:") == 0) {
      st = fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "fpx__cache_open: a read-only cache cannot be :memory:");
      goto fail;
    }
    FPX_TRY(immutable_uri(c->path, uri, sizeof uri));
    rc = sqlite3_open_v2(uri, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
  } else {
    rc = sqlite3_open_v2(c->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  }
  if (rc != SQLITE_OK) {
    st = fpx__cache_sql_error(c, rc, "opening");
    goto fail;
  }
  sqlite3_extended_result_codes(c->db, 1);
  if (c->readonly) {
    FPX_TRY(check_readonly_version(c));
  } else {
    sqlite3_busy_timeout(c->db, FPX__CACHE_BUSY_TIMEOUT_MS);
    /* Reading the version first makes a foreign file fail before WAL mode
     * would write anything to it. */
    int version = 0;
    FPX_TRY(read_user_version(c, &version));
    if (version > FPX__CACHE_SCHEMA_VERSION) FPX_TRY(refuse_newer(c, version));
    FPX_TRY(fpx__cache_exec(c, "PRAGMA journal_mode=WAL", "switching to WAL mode"));
    FPX_TRY(fpx__cache_exec(c, "PRAGMA synchronous=NORMAL", "setting synchronous mode"));
    FPX_TRY(migrate(c));
  }
  *out = c;
  return FPX_OK;
fail:
  fpx__cache_close(c);
  return st;
}

void fpx__cache_close(fpx__cache *cache) {
  if (cache == NULL) return;
  sqlite3_close(cache->db);
  free(cache);
}

const char *fpx__cache_path(const fpx__cache *cache) { return cache != NULL ? cache->path : ""; }

int fpx__cache_schema_version(const fpx__cache *cache) {
  return cache != NULL ? cache->version : 0;
}
