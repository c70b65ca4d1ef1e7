/*
 * cli_db.c - the fpx-tune subcommands that manage the tuning database
 * (cache/cache.h) without a GPU:
 *   list     one line per tuned winner (or a JSON array)
 *   show     the winners matching filters, every column
 *   export   the database as tuning JSON
 *   import   tuning JSON into the database (all or nothing)
 *   merge    another database file into this one
 *   clear    remove every winner and kernel binary
 * (compile is in cli_compile.c; the shared option parser in
 * cli_db_options.c). JSON is written by hand here (only cache/ sees cJSON),
 * with the field names and number formatting of fpx__cache_export_json.
 */
#include "cli_db.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "cli_db_options.h"
#include "cli.h"
#include "config.h"

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
  fprintf(out, ", \"kernel\": %d, \"tokens\": %d, \"stages\": %d}", c->kernel, c->tokens,
          c->stages);
}

/* The winners passing `filter` (NULL: all) as a JSON array. */
static void print_json_array(const winner_list *l, const db_opts *filter) {
  size_t printed = 0;
  for (size_t i = 0; i < l->count; i++) {
    if (filter != NULL && !cli_db_matches(filter, &l->items[i])) continue;
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
          "bucket, config (warps_n/warps_k/m_tiles/split_k for mma.sync,\n"
          "wgmma:tokens/stages for the Hopper wgmma family), time in microseconds,\n"
          "and the tuning date (UTC). With --json, prints a JSON array of the\n"
          "winners with the fields of 'export'. A database file that does not\n"
          "exist lists as empty.\n"
          "\n"
          "options:\n"
          "%s"
          "  --json          a JSON array instead of the table\n",
          cli_program, cli_db_option_help);
}

int fpx__cli_list(int argc, char **argv) {
  db_opts o;
  fpx__cache *cache = NULL;
  winner_list l = {0};
  int rc = cli_db_parse_opts(argc, argv, OPT_JSON, &o);
  if (rc != CLI_EXIT_OK) return rc;
  if ((rc = cli_db_open(&o, 0, &cache)) != CLI_EXIT_OK) return rc;
  if ((rc = cli_db_load_winners(&o, cache, &l)) != CLI_EXIT_OK) goto done;
  if (o.json) {
    print_json_array(&l, NULL);
    goto done;
  }
  printf("gpu\tarch\tformat\tx\ty\tgroup\tN\tK\tM\tconfig\ttime_us\ttuned\n");
  for (size_t i = 0; i < l.count; i++) {
    const fpx__cache_winner *w = &l.items[i];
    const fpx__cache_key *k = &w->key;
    char date[32], config[48];
    format_date(w->tuned_at, date);
    fpx__wo_config_text(&w->config, config, sizeof config);
    printf("%s\t%s\t%s\t%s\t%s\t%d\t%lld\t%lld\t%d\t%s\t%.2f\t%s\n", k->gpu_name, k->arch,
           k->weight_format, k->x_dtype, k->y_dtype, k->group_size, (long long)k->n,
           (long long)k->k, k->m_bucket, config, w->time_us, date);
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
          cli_program, cli_db_option_help, FPX__CACHE_M_BUCKET_MAX);
}

static void print_winner_text(const fpx__cache_winner *w) {
  const fpx__cache_key *k = &w->key;
  char date[32], config[48];
  format_date(w->tuned_at, date);
  fpx__wo_config_text(&w->config, config, sizeof config);
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
  printf("kernel: %d (%s)\ntokens: %d\nstages: %d\nconfig: %s\n", w->config.kernel,
         w->config.kernel == 1 ? "wgmma" : "mma.sync", w->config.tokens, w->config.stages, config);
}

int fpx__cli_show(int argc, char **argv) {
  db_opts o;
  fpx__cache *cache = NULL;
  winner_list l = {0};
  size_t shown = 0;
  int rc = cli_db_parse_opts(argc, argv, OPT_JSON | OPT_FORMAT | OPT_SHAPE | OPT_M | OPT_GPU | OPT_ARCH,
                      &o);
  if (rc != CLI_EXIT_OK) return rc;
  if ((rc = cli_db_open(&o, 0, &cache)) != CLI_EXIT_OK) return rc;
  if ((rc = cli_db_load_winners(&o, cache, &l)) != CLI_EXIT_OK) goto done;
  for (size_t i = 0; i < l.count; i++) shown += cli_db_matches(&o, &l.items[i]);
  if (o.json) {
    print_json_array(&l, &o);
  } else {
    size_t printed = 0;
    for (size_t i = 0; i < l.count; i++) {
      if (!cli_db_matches(&o, &l.items[i])) continue;
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
          cli_program, cli_db_option_help);
}

int fpx__cli_export(int argc, char **argv) {
  db_opts o;
  fpx__cache *cache = NULL;
  char *json = NULL;
  int rc = cli_db_parse_opts(argc, argv, OPT_GPU | OPT_OUTPUT, &o);
  if (rc != CLI_EXIT_OK) return rc;
  if ((rc = cli_db_open(&o, 0, &cache)) != CLI_EXIT_OK) return rc;
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
          cli_program, cli_db_option_help);
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
  int rc = cli_db_parse_opts(argc, argv, OPT_FILE, &o);
  if (rc != CLI_EXIT_OK) return rc;
  if (o.file == NULL) return cli_usage_error("import: missing FILE (try import --help)");
  if ((rc = read_text("import", o.file, &text)) != CLI_EXIT_OK) return rc;
  if ((rc = cli_db_open(&o, 1, &cache)) != CLI_EXIT_OK) goto done;
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
          cli_program, cli_db_option_help);
}

int fpx__cli_merge(int argc, char **argv) {
  db_opts o;
  fpx__cache *cache = NULL, *src = NULL;
  struct stat sb;
  size_t before = 0, after = 0;
  int rc = cli_db_parse_opts(argc, argv, OPT_FILE, &o);
  if (rc != CLI_EXIT_OK) return rc;
  if (o.file == NULL) return cli_usage_error("merge: missing FILE (try merge --help)");
  if (stat(o.file, &sb) != 0)
    return cli_usage_error("merge: cannot read %s: %s", o.file, strerror(errno));
  if (!S_ISREG(sb.st_mode)) return cli_usage_error("merge: %s is not a file", o.file);
  /* a source that is no database is the argument's fault, not the run's */
  if (fpx__cache_open(o.file, FPX__CACHE_READONLY, &src) != FPX_OK)
    return cli_usage_error("merge: %s", fpx_last_error());
  fpx__cache_close(src);
  if ((rc = cli_db_open(&o, 1, &cache)) != CLI_EXIT_OK) return rc;
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
          cli_program, cli_db_option_help);
}

int fpx__cli_clear(int argc, char **argv) {
  db_opts o;
  fpx__cache *cache = NULL;
  size_t winners = 0, binaries = 0;
  int rc = cli_db_parse_opts(argc, argv, OPT_YES, &o);
  if (rc != CLI_EXIT_OK) return rc;
  if (!o.yes)
    return cli_usage_error("clear: this removes every tuned winner and kernel binary; "
                           "pass --yes to confirm");
  if ((rc = cli_db_open(&o, 1, &cache)) != CLI_EXIT_OK) return rc;
  if (fpx__cache_count_winners(cache, &winners) != FPX_OK ||
      fpx__cache_count_binaries(cache, &binaries) != FPX_OK || fpx__cache_clear(cache) != FPX_OK)
    rc = cli_failure("clear: %s", fpx_last_error());
  else printf("removed %zu winners and %zu binaries\n", winners, binaries);
  fpx__cache_close(cache);
  return rc;
}

