/*
 * cli_db_options.h - what the database subcommands of fpx-tune share
 * (cli_db.c, cli_compile.c): their options, one table-driven parser, and
 * opening and reading the tuning database.
 */
#ifndef FPX_TUNER_CLI_DB_OPTIONS_H
#define FPX_TUNER_CLI_DB_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "fpx.h"

enum {
  OPT_DB = 1u << 0,
  OPT_JSON = 1u << 1,
  OPT_FORMAT = 1u << 2,
  OPT_SHAPE = 1u << 3,
  OPT_M = 1u << 4,
  OPT_GPU = 1u << 5,
  OPT_ARCH = 1u << 6,
  OPT_OUTPUT = 1u << 7,
  OPT_YES = 1u << 8,
  OPT_ACT = 1u << 9,
  OPT_GROUP = 1u << 10,
  OPT_JOBS = 1u << 11,
  OPT_FILE = 1u << 12, /* one positional argument */
  OPT_SHIPPED = 1u << 13,
};

#define MAX_FORMATS 32

typedef struct db_opts {
  const char *cmd; /* subcommand name, for messages */
  const char *db;  /* NULL: the default path */
  int json, yes, shipped;
  fpx_format formats[MAX_FORMATS];
  size_t format_count;
  int has_shape;
  int64_t n, k;
  int m_bucket; /* 0: any */
  const char *gpu, *arch, *output, *file;
  fpx_dtype act;
  int group;
  int jobs; /* 0: one per online CPU */
} db_opts;

typedef struct winner_list {
  fpx__cache_winner *items;
  size_t count, capacity;
  int failed;
} winner_list;

/* Parses argv for a subcommand that accepts the OPT_* bits in `allowed`.
 * Returns CLI_EXIT_OK, CLI_EXIT_USAGE, or -1 after printing --help. */
int cli_db_parse_opts(int argc, char **argv, unsigned allowed, db_opts *o);
/* The --db help line every subcommand prints. */
extern const char *const cli_db_option_help;
/* Opens the database of o (read-only unless writable); prints the failure. */
int cli_db_open(const db_opts *o, int writable, fpx__cache **out);
/* Every winner of the database, in key order (free l->items). */
int cli_db_load_winners(const db_opts *o, fpx__cache *cache, winner_list *l);
/* 1 if a winner passes the filters of o (format, shape, M bucket, gpu, arch). */
int cli_db_matches(const db_opts *o, const fpx__cache_winner *w);

#endif
