/*
 * test_cli_db.c - the database subcommands of fpx-tune (list, show, export,
 * import, merge, clear, compile), run as a child process ($FPX_TUNE, default
 * build/fpx-tune) against databases in a fresh directory under /tmp. compile
 * runs NVRTC for real (no GPU needed).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cache.h"
#include "compile.h"
#include "config.h"
#include "embedded_templates.h"
#include "wgmma_config.h"
#include "cli_support.h"

static char dir[64];     /* this test's directory */
static char db[128];     /* dir/fpx.db */

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/fpx_cli_db_XXXXXX");
  cr_assert(mkdtemp(dir) != NULL);
  snprintf(db, sizeof db, "%s/fpx.db", dir);
}

static void teardown(void) {
  char command[128];
  snprintf(command, sizeof command, "rm -rf '%s'", dir);
  if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(cli_db, .init = setup, .fini = teardown);

static void write_text(const char *name, const char *text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  cr_assert(f != NULL, "cannot write %s", path);
  cr_assert(fputs(text, f) >= 0 && fclose(f) == 0);
}

/* Runs "[env] $FPX_TUNE args" (a printf format; "@" stands for the test's
 * directory) through the shell. Results live in a ring of four. */
static cli_result *run_env(const char *env, const char *fmt, ...) {
  static cli_result ring[4];
  static int next;
  cli_result *r = &ring[next++ % 4];
  char args[1024], expanded[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  size_t used = 0;
  for (const char *p = args; *p && used + 64 < sizeof expanded; p++) {
    if (*p == '@') used += (size_t)snprintf(expanded + used, sizeof expanded - used, "%s", dir);
    else expanded[used++] = *p;
  }
  expanded[used] = '\0';
  cli_run_tool(env, expanded, r);
  return r;
}
#define run(...) run_env(NULL, __VA_ARGS__)

/* One valid winner; the gpu name needs JSON escaping. */
#define ENTRY_FIELDS(GPU, HASH, FORMAT, N, BUCKET, WN, WK, MT, SK, TIME)                        \
  "{\"gpu_name\": \"" GPU "\", \"arch\": \"sm_90a\", \"sm_count\": 132, "                       \
  "\"driver_version\": 12080, \"nvrtc_version\": 12080, \"fpx_hash\": \"" HASH "\", "           \
  "\"family\": \"weight_only\", \"weight_format\": \"" FORMAT "\", \"x_dtype\": \"bf16\", "     \
  "\"y_dtype\": \"bf16\", \"group_size\": 0, \"n\": " N ", \"k\": 14336, \"m_bucket\": " BUCKET \
  ", \"warps_n\": " WN ", \"warps_k\": " WK ", \"m_tiles\": " MT ", \"split_k\": " SK           \
  ", \"time_us\": " TIME ", \"check_tolerance\": 0.01, \"check_error\": 0.00123, "             \
  "\"tuned_at\": 1700000000, \"candidates_checksum\": \"deadbeef\"}"
#define GPU_NAME "Test GPU \\\"80GB\\\" \\\\ x"
#define ENTRY ENTRY_FIELDS(GPU_NAME, "0123abcd", "e3m2", "4096", "16", "4", "2", "2", "4", \
                           "12.345678901234567")
#define DOC(...) "{\"fpx_tuning_db\": 1, \"winners\": [" __VA_ARGS__ "]}\n"

static void import_entry(void) {
  write_text("in.json", DOC(ENTRY));
  cli_result *r = run("import --db @/fpx.db @/in.json");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
}

Test(cli_db, export_of_an_empty_database_is_json_with_no_winners) {
  cli_result *r = run("export --db @/fpx.db");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  cr_assert(contains(r->out, "\"fpx_tuning_db\"") && contains(r->out, "\"winners\""), "%s",
            r->out);
  cr_assert(contains(r->out, "[]"), "%s", r->out);
  cr_assert_neq(access(db, F_OK), 0, "a reader created the database");
  /* the library's own parser accepts it */
  write_text("empty.json", r->out);
  cr_assert_eq(run("import --db @/fpx.db @/empty.json")->exit_code, 0);
  r = run("list --db @/fpx.db");
  cr_assert_eq(r->exit_code, 0);
  cr_assert_eq(count_lines(r->out), 1, "%s", r->out);
  cr_assert_str_eq(run("list --json --db @/fpx.db")->out, "[]\n");
}

Test(cli_db, list_prints_one_line_per_winner) {
  import_entry();
  cli_result *r = run("list --db @/fpx.db");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  cr_assert_eq(count_lines(r->out), 2, "%s", r->out);
  cr_assert(has_line(r->out, "Test GPU \"80GB\" \\ x\tsm_90a\te3m2\tbf16\tbf16\t0\t4096\t14336\t16"
                             "\t4/2/2/4\t12.35\t2023-11-14T22:13:20Z"),
            "%s", r->out);
}

Test(cli_db, show_prints_every_column_of_matching_winners) {
  import_entry();
  cli_result *r = run("show --db @/fpx.db --format fp6 --shape 4096,14336 --m 9");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  cr_assert(has_line(r->out, "gpu_name: Test GPU \"80GB\" \\ x"), "%s", r->out);
  cr_assert(has_line(r->out, "m_bucket: 16"));
  cr_assert(has_line(r->out, "warps_k: 2"));
  cr_assert(has_line(r->out, "check_tolerance: 0.01"));
  cr_assert(has_line(r->out, "check_error: 0.00123"));
  cr_assert(has_line(r->out, "candidates_checksum: deadbeef"));
  cr_assert(has_line(r->out, "tuned_at: 1700000000 (2023-11-14T22:13:20Z)"));
  static const char *const misses[] = {"--m 100", "--format e2m1", "--shape 4096,4096",
                                       "--gpu other", "--arch sm_80"};
  for (size_t i = 0; i < sizeof misses / sizeof misses[0]; i++) {
    r = run("show --db @/fpx.db %s", misses[i]);
    cr_assert_eq(r->exit_code, 0, "%s", misses[i]);
    cr_assert_str_eq(r->out, "", "%s: %s", misses[i], r->out);
  }
  cr_assert_str_eq(run("show --db @/fpx.db --m 100 --json")->out, "[]\n");
}

Test(cli_db, export_import_round_trip_is_exact) {
  import_entry();
  cli_result *a = run("export --db @/fpx.db -o @/a.json");
  cr_assert_eq(a->exit_code, 0, "%s", a->err);
  cli_result *b = run("import --db @/b.db @/a.json");
  cr_assert_eq(b->exit_code, 0, "%s", b->err);
  a = run("export --db @/fpx.db");
  b = run("export --db @/b.db");
  cr_assert_str_eq(a->out, b->out);
  cr_assert(contains(a->out, "12.345678901234567"), "%s", a->out);
  cr_assert(contains(run("export --db @/b.db --gpu 'Test GPU \"80GB\" \\ x'")->out, "deadbeef"));
  cr_assert(!contains(run("export --db @/b.db --gpu other")->out, "deadbeef"));
}

Test(cli_db, list_and_show_json_hold_the_exported_entries) {
  static char list_json[OUT_SIZE], doc[OUT_SIZE + 64];
  import_entry();
  static const char *const commands[] = {"list --json", "show --json --m 16"};
  for (size_t i = 0; i < 2; i++) {
    cli_result *r = run("%s --db @/fpx.db", commands[i]);
    cr_assert_eq(r->exit_code, 0, "%s", r->err);
    snprintf(list_json, sizeof list_json, "%s", r->out);
    snprintf(doc, sizeof doc, "{\"fpx_tuning_db\": 1, \"winners\": %s}", list_json);
    write_text("list.json", doc);
    run("clear --yes --db @/c.db");
    r = run("import --db @/c.db @/list.json");
    cr_assert_eq(r->exit_code, 0, "%s: %s\n%s", commands[i], r->err, list_json);
    cli_result *a = run("export --db @/fpx.db"), *c = run("export --db @/c.db");
    cr_assert_str_eq(a->out, c->out, "%s", commands[i]);
  }
}

Test(cli_db, malformed_import_exits_2_and_leaves_the_database_unchanged) {
  static char before[OUT_SIZE];
  import_entry();
  snprintf(before, sizeof before, "%s", run("export --db @/fpx.db")->out);
  write_text("syntax.json", "{\"fpx_tuning_db\": 1, \"winners\": [");
  cli_result *r = run("import --db @/fpx.db @/syntax.json");
  cr_assert_eq(r->exit_code, 2);
  cr_assert(contains(r->err, "syntax"), "%s", r->err);
  write_text("field.json", DOC(ENTRY_FIELDS("other", "0123abcd", "e2m1", "8192", "16", "4", "1",
                                            "1", "1", "3.5") ", " ENTRY_FIELDS(
      "other", "0123abcd", "e2m1", "8192", "3", "4", "1", "1", "1", "3.5")));
  r = run("import --db @/fpx.db @/field.json");
  cr_assert_eq(r->exit_code, 2);
  cr_assert(contains(r->err, "winners[1]") && contains(r->err, "m_bucket"), "%s", r->err);
  r = run("import --db @/fpx.db @/missing.json");
  cr_assert_eq(r->exit_code, 2);
  cr_assert(contains(r->err, "missing.json"), "%s", r->err);
  cr_assert_str_eq(run("export --db @/fpx.db")->out, before);
}

Test(cli_db, import_keeps_the_faster_entry_per_key) {
  import_entry();
  write_text("slow.json", DOC(ENTRY_FIELDS(GPU_NAME, "0123abcd", "e3m2", "4096", "16", "8", "1",
                                           "1", "1", "99")));
  cr_assert_eq(run("import --db @/fpx.db @/slow.json")->exit_code, 0);
  cli_result *r = run("list --db @/fpx.db");
  cr_assert_eq(count_lines(r->out), 2, "%s", r->out);
  cr_assert(contains(r->out, "4/2/2/4"), "%s", r->out);
}

Test(cli_db, clear_needs_yes) {
  import_entry();
  cli_result *r = run("clear --db @/fpx.db");
  cr_assert_eq(r->exit_code, 2);
  cr_assert(contains(r->err, "--yes"), "%s", r->err);
  cr_assert_eq(count_lines(run("list --db @/fpx.db")->out), 2);
  r = run("clear --yes --db @/fpx.db");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  cr_assert(contains(r->out, "removed 1 winners"), "%s", r->out);
  cr_assert_eq(count_lines(run("list --db @/fpx.db")->out), 1);
}

Test(cli_db, merge_adds_the_winners_of_another_database) {
  import_entry();
  write_text("other.json", DOC(ENTRY_FIELDS("other", "0123abcd", "e2m1", "8192", "1", "4", "1",
                                            "1", "1", "3.5")));
  cr_assert_eq(run("import --db @/other.db @/other.json")->exit_code, 0);
  cli_result *r = run("merge --db @/fpx.db @/other.db");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  cr_assert(contains(r->out, "1 winners before, 2 after"), "%s", r->out);
  cr_assert_eq(count_lines(run("list --db @/fpx.db")->out), 3);
  write_text("junk.db", "this is not a database, just some text long enough to matter\n");
  r = run("merge --db @/fpx.db @/junk.db");
  cr_assert_eq(r->exit_code, 2, "%s", r->err);
  cr_assert(contains(r->err, "junk.db"), "%s", r->err);
  r = run("merge --db @/fpx.db @/none.db");
  cr_assert_eq(r->exit_code, 2);
  cr_assert(contains(r->err, "none.db"), "%s", r->err);
  cr_assert_eq(count_lines(run("list --db @/fpx.db")->out), 3);
}

Test(cli_db, default_database_follows_fpx_cache_dir) {
  char env[128];
  write_text("in.json", DOC(ENTRY));
  snprintf(env, sizeof env, "FPX_CACHE_DIR='%s/cache'", dir);
  cli_result *r = run_env(env, "import @/in.json");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  cr_assert_eq(count_lines(run("list --db @/cache/fpx.db")->out), 2);
  cr_assert_eq(count_lines(run_env(env, "list")->out), 2);
}

Test(cli_db, every_subcommand_has_help) {
  static const char *const commands[] = {"list", "show", "export", "import",
                                         "merge", "clear", "compile"};
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    cli_result *r = run("%s --help", commands[i]);
    cr_assert_eq(r->exit_code, 0, "%s", commands[i]);
    cr_assert(contains(r->out, "usage:") && contains(r->out, commands[i]), "%s", r->out);
    cr_assert(contains(r->out, "--db") || strcmp(commands[i], "compile") == 0, "%s", r->out);
    cr_assert(contains(run("--help")->out, commands[i]));
  }
}

Test(cli_db, bad_arguments_exit_2_naming_them) {
  static const struct {
    const char *args, *named;
  } cases[] = {
      {"list --bogus", "--bogus"},
      {"list extra", "extra"},
      {"list --db=", "--db"},
      {"show --m 0", "--m"},
      {"show --m x", "'x'"},
      {"show --shape 4096", "4096"},
      {"show --format e9m9", "e9m9"},
      {"show --yes", "--yes"},
      {"export --gpu=", "--gpu"},
      {"export a b", "a"},
      {"import", "FILE"},
      {"import a.json b.json", "b.json"},
      {"merge", "FILE"},
      {"merge --json x.db", "--json"},
      {"clear", "--yes"},
      {"clear --force", "--force"},
      {"compile", "--arch"},
      {"compile --arch sm_70", "sm_70"},
      {"compile --arch gfx90a", "gfx90a"},
      {"compile --arch sm_90a --format bogus", "bogus"},
      {"compile --arch sm_90a --act f32", "f32"},
      {"compile --arch sm_90a --group 48", "48"},
      {"compile --arch sm_90a --jobs 0", "--jobs"},
      {"compile --arch sm_90a --format e5m1 --act f16", "e5m1"},
      {"compile --arch sm_90a --format e5m1 --act e4m3", "e5m1"},
      {"compile --arch sm_90a --m 1", "--shipped"},
      {"compile --arch sm_90a --gpu H", "--shipped"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cli_result *r = run("%s --db @/fpx.db", cases[i].args);
    cr_assert_eq(r->exit_code, 2, "%s: exit %d, %s", cases[i].args, r->exit_code, r->err);
    cr_assert(contains(r->err, cases[i].named), "%s: %s", cases[i].args, r->err);
  }
  cr_assert_neq(access(db, F_OK), 0, "a rejected command created the database");
}

/* compile stores under the hash the runtime computes; a second run finds
 * every kernel present: the default mma.sync kernels (1/4/1 up to M = 8,
 * 1/4/2 at M = 16, 1/4/4 at M = 32, 4/1/8 beyond), on sm_90a the automatic
 * wgmma kernels (64, 128 and 256 tokens) with the X permute pass, and the
 * winner's 4/1/1. */
Test(cli_db, compile_stores_the_kernels_the_runtime_looks_up) {
  char entry[2048], hash[17], name[FPX__NAME_EXPR_MAX];
  snprintf(entry, sizeof entry,
           DOC(ENTRY_FIELDS("gpu", "%s", "e2m1", "4096", "1", "4", "1", "1", "3", "2.5") ", "
               ENTRY_FIELDS("gpu", "0123abcd", "e2m1", "4096", "2", "8", "1", "1", "1", "2.5")),
           fpx__templates_hash());
  write_text("in.json", entry);
  cr_assert_eq(run("import --db @/fpx.db @/in.json")->exit_code, 0);
  cli_result *r = run("compile --db @/fpx.db --arch sm_90a --format e2m1 --jobs 2");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  cr_assert(has_line(r->out, "compiled and stored: 9"), "%s", r->out);
  cr_assert(has_line(r->out, "already present: 0"), "%s", r->out);
  cr_assert(contains(r->err, "skipped 1 winners"), "%s", r->err);
  r = run("compile --db @/fpx.db --arch sm_90a --format fp4");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  cr_assert(has_line(r->out, "compiled and stored: 0"), "%s", r->out);
  cr_assert(has_line(r->out, "already present: 9"), "%s", r->out);

  fpx__cache *cache = NULL;
  cr_assert_eq(fpx__cache_open(db, 0, &cache), FPX_OK, "%s", fpx_last_error());
  size_t binaries = 0;
  cr_assert_eq(fpx__cache_count_binaries(cache, &binaries), FPX_OK);
  cr_assert_eq(binaries, 9);
  const fpx__wo_key key = {{2, 1}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0};
  const fpx_wo_config config = {4, 1, 1, 3, 0, 0, 0};
  fpx__wo_gemm_name(&key, &config, name);
  fpx__kernel_binary_hash(FPX__TEMPLATE_WEIGHT_ONLY, name, "sm_90a", hash);
  void *blob = NULL;
  size_t size = 0;
  char lowered[FPX__CACHE_LOWERED_NAME_MAX] = "";
  int found = 0;
  cr_assert_eq(fpx__cache_get_binary(cache, hash, &blob, &size, lowered, &found), FPX_OK);
  cr_assert(found && size > 0, "%s (%s) not stored", name, hash);
  cr_assert(contains(lowered, "weight_only_gemm"), "%s", lowered);
  free(blob);
  fpx__cache_close(cache);
}

/* compile --act e4m3 builds the FP8-activation kernels fpx_gemm picks by
 * itself (bf16 output): for e2m1 the mma.sync FP8 instances, the wgmma FP8
 * instances and the permutation pass that swaps X's middle bytes. */
Test(cli_db, compile_builds_fp8_activation_defaults, .timeout = 600) {
  cli_result *r = run("compile --db @/fpx.db --arch sm_90a --format e2m1 --act e4m3 --jobs 2");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  cr_assert(contains(r->out, "fpx::weight_only_gemm<2,1,2,1,0,1,4,1>"), "%s", r->out);
  cr_assert(contains(r->out, "fpx::wgmma_gemm<2,1,2,1,0,256,4,1>"), "%s", r->out);
  cr_assert(contains(r->out, "fpx::wgmma_permute_x<1,1>"), "%s", r->out);
  cr_assert(!contains(r->out, "fpx::wgmma_permute_x<2,"), "%s", r->out);
  cr_assert(has_line(r->out, "failed: 0"), "%s", r->out);
}

/* Asserts that the database at db holds the binary of kernel `name` of
 * template_name for sm_90a, under the hash the runtime computes, and that
 * its lowered name contains `lowered_part`. */
static void assert_binary_stored(const char *template_name, const char *name,
                                 const char *lowered_part) {
  char hash[17], lowered[FPX__CACHE_LOWERED_NAME_MAX] = "";
  fpx__kernel_binary_hash(template_name, name, "sm_90a", hash);
  fpx__cache *cache = NULL;
  cr_assert_eq(fpx__cache_open(db, 0, &cache), FPX_OK, "%s", fpx_last_error());
  void *blob = NULL;
  size_t size = 0;
  int found = 0;
  cr_assert_eq(fpx__cache_get_binary(cache, hash, &blob, &size, lowered, &found), FPX_OK);
  cr_assert(found && size > 0, "%s (%s) not stored", name, hash);
  cr_assert(contains(lowered, lowered_part), "%s", lowered);
  free(blob);
  fpx__cache_close(cache);
}

/* The shipped H200 winner of e3m2 x bf16, N = K = 4096, M bucket 1, read
 * from the embedded databases through the cache API. */
typedef struct shipped_find {
  fpx_wo_config config;
  int found;
} shipped_find;

static int find_shipped_e3m2(const fpx__cache_winner *w, void *user) {
  shipped_find *f = user;
  const fpx__cache_key *k = &w->key;
  if (strcmp(k->gpu_name, "NVIDIA H200") == 0 && strcmp(k->weight_format, "e3m2") == 0 &&
      strcmp(k->x_dtype, "bf16") == 0 && k->group_size == 0 && k->n == 4096 && k->k == 4096 &&
      k->m_bucket == 1) {
    f->config = w->config;
    f->found++;
  }
  return 0;
}

/* compile --shipped stores the kernels of the shipped winners that match
 * the filters (here one GPU model, shape and M bucket: one winner per
 * family and format tuned there) under the hash the runtime looks up, and
 * finds them present the second time. */
Test(cli_db, compile_shipped_stores_the_shipped_winners_kernels, .timeout = 600) {
  cli_result *r = run("compile --db @/fpx.db --arch sm_90a --shipped --gpu \"NVIDIA H200\" "
                      "--shape 4096,4096 --m 1 --jobs 2");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  size_t matched = 0, stored = 0;
  const char *line = strstr(r->out, "shipped winners of sm_90a that match: ");
  cr_assert_not_null(line, "%s", r->out);
  cr_assert_eq(sscanf(line, "shipped winners of sm_90a that match: %zu", &matched), 1);
  line = strstr(r->out, "compiled and stored: ");
  cr_assert_not_null(line, "%s", r->out);
  cr_assert_eq(sscanf(line, "compiled and stored: %zu", &stored), 1);
  cr_assert(matched >= 2 && stored >= 1 && stored <= 2 * matched, "matched %zu, stored %zu: %s",
            matched, stored, r->out);
  cr_assert(has_line(r->out, "failed: 0"), "%s", r->out);

  /* the e3m2 winner's kernel is among them */
  fpx__cache *mem = NULL;
  shipped_find f = {0};
  cr_assert_eq(fpx__cache_open(":memory:", 0, &mem), FPX_OK, "%s", fpx_last_error());
  for (const fpx__embedded_template *s = fpx__embedded_shipped; s->name; s++)
    cr_assert_eq(fpx__cache_import_json(mem, s->source, NULL, 0), FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(fpx__cache_list_winners(mem, find_shipped_e3m2, &f), FPX_OK);
  fpx__cache_close(mem);
  cr_assert_eq(f.found, 1, "the shipped H200 database has no e3m2 winner at 4096 x 4096, M = 1");
  const fpx__wo_key key = {{3, 2}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0};
  char name[FPX__NAME_EXPR_MAX];
  fpx__wo_gemm_name(&key, &f.config, name);
  if (f.config.kernel == 1) {
    assert_binary_stored(FPX__TEMPLATE_WGMMA, name, "wgmma_gemm");
    fpx__wgmma_permute_name(&key, name);
    assert_binary_stored(FPX__TEMPLATE_WGMMA, name, "wgmma_permute_x");
  } else {
    assert_binary_stored(FPX__TEMPLATE_WEIGHT_ONLY, name, "weight_only_gemm");
  }

  r = run("compile --db @/fpx.db --arch sm_90a --shipped --gpu \"NVIDIA H200\" --shape 4096,4096 "
          "--m 1");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  cr_assert(has_line(r->out, "compiled and stored: 0"), "%s", r->out);
  char present[64];
  snprintf(present, sizeof present, "already present: %zu", stored);
  cr_assert(has_line(r->out, present), "%s", r->out);
  /* no shipped winner of another GPU model */
  r = run("compile --db @/fpx.db --arch sm_90a --shipped --gpu \"No Such GPU\"");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  cr_assert(has_line(r->out, "shipped winners of sm_90a that match: 0"), "%s", r->out);
}

/* A wgmma winner (kernel 1): 128 tokens, 4 stages; its mma.sync fields 0. */
#define WGMMA_ENTRY                                                                          \
  "{\"gpu_name\": \"H\", \"arch\": \"sm_90a\", \"sm_count\": 132, \"driver_version\": 12080, " \
  "\"nvrtc_version\": 12080, \"fpx_hash\": \"0123abcd\", \"family\": \"weight_only\", "          \
  "\"weight_format\": \"e3m2\", \"x_dtype\": \"bf16\", \"y_dtype\": \"bf16\", "                  \
  "\"group_size\": 0, \"n\": 4096, \"k\": 14336, \"m_bucket\": 1024, \"warps_n\": 0, "           \
  "\"warps_k\": 0, \"m_tiles\": 0, \"split_k\": 0, \"time_us\": 50.5, "                         \
  "\"check_tolerance\": 1, \"check_error\": 0.25, \"tuned_at\": 1700000000, "                  \
  "\"candidates_checksum\": \"ab\", \"kernel\": 1, \"tokens\": 128, \"stages\": 4}"

Test(cli_db, list_and_show_print_wgmma_configs) {
  write_text("in.json", DOC(ENTRY "," WGMMA_ENTRY));
  cli_result *r = run("import --db @/fpx.db @/in.json");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  r = run("list --db @/fpx.db");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  cr_assert(has_line(r->out, "H\tsm_90a\te3m2\tbf16\tbf16\t0\t4096\t14336\t1024\twgmma:128/4\t50.50"
                             "\t2023-11-14T22:13:20Z"),
            "%s", r->out);
  cr_assert(contains(r->out, "\t4/2/2/4\t"), "%s", r->out);
  r = run("show --db @/fpx.db --gpu H");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  cr_assert(has_line(r->out, "config: wgmma:128/4"), "%s", r->out);
  cr_assert(has_line(r->out, "kernel: 1 (wgmma)"), "%s", r->out);
  cr_assert(has_line(r->out, "tokens: 128"), "%s", r->out);
  cr_assert(has_line(r->out, "stages: 4"), "%s", r->out);
  r = run("show --db @/fpx.db --m 16");
  cr_assert(has_line(r->out, "config: 4/2/2/4"), "%s", r->out);
  cr_assert(has_line(r->out, "kernel: 0 (mma.sync)"), "%s", r->out);
  /* --json and export carry the fields, and the export imports again */
  r = run("show --json --db @/fpx.db --gpu H");
  cr_assert(contains(r->out, "\"kernel\": 1, \"tokens\": 128, \"stages\": 4"), "%s", r->out);
  r = run("export --db @/fpx.db");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  write_text("again.json", r->out);
  r = run("import --db @/b.db @/again.json");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  r = run("list --db @/b.db");
  cr_assert(contains(r->out, "\twgmma:128/4\t"), "%s", r->out);
}

Test(cli_db, import_rejects_a_wgmma_entry_the_key_does_not_allow) {
  write_text("in.json", DOC(WGMMA_ENTRY));
  cli_result *r = run("import --db @/fpx.db @/in.json");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  /* tokens 96 is no wgmma configuration */
  char text[4096];
  snprintf(text, sizeof text, "%s", DOC(WGMMA_ENTRY));
  char *p = strstr(text, "\"tokens\": 128");
  cr_assert_not_null(p);
  memcpy(p, "\"tokens\": 096", 13);
  write_text("bad.json", text);
  r = run("import --db @/fpx.db @/bad.json");
  cr_assert_neq(r->exit_code, 0);
  cr_assert(contains(r->err, "tokens"), "%s", r->err);
}

/* compile builds a wgmma winner from the wgmma template and stores it under
 * the hash the runtime computes for that template. */
Test(cli_db, compile_builds_wgmma_winners_from_their_template) {
  char text[4096];
  const char *doc = DOC(WGMMA_ENTRY), *p = strstr(doc, "0123abcd");
  cr_assert_not_null(p);
  snprintf(text, sizeof text, "%.*s%s%s", (int)(p - doc), doc, fpx__templates_hash(), p + 8);
  write_text("in.json", text);
  cli_result *r = run("import --db @/fpx.db @/in.json");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  r = run("compile --db @/fpx.db --arch sm_90a");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  /* the winner's kernel and the pass that permutes X for it */
  cr_assert(has_line(r->out, "compiled and stored: 2"), "%s", r->out);
  cr_assert(contains(r->out, "fpx::wgmma_permute_x<2,0>"), "%s", r->out);

  const fpx__wo_key key = {{3, 2}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0};
  const fpx_wo_config config = {.kernel = 1, .tokens = 128, .stages = 4};
  char name[FPX__NAME_EXPR_MAX];
  fpx__wo_gemm_name(&key, &config, name);
  cr_assert(contains(name, "wgmma_gemm"), "%s", name);
  assert_binary_stored(FPX__TEMPLATE_WGMMA, name, "wgmma_gemm");
  /* the permute pass, under the hash the runtime looks up */
  fpx__wgmma_permute_name(&key, name);
  assert_binary_stored(FPX__TEMPLATE_WGMMA, name, "wgmma_permute_x");
}
