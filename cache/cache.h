/*
 * cache.h - the autotuner's SQLite database: tuned winners per problem key,
 * compiled kernel binaries, JSON export/import/merge. Internal API of the
 * cache/ module; only cache/ sees sqlite3.h and cJSON.h.
 *
 * Policy on a bad database file. A file that is not an SQLite database, is
 * corrupted or truncated, or carries a schema newer than this library knows
 * makes fpx__cache_open (or a later call that touches the damaged pages)
 * return FPX_ERR_IO with a message naming the path. The library never
 * deletes or rewrites such a file: the runtime then continues without a
 * cache (kernels are compiled and the default heuristic is used), and the
 * user may remove the file to start over. Only a binary row whose checksum
 * no longer matches is removed, because it is a derived artefact that the
 * caller recompiles.
 *
 * Concurrency. Read-write databases use WAL mode with a 10 s busy timeout, so
 * several processes may tune and read one file at once; every write is one
 * transaction. A handle may be used by one thread at a time.
 */
#ifndef FPX_CACHE_CACHE_H
#define FPX_CACHE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "fpx.h"

typedef struct fpx__cache fpx__cache;

/* Schema version written to PRAGMA user_version. History:
 *   1: table winners without candidates_checksum; no binaries table.
 *   2: winners.candidates_checksum; table binaries.
 *   3: winners.kernel, tokens, stages (the wgmma family; 0 in older rows,
 *      which are mma.sync). */
#define FPX__CACHE_SCHEMA_VERSION 3

/* fpx__cache_open flags. */
#define FPX__CACHE_READONLY 1 /* open a shipped database immutable, no writes */

#define FPX__CACHE_M_BUCKET_MAX 8192
#define FPX__CACHE_LOWERED_NAME_MAX 256

/* The default database path: $FPX_CACHE_DIR/fpx.db, else
 * $XDG_CACHE_HOME/fpx/fpx.db, else $HOME/.cache/fpx/fpx.db (empty variables
 * count as unset). FPX_ERR_IO when none is set, FPX_ERR_BUFFER_TOO_SMALL if
 * the path does not fit `size` bytes (buf is then ""). */
fpx_status fpx__cache_default_path(char *buf, size_t size);

/* Opens (creating and migrating to FPX__CACHE_SCHEMA_VERSION if needed) a
 * database. path: a file, ":memory:", or NULL for the default path (whose
 * missing directories are created). flags: 0 or FPX__CACHE_READONLY (the file
 * must exist; it is opened immutable and never migrated; schema 1 and 2 are
 * readable). Errors: FPX_ERR_IO naming the path for a file that cannot be
 * opened, is not a database, is corrupted, or has a newer schema (both
 * versions named). *out is NULL on failure. */
fpx_status fpx__cache_open(const char *path, int flags, fpx__cache **out);
/* Closes a handle; accepts NULL. */
void fpx__cache_close(fpx__cache *cache);
/* The path the handle was opened with ("" for none). */
const char *fpx__cache_path(const fpx__cache *cache);
/* The schema version of the opened database. */
int fpx__cache_schema_version(const fpx__cache *cache);

/* M bucket of a problem: the smallest power of two >= m, capped at
 * FPX__CACHE_M_BUCKET_MAX; m = 0 counts as 1. */
int fpx__cache_m_bucket(size_t m);

/* ---- tuned winners ---------------------------------------------------- */

/* The key of a tuned winner. Strings are NUL-terminated within their
 * arrays; names are canonical ("e3m2", "f16", "weight_only"). */
typedef struct fpx__cache_key {
  char gpu_name[128];
  char arch[16];
  int sm_count;
  int driver_version;
  int nvrtc_version;
  char fpx_hash[40]; /* hex hash of the templates and library version */
  char family[24];   /* "weight_only" */
  char weight_format[16];
  char x_dtype[8];
  char y_dtype[8];
  int group_size;
  int64_t n;
  int64_t k;
  int m_bucket; /* a power of two, 1..8192 */
} fpx__cache_key;

typedef struct fpx__cache_winner {
  fpx__cache_key key;
  fpx_wo_config config;
  double time_us;         /* > 0, finite */
  double check_tolerance; /* finite */
  double check_error;     /* finite */
  int64_t tuned_at;       /* unix seconds */
  char candidates_checksum[40];
} fpx__cache_winner;

/* Checks every field of a winner (names as above, fpx__wo_key_check,
 * fpx__wo_config_check and, for a wgmma configuration, the wgmma family's
 * rules for the key, n, k >= 1, the bucket, finite times). On failure
 * returns the status with the detail message set, and copies the name of the
 * offending field into field (may be NULL). */
fpx_status fpx__cache_winner_check(const fpx__cache_winner *w, char field[32]);

/* Stores a winner; when the key exists, the entry with the smaller time_us
 * is kept. The winner is checked first (FPX_ERR_INVALID_ARGUMENT). */
fpx_status fpx__cache_put_winner(fpx__cache *cache, const fpx__cache_winner *w);
/* Exact-key lookup: FPX_OK with *found = 1 and *out filled, or *found = 0. */
fpx_status fpx__cache_get_winner(fpx__cache *cache, const fpx__cache_key *key,
                                 fpx__cache_winner *out, int *found);
/* The winner with the same key except m_bucket whose bucket is nearest to
 * key->m_bucket by |log2(bucket) - log2(key bucket)|, ties going to the
 * smaller bucket. *found = 0 when no bucket of that key is tuned. */
fpx_status fpx__cache_nearest_bucket(fpx__cache *cache, const fpx__cache_key *key,
                                     fpx__cache_winner *out, int *found);
/* Calls callback for every winner in key order; a nonzero return stops the
 * walk (the call still returns FPX_OK). */
typedef int (*fpx__cache_winner_fn)(const fpx__cache_winner *w, void *user);
fpx_status fpx__cache_list_winners(fpx__cache *cache, fpx__cache_winner_fn callback,
                                   void *user);
/* Number of winners. */
fpx_status fpx__cache_count_winners(fpx__cache *cache, size_t *out_count);
/* Removes every winner and every binary. */
fpx_status fpx__cache_clear(fpx__cache *cache);

/* ---- compiled binaries ------------------------------------------------ */

/* Stores (or replaces) a compiled binary. hash: hex of the caller's 64-bit
 * hash of (source, options, NVRTC version, arch), 1..32 hex digits. The blob's
 * FNV-1a checksum is stored with it. */
fpx_status fpx__cache_put_binary(fpx__cache *cache, const char *hash, const char *arch,
                                 int nvrtc_version, const char *lowered_name,
                                 const void *blob, size_t size);
/* Loads a binary: *out_blob is malloc'd (free() it), lowered_name receives
 * the lowered kernel name. The checksum is verified on every load: a
 * mismatch deletes the row (on a read-write handle) and reports *found = 0,
 * so the caller recompiles. A corrupted blob is never returned. */
fpx_status fpx__cache_get_binary(fpx__cache *cache, const char *hash, void **out_blob,
                                 size_t *out_size,
                                 char lowered_name[FPX__CACHE_LOWERED_NAME_MAX],
                                 int *found);
/* Number of stored binaries. */
fpx_status fpx__cache_count_binaries(fpx__cache *cache, size_t *out_count);

/* ---- JSON and merging ------------------------------------------------- */

/* Exports the winners (all, or those whose gpu_name equals gpu_filter) as
 * {"fpx_tuning_db": 1, "winners": [{every column}, ...]} in key order.
 * *out_json is malloc'd (free() it). */
fpx_status fpx__cache_export_json(fpx__cache *cache, const char *gpu_filter,
                                  char **out_json);
/* Imports winners from such a document (keeping the faster entry per key).
 * Every entry is validated before anything is written; a syntax error or an
 * invalid entry gives FPX_ERR_INVALID_ARGUMENT with a message naming the
 * entry index and field (also copied into err if not NULL), and leaves the
 * database unchanged. All rows go in one transaction. */
fpx_status fpx__cache_import_json(fpx__cache *cache, const char *json, char *err,
                                  size_t err_size);
/* Imports every winner of another database file (schema 1 or 2, opened
 * read-only) into dst, keeping the faster entry per key, in one transaction. */
fpx_status fpx__cache_merge(fpx__cache *dst, const char *src_path);

/* ---- testing ---------------------------------------------------------- */

/* Creates a schema-1 database at path (no file may exist there). */
fpx_status fpx__cache_create_v1_for_testing(const char *path);
/* Runs raw SQL on a database file without opening it as a cache (no
 * migration, no version check): building old or tampered files in tests. */
fpx_status fpx__cache_exec_file_for_testing(const char *path, const char *sql);
/* Runs raw SQL on the handle (tests only: tampering, schema surgery). */
fpx_status fpx__cache_exec_for_testing(fpx__cache *cache, const char *sql);

#endif
