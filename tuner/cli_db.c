/*
 * cli_db.c - the fpx-tune subcommands that manage the tuning database
 * (cache/cache.h) without a GPU:
 *   list     one line per tuned winner (or a JSON array)
 *   show     the winners matching filters, every column
 *   export   the database as tuning JSON
 *   import   tuning JSON into the database (all or nothing)
 *   merge    another database file into this one
 *   clear    remove every winner and kernel binary
 *   compile  fill the binary store for an architecture through NVRTC, with
 *            the same hash and row the runtime looks up
 * One table-driven option parser serves them all; each subcommand names the
 * options it accepts. JSON is written by hand here (only cache/ sees cJSON),
 * with the field names and number formatting of fpx__cache_export_json.
 */
#include "cli_db.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "cli.h"
#include "compile.h"
#include "config.h"
#include "embedded_templates.h"

/* ---- options ------------------------------------------------------------ */

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
};

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
    {"--jobs", OPT_JOBS, 1},
};
static const size_t option_count = sizeof option_table / sizeof option_table[0];

#define MAX_FORMATS 32

typedef struct db_opts {
  const char *cmd; /* subcommand name, for messages */
  const char *db;  /* NULL: the default path */
  int json, yes;
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

static int parse_size(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
  char *end;
  if (s == NULL || *s < '0' || *s > '9') return 0;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return 0;
  *out = (uint64_t)v;
  return 1;
}

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
  uint64_t n = 0, k = 0;
  const uint64_t max = (uint64_t)1 << 40;
  char *sep = NULL;
  if (snprintf(buf, sizeof buf, "%s", text) < (int)sizeof buf) sep = strpbrk(buf, ",x");
  if (sep != NULL) *sep = '\0';
  if (sep == NULL || !parse_size(buf, 1, max, &n) || !parse_size(sep + 1, 1, max, &k))
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
  uint64_t x;
  switch (bit) {
  case OPT_DB:
    if (v[0] == '\0') return cli_usage_error("%s: --db needs a file name", o->cmd);
    o->db = v;
    return CLI_EXIT_OK;
  case OPT_JSON: o->json = 1; return CLI_EXIT_OK;
  case OPT_YES: o->yes = 1; return CLI_EXIT_OK;
  case OPT_FORMAT: return parse_formats(o, v);
  case OPT_SHAPE: return parse_shape(o, v);
  case OPT_M:
    if (!parse_size(v, 1, (uint64_t)1 << 40, &x))
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
    if (fpx_dtype_parse(v, &d) != FPX_OK || (d != FPX_DTYPE_BF16 && d != FPX_DTYPE_F16))
      return cli_usage_error("%s: --act '%s' is not bf16 or f16", o->cmd, v);
    o->act = d;
    return CLI_EXIT_OK;
  }
  case OPT_GROUP:
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
      if (parse_size(v, 0, 256, &x) && (int)x == groups[i]) {
        o->group = groups[i];
        return CLI_EXIT_OK;
      }
    return cli_usage_error("%s: --group '%s' is not one of 0, 32, 64, 128, 256", o->cmd, v);
  case OPT_JOBS:
    if (!parse_size(v, 1, 256, &x))
      return cli_usage_error("%s: --jobs '%s' is not a number in 1..256", o->cmd, v);
    o->jobs = (int)x;
    return CLI_EXIT_OK;
  default: return cli_usage_error("%s: internal error: option %s", o->cmd, name);
  }
}

/* Parses argv (argv[0] = the subcommand) accepting the options in `allowed`
 * (--db always). "--opt VALUE" and "--opt=VALUE" are both accepted. */
static int parse_opts(int argc, char **argv, unsigned allowed, db_opts *o) {
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

static const char *const db_option_help =
    "  --db PATH       the tuning database (default $FPX_CACHE_DIR/fpx.db, else\n"
    "                  $XDG_CACHE_HOME/fpx/fpx.db, else ~/.cache/fpx/fpx.db)\n";

/* ---- database access ---------------------------------------------------- */

/* Opens the database of --db or the default path. A reader of a file that
 * does not exist gets an empty in-memory database instead (nothing is
 * created); a writer creates the file (and the default directories). */
static int open_db(const db_opts *o, int writable, fpx__cache **out) {
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

typedef struct winner_list {
  fpx__cache_winner *items;
  size_t count, capacity;
  int failed;
} winner_list;

static int collect_winner(const fpx__cache_winner *w, void *user) {
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
static int load_winners(const db_opts *o, fpx__cache *cache, winner_list *l) {
  memset(l, 0, sizeof *l);
  if (fpx__cache_list_winners(cache, collect_winner, l) != FPX_OK)
    return cli_failure("%s: %s", o->cmd, fpx_last_error());
  if (l->failed) return cli_failure("%s: out of memory listing the winners", o->cmd);
  return CLI_EXIT_OK;
}

/* 1 if the winner passes show's filters. */
static int matches(const db_opts *o, const fpx__cache_winner *w) {
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

/* ---- printing ----------------------------------------------------------- */

static void format_date(int64_t t, char out[32]) {
  const time_t tt = (time_t)t;
  struct tm tm;
  if (gmtime_r(&tt, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(out, 32, "%lld", (long long)t);
}

/* A JSON string literal: quotes, backslashes and control characters escaped;
 * other bytes (UTF-8) as they are. */
static void json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
    switch (*p) {
    case '"': fputs("\\\"", out); break;
    case '\\': fputs("\\\\", out); break;
    case '\n': fputs("\\n", out); break;
    case '\r': fputs("\\r", out); break;
    case '\t': fputs("\\t", out); break;
    case '\b': fputs("\\b", out); break;
    case '\f': fputs("\\f", out); break;
    default:
      if (*p < 0x20) fprintf(out, "\\u%04x", *p);
      else fputc(*p, out);
    }
  }
  fputc('"', out);
}

/* One winner as an object with the fields of fpx__cache_export_json (stored
 * doubles are finite; %.17g keeps them exact). */
static void print_winner_json(FILE *out, const fpx__cache_winner *w) {
  const fpx__cache_key *k = &w->key;
  const fpx_wo_config *c = &w->config;
  fputs("  {\"gpu_name\": ", out);
  json_string(out, k->gpu_name);
  fputs(", \"arch\": ", out);
  json_string(out, k->arch);
  fprintf(out, ", \"sm_count\": %d, \"driver_version\": %d, \"nvrtc_version\": %d, \"fpx_hash\": ",
          k->sm_count, k->driver_version, k->nvrtc_version);
  json_string(out, k->fpx_hash);
  fputs(", \"family\": ", out);
  json_string(out, k->family);
  fputs(", \"weight_format\": ", out);
  json_string(out, k->weight_format);
  fputs(", \"x_dtype\": ", out);
  json_string(out, k->x_dtype);
  fputs(", \"y_dtype\": ", out);
  json_string(out, k->y_dtype);
  fprintf(out,
          ", \"group_size\": %d, \"n\": %lld, \"k\": %lld, \"m_bucket\": %d, \"warps_n\": %d, "
          "\"warps_k\": %d, \"m_tiles\": %d, \"split_k\": %d, \"time_us\": %.17g, "
          "\"check_tolerance\": %.17g, \"check_error\": %.17g, \"tuned_at\": %lld, "
          "\"candidates_checksum\": ",
          k->group_size, (long long)k->n, (long long)k->k, k->m_bucket, c->warps_n, c->warps_k,
          c->m_tiles, c->split_k, w->time_us, w->check_tolerance, w->check_error,
          (long long)w->tuned_at);
  json_string(out, w->candidates_checksum);
  fputc('}', out);
}

/* The winners passing `filter` (NULL: all) as a JSON array. */
static void print_json_array(const winner_list *l, const db_opts *filter) {
  size_t printed = 0;
  for (size_t i = 0; i < l->count; i++) {
    if (filter != NULL && !matches(filter, &l->items[i])) continue;
    fputs(printed == 0 ? "[\n" : ",\n", stdout);
    print_winner_json(stdout, &l->items[i]);
    printed++;
  }
  fputs(printed == 0 ? "[]\n" : "\n]\n", stdout);
}

/* ---- list --------------------------------------------------------------- */

void fpx__cli_list_usage(FILE *out) {
  fprintf(out,
          "usage: %s list [--db PATH] [--json]\n"
          "\n"
          "Prints one line per tuned winner in key order, tab-separated, after a\n"
          "header line: gpu, arch, format, x and y dtypes, group size, N, K, M\n"
          "bucket, config (warps_n/warps_k/m_tiles/split_k), time in microseconds,\n"
          "and the tuning date (UTC). With --json, prints a JSON array of the\n"
          "winners with the fields of 'export'. A database file that does not\n"
          "exist lists as empty.\n"
          "\n"
          "options:\n"
          "%s"
          "  --json          a JSON array instead of the table\n",
          cli_program, db_option_help);
}

int fpx__cli_list(int argc, char **argv) {
  db_opts o;
  fpx__cache *cache = NULL;
  winner_list l = {0};
  int rc = parse_opts(argc, argv, OPT_JSON, &o);
  if (rc != CLI_EXIT_OK) return rc;
  if ((rc = open_db(&o, 0, &cache)) != CLI_EXIT_OK) return rc;
  if ((rc = load_winners(&o, cache, &l)) != CLI_EXIT_OK) goto done;
  if (o.json) {
    print_json_array(&l, NULL);
    goto done;
  }
  printf("gpu\tarch\tformat\tx\ty\tgroup\tN\tK\tM\tconfig\ttime_us\ttuned\n");
  for (size_t i = 0; i < l.count; i++) {
    const fpx__cache_winner *w = &l.items[i];
    const fpx__cache_key *k = &w->key;
    char date[32];
    format_date(w->tuned_at, date);
    printf("%s\t%s\t%s\t%s\t%s\t%d\t%lld\t%lld\t%d\t%d/%d/%d/%d\t%.2f\t%s\n", k->gpu_name,
           k->arch, k->weight_format, k->x_dtype, k->y_dtype, k->group_size, (long long)k->n,
           (long long)k->k, k->m_bucket, w->config.warps_n, w->config.warps_k,
           w->config.m_tiles, w->config.split_k, w->time_us, date);
  }
done:
  free(l.items);
  fpx__cache_close(cache);
  return rc;
}

/* ---- show --------------------------------------------------------------- */

void fpx__cli_show_usage(FILE *out) {
  fprintf(out,
          "usage: %s show [--db PATH] [--format LIST] [--shape N,K] [--m M]\n"
          "                     [--gpu NAME] [--arch ARCH] [--json]\n"
          "\n"
          "Prints every column of the tuned winners that match all the filters\n"
          "given, as 'key: value' lines, one block per winner separated by a\n"
          "blank line (or, with --json, a JSON array). Nothing matching is not an\n"
          "error: the output is empty (or []) and a note goes to stderr.\n"
          "\n"
          "options:\n"
          "%s"
          "  --format LIST   weight formats, comma-separated (e3m2, fp6, ...)\n"
          "  --shape N,K     the weight's N and K\n"
          "  --m M           the M bucket that M tokens fall in (next power of two,\n"
          "                  at most %d)\n"
          "  --gpu NAME      the GPU name exactly as listed\n"
          "  --arch ARCH     the architecture (sm_80, sm_90a, ...)\n"
          "  --json          a JSON array with the fields of 'export'\n",
          cli_program, db_option_help, FPX__CACHE_M_BUCKET_MAX);
}

static void print_winner_text(const fpx__cache_winner *w) {
  const fpx__cache_key *k = &w->key;
  char date[32];
  format_date(w->tuned_at, date);
  printf("gpu_name: %s\narch: %s\nsm_count: %d\ndriver_version: %d\nnvrtc_version: %d\n"
         "fpx_hash: %s\nfamily: %s\nweight_format: %s\nx_dtype: %s\ny_dtype: %s\n"
         "group_size: %d\nn: %lld\nk: %lld\nm_bucket: %d\n",
         k->gpu_name, k->arch, k->sm_count, k->driver_version, k->nvrtc_version, k->fpx_hash,
         k->family, k->weight_format, k->x_dtype, k->y_dtype, k->group_size, (long long)k->n,
         (long long)k->k, k->m_bucket);
  printf("warps_n: %d\nwarps_k: %d\nm_tiles: %d\nsplit_k: %d\ntime_us: %.9g\n"
         "check_tolerance: %.9g\ncheck_error: %.9g\ntuned_at: %lld (%s)\n"
         "candidates_checksum: %s\n",
         w->config.warps_n, w->config.warps_k, w->config.m_tiles, w->config.split_k, w->time_us,
         w->check_tolerance, w->check_error, (long long)w->tuned_at, date,
         w->candidates_checksum[0] ? w->candidates_checksum : "(none)");
}

int fpx__cli_show(int argc, char **argv) {
  db_opts o;
  fpx__cache *cache = NULL;
  winner_list l = {0};
  size_t shown = 0;
  int rc = parse_opts(argc, argv, OPT_JSON | OPT_FORMAT | OPT_SHAPE | OPT_M | OPT_GPU | OPT_ARCH,
                      &o);
  if (rc != CLI_EXIT_OK) return rc;
  if ((rc = open_db(&o, 0, &cache)) != CLI_EXIT_OK) return rc;
  if ((rc = load_winners(&o, cache, &l)) != CLI_EXIT_OK) goto done;
  for (size_t i = 0; i < l.count; i++) shown += matches(&o, &l.items[i]);
  if (o.json) {
    print_json_array(&l, &o);
  } else {
    size_t printed = 0;
    for (size_t i = 0; i < l.count; i++) {
      if (!matches(&o, &l.items[i])) continue;
      if (printed++ > 0) putchar('\n');
      print_winner_text(&l.items[i]);
    }
  }
  if (shown == 0) fprintf(stderr, "%s: show: no tuned winner matches\n", cli_program);
done:
  free(l.items);
  fpx__cache_close(cache);
  return rc;
}

/* ---- export ------------------------------------------------------------- */

void fpx__cli_export_usage(FILE *out) {
  fprintf(out,
          "usage: %s export [--db PATH] [--gpu NAME] [-o FILE]\n"
          "\n"
          "Writes the tuned winners (all, or those of one GPU) as tuning JSON,\n"
          "{\"fpx_tuning_db\": 1, \"winners\": [...]}, to stdout or FILE; 'import'\n"
          "reads it back exactly. A FILE that cannot be written is a failure\n"
          "(exit status 1).\n"
          "\n"
          "options:\n"
          "%s"
          "  --gpu NAME      only the winners of this GPU name\n"
          "  -o, --output FILE  write to FILE instead of stdout\n",
          cli_program, db_option_help);
}

int fpx__cli_export(int argc, char **argv) {
  db_opts o;
  fpx__cache *cache = NULL;
  char *json = NULL;
  int rc = parse_opts(argc, argv, OPT_GPU | OPT_OUTPUT, &o);
  if (rc != CLI_EXIT_OK) return rc;
  if ((rc = open_db(&o, 0, &cache)) != CLI_EXIT_OK) return rc;
  if (fpx__cache_export_json(cache, o.gpu, &json) != FPX_OK) {
    rc = cli_failure("export: %s", fpx_last_error());
    goto done;
  }
  if (o.output == NULL) {
    printf("%s\n", json);
    goto done;
  }
  FILE *f = fopen(o.output, "w");
  if (f == NULL) {
    rc = cli_failure("export: cannot write %s: %s", o.output, strerror(errno));
    goto done;
  }
  int bad = fprintf(f, "%s\n", json) < 0;
  bad |= fclose(f) != 0;
  if (bad) rc = cli_failure("export: error writing %s", o.output);
done:
  free(json);
  fpx__cache_close(cache);
  return rc;
}

/* ---- import ------------------------------------------------------------- */

void fpx__cli_import_usage(FILE *out) {
  fprintf(out,
          "usage: %s import [--db PATH] FILE\n"
          "\n"
          "Adds the winners of a tuning JSON file (as written by 'export'; FILE\n"
          "'-' is stdin) to the database; where a key is already tuned, the\n"
          "faster entry is kept. Every entry is checked before anything is\n"
          "written: a FILE that cannot be read, is not JSON, or holds an invalid\n"
          "entry is a bad argument (exit status 2, the message names the entry\n"
          "and field) and leaves the database unchanged.\n"
          "\n"
          "options:\n"
          "%s",
          cli_program, db_option_help);
}

/* Reads a whole file (or stdin for "-") as a NUL-terminated string. */
static int read_text(const char *cmd, const char *path, char **out) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  char *buf = NULL;
  size_t size = 0, capacity = 0;
  *out = NULL;
  if (f == NULL) return cli_usage_error("%s: cannot read %s: %s", cmd, path, strerror(errno));
  for (;;) {
    if (capacity - size < 4096) {
      capacity = capacity ? capacity * 2 : 65536;
      char *grown = realloc(buf, capacity);
      if (grown == NULL) {
        free(buf);
        if (f != stdin) fclose(f);
        return cli_failure("%s: out of memory reading %s", cmd, path);
      }
      buf = grown;
    }
    size_t got = fread(buf + size, 1, capacity - size - 1, f);
    size += got;
    if (got == 0) break;
  }
  const int failed = ferror(f);
  if (f != stdin) fclose(f);
  buf[size] = '\0';
  if (failed) {
    free(buf);
    return cli_usage_error("%s: error reading %s", cmd, path);
  }
  if (strlen(buf) != size) {
    free(buf);
    return cli_usage_error("%s: %s holds a NUL byte; it is not tuning JSON", cmd, path);
  }
  *out = buf;
  return CLI_EXIT_OK;
}

int fpx__cli_import(int argc, char **argv) {
  db_opts o;
  fpx__cache *cache = NULL;
  char *text = NULL, err[1024];
  size_t before = 0, after = 0;
  int rc = parse_opts(argc, argv, OPT_FILE, &o);
  if (rc != CLI_EXIT_OK) return rc;
  if (o.file == NULL) return cli_usage_error("import: missing FILE (try import --help)");
  if ((rc = read_text("import", o.file, &text)) != CLI_EXIT_OK) return rc;
  if ((rc = open_db(&o, 1, &cache)) != CLI_EXIT_OK) goto done;
  if (fpx__cache_count_winners(cache, &before) != FPX_OK) {
    rc = cli_failure("import: %s", fpx_last_error());
    goto done;
  }
  fpx_status st = fpx__cache_import_json(cache, text, err, sizeof err);
  if (st == FPX_ERR_INVALID_ARGUMENT) {
    rc = cli_usage_error("import: %s: %s", o.file, err);
    goto done;
  }
  if (st != FPX_OK || fpx__cache_count_winners(cache, &after) != FPX_OK) {
    rc = cli_failure("import: %s", fpx_last_error());
    goto done;
  }
  printf("imported %s: %zu winners before, %zu after\n", o.file, before, after);
done:
  free(text);
  fpx__cache_close(cache);
  return rc;
}

/* ---- merge -------------------------------------------------------------- */

void fpx__cli_merge_usage(FILE *out) {
  fprintf(out,
          "usage: %s merge [--db PATH] FILE\n"
          "\n"
          "Adds every winner of another database file (opened read-only) to the\n"
          "database, keeping the faster entry per key, in one transaction. A\n"
          "FILE that does not exist, is not a database, or holds an invalid entry\n"
          "is a bad argument (exit status 2) and leaves the database unchanged.\n"
          "Kernel binaries are not merged (they are recompiled on demand).\n"
          "\n"
          "options:\n"
          "%s",
          cli_program, db_option_help);
}

int fpx__cli_merge(int argc, char **argv) {
  db_opts o;
  fpx__cache *cache = NULL, *src = NULL;
  struct stat sb;
  size_t before = 0, after = 0;
  int rc = parse_opts(argc, argv, OPT_FILE, &o);
  if (rc != CLI_EXIT_OK) return rc;
  if (o.file == NULL) return cli_usage_error("merge: missing FILE (try merge --help)");
  if (stat(o.file, &sb) != 0)
    return cli_usage_error("merge: cannot read %s: %s", o.file, strerror(errno));
  if (!S_ISREG(sb.st_mode)) return cli_usage_error("merge: %s is not a file", o.file);
  /* a source that is no database is the argument's fault, not the run's */
  if (fpx__cache_open(o.file, FPX__CACHE_READONLY, &src) != FPX_OK)
    return cli_usage_error("merge: %s", fpx_last_error());
  fpx__cache_close(src);
  if ((rc = open_db(&o, 1, &cache)) != CLI_EXIT_OK) return rc;
  if (fpx__cache_count_winners(cache, &before) != FPX_OK) {
    rc = cli_failure("merge: %s", fpx_last_error());
    goto done;
  }
  fpx_status st = fpx__cache_merge(cache, o.file);
  if (st == FPX_ERR_INVALID_ARGUMENT) {
    rc = cli_usage_error("merge: %s", fpx_last_error());
    goto done;
  }
  if (st != FPX_OK || fpx__cache_count_winners(cache, &after) != FPX_OK) {
    rc = cli_failure("merge: %s", fpx_last_error());
    goto done;
  }
  printf("merged %s: %zu winners before, %zu after\n", o.file, before, after);
done:
  fpx__cache_close(cache);
  return rc;
}

/* ---- clear -------------------------------------------------------------- */

void fpx__cli_clear_usage(FILE *out) {
  fprintf(out,
          "usage: %s clear [--db PATH] --yes\n"
          "\n"
          "Removes every tuned winner and every kernel binary from the database.\n"
          "Without --yes nothing is removed (exit status 2).\n"
          "\n"
          "options:\n"
          "%s"
          "  --yes           confirm the removal\n",
          cli_program, db_option_help);
}

int fpx__cli_clear(int argc, char **argv) {
  db_opts o;
  fpx__cache *cache = NULL;
  size_t winners = 0, binaries = 0;
  int rc = parse_opts(argc, argv, OPT_YES, &o);
  if (rc != CLI_EXIT_OK) return rc;
  if (!o.yes)
    return cli_usage_error("clear: this removes every tuned winner and kernel binary; "
                           "pass --yes to confirm");
  if ((rc = open_db(&o, 1, &cache)) != CLI_EXIT_OK) return rc;
  if (fpx__cache_count_winners(cache, &winners) != FPX_OK ||
      fpx__cache_count_binaries(cache, &binaries) != FPX_OK || fpx__cache_clear(cache) != FPX_OK)
    rc = cli_failure("clear: %s", fpx_last_error());
  else printf("removed %zu winners and %zu binaries\n", winners, binaries);
  fpx__cache_close(cache);
  return rc;
}

/* ---- compile ------------------------------------------------------------ */

void fpx__cli_compile_usage(FILE *out) {
  fprintf(out,
          "usage: %s compile --arch ARCH [--db PATH] [--format LIST] [--act bf16|f16]\n"
          "                        [--group G] [--jobs N]\n"
          "\n"
          "Compiles weight-only GEMM kernels for ARCH with NVRTC (no GPU needed)\n"
          "into the database's binary store, where the library finds them instead\n"
          "of compiling on first use: the kernel of every tuned winner whose arch\n"
          "is ARCH (winners tuned with other kernel templates are skipped), and,\n"
          "for each --format, the kernels the default heuristic picks for M = 1 to\n"
          "%d. Kernels already stored are not compiled again. Prints one line per\n"
          "kernel, then the numbers compiled and stored, already present, and\n"
          "failed; a failed compile gives exit status 1 after the others finish.\n"
          "\n"
          "options:\n"
          "  --arch ARCH     target architecture: sm_80, sm_86, sm_89, sm_90a, ...\n"
          "                  (the GPU's compute capability; 9.x takes the 'a')\n"
          "%s"
          "  --format LIST   formats, comma-separated, to compile default kernels for\n"
          "  --act bf16|f16  activation and output type of those (default bf16)\n"
          "  --group G       their scale group size: 0 (per row), 32, 64, 128, 256\n"
          "                  (default 0)\n"
          "  --jobs N        compile N kernels at once (default: one per CPU)\n",
          cli_program, FPX__CACHE_M_BUCKET_MAX, db_option_help);
}

typedef struct compile_job {
  char name[FPX__NAME_EXPR_MAX];
  char hash[17];
  fpx__cubin cubin;
  fpx_status status;
  char error[1024];
  double seconds;
  int done;
} compile_job;

typedef struct compile_queue {
  compile_job *jobs;
  size_t count, next;
  const char *arch;
  pthread_mutex_t lock;
  pthread_cond_t done;
} compile_queue;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Takes jobs in order until none is left; NVRTC is thread-safe, and the
 * error detail is per thread. */
static void *compile_worker(void *arg) {
  compile_queue *q = arg;
  for (;;) {
    pthread_mutex_lock(&q->lock);
    const size_t i = q->next < q->count ? q->next++ : q->count;
    pthread_mutex_unlock(&q->lock);
    if (i == q->count) return NULL;
    compile_job *job = &q->jobs[i];
    const double start = now_seconds();
    fpx__cubin cubin;
    const fpx_status st = fpx__compile(FPX__TEMPLATE_WEIGHT_ONLY, job->name, q->arch, &cubin);
    pthread_mutex_lock(&q->lock);
    job->cubin = cubin;
    job->status = st;
    if (st != FPX_OK) snprintf(job->error, sizeof job->error, "%s", fpx_last_error());
    job->seconds = now_seconds() - start;
    job->done = 1;
    pthread_cond_broadcast(&q->done);
    pthread_mutex_unlock(&q->lock);
  }
}

typedef struct job_list {
  compile_job *items;
  size_t count, capacity;
} job_list;

/* Adds the kernel of (key, config) unless a job with its hash exists.
 * Returns 0 when out of memory. */
static int add_job(job_list *l, const char *arch, const fpx__wo_key *key,
                   const fpx_wo_config *config) {
  char name[FPX__NAME_EXPR_MAX], hash[17];
  fpx__wo_gemm_name(key, config, name);
  fpx__kernel_binary_hash(FPX__TEMPLATE_WEIGHT_ONLY, name, arch, hash);
  for (size_t i = 0; i < l->count; i++)
    if (strcmp(l->items[i].hash, hash) == 0) return 1;
  if (l->count == l->capacity) {
    const size_t capacity = l->capacity ? l->capacity * 2 : 32;
    compile_job *grown = realloc(l->items, capacity * sizeof *grown);
    if (grown == NULL) return 0;
    l->items = grown;
    l->capacity = capacity;
  }
  compile_job *job = &l->items[l->count++];
  memset(job, 0, sizeof *job);
  memcpy(job->name, name, sizeof name);
  memcpy(job->hash, hash, sizeof hash);
  return 1;
}

/* The jobs of the winners tuned for o->arch with the current templates;
 * *stale counts the others of that arch. */
static int winner_jobs(const db_opts *o, fpx__cache *cache, job_list *jobs, size_t *stale) {
  winner_list l;
  int rc = load_winners(o, cache, &l);
  for (size_t i = 0; rc == CLI_EXIT_OK && i < l.count; i++) {
    const fpx__cache_key *k = &l.items[i].key;
    fpx__wo_key key = {.group_size = k->group_size};
    if (strcmp(k->arch, o->arch) != 0) continue;
    if (strcmp(k->fpx_hash, fpx__templates_hash()) != 0) {
      (*stale)++;
      continue;
    }
    if (fpx_format_parse(k->weight_format, &key.format) != FPX_OK ||
        fpx_dtype_parse(k->x_dtype, &key.x_dtype) != FPX_OK ||
        fpx_dtype_parse(k->y_dtype, &key.y_dtype) != FPX_OK || fpx__wo_key_check(&key) != FPX_OK)
      rc = cli_failure("compile: winners[%zu]: %s", i, fpx_last_error());
    else if (!add_job(jobs, o->arch, &key, &l.items[i].config))
      rc = cli_failure("compile: out of memory");
  }
  free(l.items);
  return rc;
}

/* The jobs of the default configurations of each --format for M = 1..8192
 * (n = k = 4096, 132 SMs; split_k is a launch parameter, so configurations
 * that differ only there share a kernel). */
static int default_jobs(const db_opts *o, job_list *jobs) {
  for (size_t f = 0; f < o->format_count; f++) {
    const fpx__wo_key key = {o->formats[f], o->act, o->act, o->group};
    if (fpx__wo_key_check(&key) != FPX_OK)
      return cli_usage_error("compile: %s", fpx_last_error());
    for (size_t m = 1; m <= FPX__CACHE_M_BUCKET_MAX; m *= 2) {
      fpx_wo_config config;
      fpx__wo_config_default(m, 4096, 4096, 132, &config);
      if (!add_job(jobs, o->arch, &key, &config)) return cli_failure("compile: out of memory");
    }
  }
  return CLI_EXIT_OK;
}

/* Compiles `count` jobs on up to `threads` threads and stores each result
 * from this thread as it completes, in job order. Returns the failures. */
static size_t compile_and_store(const db_opts *o, fpx__cache *cache, compile_job *jobs,
                                size_t count, int threads, size_t *stored) {
  compile_queue q = {.jobs = jobs, .count = count, .arch = o->arch};
  pthread_t tid[256];
  int started = 0;
  size_t failed = 0;
  const int nvrtc = fpx__nvrtc_version();
  pthread_mutex_init(&q.lock, NULL);
  pthread_cond_init(&q.done, NULL);
  for (int t = 0; t < threads && (size_t)t < count; t++) {
    if (pthread_create(&tid[started], NULL, compile_worker, &q) != 0) break;
    started++;
  }
  if (started == 0) compile_worker(&q);
  for (size_t i = 0; i < count; i++) {
    compile_job *job = &q.jobs[i];
    pthread_mutex_lock(&q.lock);
    while (!job->done) pthread_cond_wait(&q.done, &q.lock);
    pthread_mutex_unlock(&q.lock);
    if (job->status != FPX_OK) {
      failed++;
      fprintf(stderr, "%s: compile: %s: %s\n", cli_program, job->name, job->error);
    } else if (fpx__cache_put_binary(cache, job->hash, o->arch, nvrtc, job->cubin.lowered_name,
                                     job->cubin.data, job->cubin.size) != FPX_OK) {
      failed++;
      fprintf(stderr, "%s: compile: storing %s: %s\n", cli_program, job->name, fpx_last_error());
    } else {
      (*stored)++;
      printf("compiled %s %s %.1f s %zu bytes\n", job->hash, job->name, job->seconds,
             job->cubin.size);
      fflush(stdout);
    }
    fpx__cubin_free(&job->cubin);
  }
  for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
  pthread_cond_destroy(&q.done);
  pthread_mutex_destroy(&q.lock);
  return failed;
}

int fpx__cli_compile(int argc, char **argv) {
  db_opts o;
  fpx__cache *cache = NULL;
  job_list jobs = {0};
  size_t stale = 0, present = 0, stored = 0, failed = 0, count = 0;
  int rc = parse_opts(argc, argv, OPT_ARCH | OPT_FORMAT | OPT_ACT | OPT_GROUP | OPT_JOBS, &o);
  if (rc != CLI_EXIT_OK) return rc;
  if (o.arch == NULL) return cli_usage_error("compile: missing --arch ARCH (try compile --help)");
  if ((rc = default_jobs(&o, &jobs)) != CLI_EXIT_OK) goto done;
  if ((rc = open_db(&o, 1, &cache)) != CLI_EXIT_OK) goto done;
  if ((rc = winner_jobs(&o, cache, &jobs, &stale)) != CLI_EXIT_OK) goto done;
  /* keep the jobs whose binary is not stored yet, in order */
  for (size_t i = 0; i < jobs.count; i++) {
    void *blob = NULL;
    size_t size = 0;
    char lowered[FPX__CACHE_LOWERED_NAME_MAX];
    int found = 0;
    if (fpx__cache_get_binary(cache, jobs.items[i].hash, &blob, &size, lowered, &found) !=
        FPX_OK) {
      rc = cli_failure("compile: %s", fpx_last_error());
      goto done;
    }
    free(blob);
    if (found) present++;
    else jobs.items[count++] = jobs.items[i];
  }
  if (stale > 0)
    fprintf(stderr, "%s: compile: skipped %zu winners of %s tuned with other kernel templates\n",
            cli_program, stale, o.arch);
  if (present + count == 0)
    fprintf(stderr, "%s: compile: no tuned winners for %s and no --format: nothing to do\n",
            cli_program, o.arch);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int threads = o.jobs > 0 ? o.jobs : cpus < 1 ? 1 : cpus > 64 ? 64 : (int)cpus;
  failed = compile_and_store(&o, cache, jobs.items, count, threads, &stored);
  printf("arch: %s\ncompiled and stored: %zu\nalready present: %zu\nfailed: %zu\n", o.arch,
         stored, present, failed);
  if (failed > 0) rc = cli_failure("compile: %zu of %zu kernels failed", failed, count);
done:
  free(jobs.items);
  fpx__cache_close(cache);
  return rc;
}
