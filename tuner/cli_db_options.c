/*
 * cli_db_options.c - options and database access shared by the database
 * subcommands of fpx-tune (see cli_db_options.h).
 */
#include "cli_db_options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_problem.h"

/* ---- options ------------------------------------------------------------ */

typedef struct option_spec {
  const char *name;
  unsigned bit;
  int takes_value;
} option_spec;

static const option_spec option_table[] = {
    {"--db", OPT_DB, 1},         {"--json", OPT_JSON, 0},    {"--format", OPT_FORMAT, 1},
    {"--shape", OPT_SHAPE, 1},   {"--m", OPT_M, 1},          {"--gpu", OPT_GPU, 1},
    {"--arch", OPT_ARCH, 1},     {"-o", OPT_OUTPUT, 1},      {"--output", OPT_OUTPUT, 1},
    {"--yes", OPT_YES, 0},       {"--act", OPT_ACT, 1},      {"--group", OPT_GROUP, 1},
    {"--jobs", OPT_JOBS, 1},     {"--shipped", OPT_SHIPPED, 0},
};
static const size_t option_count = sizeof option_table / sizeof option_table[0];


static int parse_formats(db_opts *o, const char *list) {
  char buf[512];
  if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf)
    return cli_usage_error("%s: --format list is too long", o->cmd);
  for (char *rest = buf, *tok; (tok = strsep(&rest, ",")) != NULL;) {
    if (tok[0] == '\0')
      return cli_usage_error("%s: --format '%s' has an empty item", o->cmd, list);
    if (o->format_count == MAX_FORMATS)
      return cli_usage_error("%s: more than %d formats in --format", o->cmd, MAX_FORMATS);
    if (fpx_format_parse(tok, &o->formats[o->format_count]) != FPX_OK)
      return cli_usage_error("%s: --format: %s", o->cmd, fpx_last_error());
    o->format_count++;
  }
  return CLI_EXIT_OK;
}

static int parse_shape(db_opts *o, const char *text) {
  char buf[64];
  size_t n = 0, k = 0;
  const size_t max = (uint64_t)1 << 40;
  char *sep = NULL;
  if (snprintf(buf, sizeof buf, "%s", text) < (int)sizeof buf) sep = strpbrk(buf, ",x");
  if (sep != NULL) *sep = '\0';
  if (sep == NULL || !cli_parse_size(buf, 1, max, &n) || !cli_parse_size(sep + 1, 1, max, &k))
    return cli_usage_error("%s: --shape '%s' is not N,K (positive integers)", o->cmd, text);
  o->has_shape = 1;
  o->n = (int64_t)n;
  o->k = (int64_t)k;
  return CLI_EXIT_OK;
}

/* "sm_" followed by 2 or 3 digits (80 or more) and an optional 'a' or 'f'. */
static int valid_arch(const char *s) {
  if (strncmp(s, "sm_", 3) != 0) return 0;
  const char *p = s + 3;
  int digits = 0, value = 0;
  for (; *p >= '0' && *p <= '9'; p++, digits++) value = value * 10 + (*p - '0');
  if (digits < 2 || digits > 3 || value < 80) return 0;
  if (*p == 'a' || *p == 'f') p++;
  return *p == '\0';
}

/* Applies one option with its value (NULL for a flag). */
static int apply_option(db_opts *o, unsigned bit, const char *name, const char *v) {
  static const int groups[] = {0, 32, 64, 128, 256};
  size_t x;
  switch (bit) {
  case OPT_DB:
    if (v[0] == '\0') return cli_usage_error("%s: --db needs a file name", o->cmd);
    o->db = v;
    return CLI_EXIT_OK;
  case OPT_JSON: o->json = 1; return CLI_EXIT_OK;
  case OPT_YES: o->yes = 1; return CLI_EXIT_OK;
  case OPT_SHIPPED: o->shipped = 1; return CLI_EXIT_OK;
  case OPT_FORMAT: return parse_formats(o, v);
  case OPT_SHAPE: return parse_shape(o, v);
  case OPT_M:
    if (!cli_parse_size(v, 1, (size_t)1 << 40, &x))
      return cli_usage_error("%s: --m '%s' is not a positive integer", o->cmd, v);
    o->m_bucket = fpx__cache_m_bucket((size_t)x);
    return CLI_EXIT_OK;
  case OPT_GPU:
    if (v[0] == '\0') return cli_usage_error("%s: --gpu needs a GPU name", o->cmd);
    o->gpu = v;
    return CLI_EXIT_OK;
  case OPT_ARCH:
    if (!valid_arch(v))
      return cli_usage_error("%s: --arch '%s' is not an architecture sm_XY of 8.0 or newer "
                             "(sm_80, sm_89, sm_90a, ...)", o->cmd, v);
    o->arch = v;
    return CLI_EXIT_OK;
  case OPT_OUTPUT:
    if (v[0] == '\0') return cli_usage_error("%s: %s needs a file name", o->cmd, name);
    o->output = v;
    return CLI_EXIT_OK;
  case OPT_ACT: {
    fpx_dtype d;
    if (fpx_dtype_parse(v, &d) != FPX_OK || d == FPX_DTYPE_F32)
      return cli_usage_error("%s: --act '%s' is not bf16, f16, e4m3 or e5m2", o->cmd, v);
    o->act = d;
    return CLI_EXIT_OK;
  }
  case OPT_GROUP:
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
      if (cli_parse_size(v, 0, 256, &x) && (int)x == groups[i]) {
        o->group = groups[i];
        return CLI_EXIT_OK;
      }
    return cli_usage_error("%s: --group '%s' is not one of 0, 32, 64, 128, 256", o->cmd, v);
  case OPT_JOBS:
    if (!cli_parse_size(v, 1, 256, &x))
      return cli_usage_error("%s: --jobs '%s' is not a number in 1..256", o->cmd, v);
    o->jobs = (int)x;
    return CLI_EXIT_OK;
  default: return cli_usage_error("%s: internal error: option %s", o->cmd, name);
  }
}

/* Parses argv (argv[0] = the subcommand) accepting the options in `allowed`
 * (--db always). "--opt VALUE" and "--opt=VALUE" are both accepted. */
int cli_db_parse_opts(int argc, char **argv, unsigned allowed, db_opts *o) {
  memset(o, 0, sizeof *o);
  o->cmd = argv[0];
  o->act = FPX_DTYPE_BF16;
  allowed |= OPT_DB;
  int positional_only = 0;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!positional_only && strcmp(arg, "--") == 0) {
      positional_only = 1;
      continue;
    }
    if (!positional_only && arg[0] == '-' && arg[1] != '\0') {
      const option_spec *spec = NULL;
      const char *value = NULL;
      for (size_t j = 0; j < option_count && spec == NULL; j++) {
        const size_t len = strlen(option_table[j].name);
        if (strncmp(arg, option_table[j].name, len) != 0) continue;
        if (arg[len] == '\0') spec = &option_table[j];
        else if (arg[len] == '=' && option_table[j].takes_value && arg[1] == '-') {
          spec = &option_table[j];
          value = arg + len + 1;
        }
      }
      if (spec == NULL || !(spec->bit & allowed))
        return cli_usage_error("%s: unknown option '%s' (try %s --help)", o->cmd, arg, o->cmd);
      if (spec->takes_value && value == NULL) {
        if (i + 1 >= argc) return cli_usage_error("%s: option %s needs a value", o->cmd, arg);
        value = argv[++i];
      }
      int rc = apply_option(o, spec->bit, spec->name, value);
      if (rc != CLI_EXIT_OK) return rc;
      continue;
    }
    if (!(allowed & OPT_FILE) || o->file != NULL)
      return cli_usage_error("%s: unexpected argument '%s'", o->cmd, arg);
    o->file = arg;
  }
  return CLI_EXIT_OK;
}

const char *const cli_db_option_help =
    "  --db PATH       the tuning database (default $FPX_CACHE_DIR/fpx.db, else\n"
    "                  $XDG_CACHE_HOME/fpx/fpx.db, else ~/.cache/fpx/fpx.db)\n";

/* ---- database access ---------------------------------------------------- */

/* Opens the database of --db or the default path. A reader of a file that
 * does not exist gets an empty in-memory database instead (nothing is
 * created); a writer creates the file (and the default directories). */
int cli_db_open(const db_opts *o, int writable, fpx__cache **out) {
  char path[4096];
  struct stat sb;
  *out = NULL;
  if (o->db != NULL) {
    if (snprintf(path, sizeof path, "%s", o->db) >= (int)sizeof path)
      return cli_usage_error("%s: --db path is too long", o->cmd);
  } else if (fpx__cache_default_path(path, sizeof path) != FPX_OK) {
    return cli_failure("%s: no default database path (%s); pass --db PATH", o->cmd,
                       fpx_last_error());
  }
  if (!writable && stat(path, &sb) != 0 && errno == ENOENT) {
    if (fpx__cache_open(":memory:", 0, out) != FPX_OK)
      return cli_failure("%s: %s", o->cmd, fpx_last_error());
    return CLI_EXIT_OK;
  }
  fpx_status st = fpx__cache_open(o->db != NULL ? path : NULL, 0, out);
  /* a write-protected file can still be read */
  if (st != FPX_OK && !writable) st = fpx__cache_open(path, FPX__CACHE_READONLY, out);
  if (st != FPX_OK) return cli_failure("%s: %s", o->cmd, fpx_last_error());
  return CLI_EXIT_OK;
}


int cli_db_collect_winner(const fpx__cache_winner *w, void *user) {
  winner_list *l = user;
  if (l->count == l->capacity) {
    const size_t capacity = l->capacity ? l->capacity * 2 : 64;
    fpx__cache_winner *grown = realloc(l->items, capacity * sizeof *grown);
    if (grown == NULL) {
      l->failed = 1;
      return 1;
    }
    l->items = grown;
    l->capacity = capacity;
  }
  l->items[l->count++] = *w;
  return 0;
}

/* Every winner in key order into *l (free l->items). */
int cli_db_load_winners(const db_opts *o, fpx__cache *cache, winner_list *l) {
  memset(l, 0, sizeof *l);
  if (fpx__cache_list_winners(cache, cli_db_collect_winner, l) != FPX_OK)
    return cli_failure("%s: %s", o->cmd, fpx_last_error());
  if (l->failed) return cli_failure("%s: out of memory listing the winners", o->cmd);
  return CLI_EXIT_OK;
}

/* 1 if the winner passes show's filters. */
int cli_db_matches(const db_opts *o, const fpx__cache_winner *w) {
  const fpx__cache_key *k = &w->key;
  if (o->gpu != NULL && strcmp(o->gpu, k->gpu_name) != 0) return 0;
  if (o->arch != NULL && strcmp(o->arch, k->arch) != 0) return 0;
  if (o->has_shape && (k->n != o->n || k->k != o->k)) return 0;
  if (o->m_bucket != 0 && k->m_bucket != o->m_bucket) return 0;
  if (o->format_count > 0) {
    fpx_format f;
    if (fpx_format_parse(k->weight_format, &f) != FPX_OK) return 0;
    for (size_t i = 0; i < o->format_count; i++)
      if (o->formats[i].exp_bits == f.exp_bits && o->formats[i].man_bits == f.man_bits)
        return 1;
    return 0;
  }
  return 1;
}
