/*
 * test_cache_io.c - the tuning database's binaries (round trip, checksum
 * verified on load, tampered rows removed) and its JSON export, import and
 * merge (exact round trip, malformed input changes nothing and names the
 * entry and field).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache_support.h"

TestSuite(cache_io, .init = make_tmpdir, .fini = remove_tmpdir);

/* ---- binaries --------------------------------------------------------- */

Test(cache_io, binary_round_trip) {
  fpx__cache *c = open_ok(tmp_path("bin.db"), 0);
  unsigned char blob[3000];
  uint64_t rng = 7;
  for (size_t i = 0; i < sizeof blob; i++) blob[i] = (unsigned char)rng_next(&rng);
  cr_assert_eq(fpx__cache_put_binary(c, "00ff00ff00ff00ff", "sm_90a", 12040,
                                     "_ZN3fpx16weight_only_gemmILi3E", blob, sizeof blob),
               FPX_OK, "%s", fpx_last_error());
  void *got = NULL;
  size_t size = 0;
  char name[FPX__CACHE_LOWERED_NAME_MAX] = "";
  int found = 0;
  cr_assert_eq(fpx__cache_get_binary(c, "00ff00ff00ff00ff", &got, &size, name, &found), FPX_OK,
               "%s", fpx_last_error());
  cr_assert(found);
  cr_assert_eq(size, sizeof blob);
  cr_assert_eq(memcmp(got, blob, size), 0);
  cr_assert_str_eq(name, "_ZN3fpx16weight_only_gemmILi3E");
  free(got);
  got = (void *)1;
  found = 1;
  cr_assert_eq(fpx__cache_get_binary(c, "1234", &got, &size, name, &found), FPX_OK);
  cr_assert_not(found);
  cr_assert_null(got);
  cr_assert_eq(fpx__cache_get_binary(c, "not-hex", &got, &size, name, &found),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "not-hex"), "%s", fpx_last_error());
  fpx__cache_close(c);
  /* survives reopening read-only */
  c = open_ok(tmp_path("bin.db"), FPX__CACHE_READONLY);
  cr_assert_eq(fpx__cache_get_binary(c, "00ff00ff00ff00ff", &got, &size, name, &found), FPX_OK);
  cr_assert(found);
  cr_assert_eq(memcmp(got, blob, size), 0);
  free(got);
  fpx__cache_close(c);
}

Test(cache_io, a_tampered_blob_is_not_returned_and_its_row_is_removed) {
  fpx__cache *c = open_ok(":memory:", 0);
  const char blob[] = "cubin bytes that will be damaged";
  cr_assert_eq(fpx__cache_put_binary(c, "abc", "sm_89", 12040, "kernel", blob, sizeof blob),
               FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(fpx__cache_put_binary(c, "def", "sm_89", 12040, "kernel2", blob, sizeof blob),
               FPX_OK);
  /* flip one byte of the stored blob */
  cr_assert_eq(fpx__cache_exec_for_testing(
                   c, "UPDATE binaries SET blob = CAST('cubin bytes that will be damagee' || "
                      "char(0) AS BLOB) WHERE hash = 'abc'"),
               FPX_OK, "%s", fpx_last_error());
  void *got = (void *)1;
  size_t size = 7;
  char name[FPX__CACHE_LOWERED_NAME_MAX];
  int found = 1;
  cr_assert_eq(fpx__cache_get_binary(c, "abc", &got, &size, name, &found), FPX_OK, "%s",
               fpx_last_error());
  cr_assert_not(found);
  cr_assert_null(got);
  cr_assert_eq(size, 0);
  size_t count = 0;
  cr_assert_eq(fpx__cache_count_binaries(c, &count), FPX_OK);
  cr_assert_eq(count, 1, "the damaged row was not removed");
  /* the intact one is still served */
  cr_assert_eq(fpx__cache_get_binary(c, "def", &got, &size, name, &found), FPX_OK);
  cr_assert(found);
  cr_assert_eq(memcmp(got, blob, sizeof blob), 0);
  free(got);
  /* a tampered checksum counts the same */
  cr_assert_eq(fpx__cache_exec_for_testing(c, "UPDATE binaries SET checksum = '0' WHERE hash = 'def'"),
               FPX_OK);
  cr_assert_eq(fpx__cache_get_binary(c, "def", &got, &size, name, &found), FPX_OK);
  cr_assert_not(found);
  cr_assert_eq(fpx__cache_count_binaries(c, &count), FPX_OK);
  cr_assert_eq(count, 0);
  fpx__cache_close(c);
}

Test(cache_io, put_binary_rejects_bad_arguments) {
  fpx__cache *c = open_ok(":memory:", 0);
  const char blob[] = "x";
  cr_assert_eq(fpx__cache_put_binary(c, "", "sm_89", 1, "k", blob, 1), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx__cache_put_binary(c, "zz", "sm_89", 1, "k", blob, 1), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx__cache_put_binary(c, "ab", "sm_89", 1, "k", blob, 0), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx__cache_put_binary(c, "ab", "sm_89", 1, "", blob, 1), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx__cache_put_binary(c, "ab", NULL, 1, "k", blob, 1), FPX_ERR_INVALID_ARGUMENT);
  size_t count = 9;
  cr_assert_eq(fpx__cache_count_binaries(c, &count), FPX_OK);
  cr_assert_eq(count, 0);
  fpx__cache_close(c);
}

/* ---- JSON ------------------------------------------------------------- */

typedef struct collected { fpx__cache_winner items[64]; int count; } collected;
static int collect_cb(const fpx__cache_winner *w, void *user) {
  collected *s = user;
  if (s->count < 64) s->items[s->count] = *w;
  s->count++;
  return 0;
}

static void fill_varied(fpx__cache *c) {
  static const char *formats[] = {"e3m2", "e2m1", "e4m3", "e2m3", "e5m2"};
  static const char *ydt[] = {"f16", "bf16", "f32"};
  for (int i = 0; i < 12; i++) {
    fpx__cache_winner w = sample(1000 + 17 * i, 1 << (i % 14), 0.1 + i / 3.0);
    snprintf(w.key.weight_format, sizeof w.key.weight_format, "%s", formats[i % 5]);
    snprintf(w.key.x_dtype, sizeof w.key.x_dtype, "%s", i % 2 ? "bf16" : "f16");
    snprintf(w.key.y_dtype, sizeof w.key.y_dtype, "%s", ydt[i % 3]);
    if (i % 4 == 3) snprintf(w.key.gpu_name, sizeof w.key.gpu_name, "NVIDIA L40S");
    w.key.group_size = (i % 3) ? 64 * (i % 3) : 0;
    w.key.k = 8192 + 256 * i;
    w.key.sm_count = 100 + i;
    w.key.driver_version = 12000 + i;
    w.key.nvrtc_version = 12100 + i;
    w.config = (fpx_wo_config){1 << (i % 4), 1 << (i % 2), 1 << (i % 4), 1 + i, 0, 0, 0};
    w.check_tolerance = 1.0 / (3 + i);
    w.check_error = 1e-7 * (i + 1) / 7.0;
    w.tuned_at = 1700000000 + 12345 * i;
    snprintf(w.candidates_checksum, sizeof w.candidates_checksum, "%08x", 0x9e3779b9u * (unsigned)i);
    put_ok(c, &w);
  }
}

Test(cache_io, export_then_import_is_exact) {
  fpx__cache *a = open_ok(":memory:", 0);
  fill_varied(a);
  char *json = NULL;
  cr_assert_eq(fpx__cache_export_json(a, NULL, &json), FPX_OK, "%s", fpx_last_error());
  cr_assert(contains(json, "\"fpx_tuning_db\""), "%s", json);
  fpx__cache *b = open_ok(tmp_path("b.db"), 0);
  char err[256];
  cr_assert_eq(fpx__cache_import_json(b, json, err, sizeof err), FPX_OK, "%s", err);
  free(json);
  collected x = {0}, y = {0};
  cr_assert_eq(fpx__cache_list_winners(a, collect_cb, &x), FPX_OK);
  cr_assert_eq(fpx__cache_list_winners(b, collect_cb, &y), FPX_OK);
  cr_assert_eq(x.count, 12);
  cr_assert_eq(y.count, x.count);
  for (int i = 0; i < x.count; i++) {
    const fpx__cache_winner *p = &x.items[i], *q = &y.items[i];
    cr_assert_eq(memcmp(&p->key, &q->key, sizeof p->key), 0, "key of row %d", i);
    cr_assert_eq(memcmp(&p->config, &q->config, sizeof p->config), 0, "config of row %d", i);
    cr_assert_eq(p->time_us, q->time_us, "row %d: %.17g vs %.17g", i, p->time_us, q->time_us);
    cr_assert_eq(p->check_tolerance, q->check_tolerance, "row %d", i);
    cr_assert_eq(p->check_error, q->check_error, "row %d", i);
    cr_assert_eq(p->tuned_at, q->tuned_at, "row %d", i);
    cr_assert_str_eq(p->candidates_checksum, q->candidates_checksum, "row %d", i);
  }
  fpx__cache_close(a);
  fpx__cache_close(b);
}

Test(cache_io, export_filters_by_gpu) {
  fpx__cache *a = open_ok(":memory:", 0);
  fill_varied(a);
  char *json = NULL;
  cr_assert_eq(fpx__cache_export_json(a, "NVIDIA L40S", &json), FPX_OK, "%s", fpx_last_error());
  cr_assert_not(contains(json, "H100"), "%s", json);
  fpx__cache *b = open_ok(":memory:", 0);
  cr_assert_eq(fpx__cache_import_json(b, json, NULL, 0), FPX_OK, "%s", fpx_last_error());
  free(json);
  cr_assert_eq(count_of(b), 3);
  fpx__cache_close(a);
  fpx__cache_close(b);
}

/* One winner as JSON, with `field` given the raw JSON `value` (or left out
 * when value is NULL). */
static void entry_json(char *out, size_t size, int n, const char *field, const char *value) {
  static const char *names[] = {"gpu_name", "arch", "sm_count", "driver_version",
                                "nvrtc_version", "fpx_hash", "family", "weight_format",
                                "x_dtype", "y_dtype", "group_size", "n", "k", "m_bucket",
                                "warps_n", "warps_k", "m_tiles", "split_k", "time_us",
                                "check_tolerance", "check_error", "tuned_at",
                                "candidates_checksum"};
  char n_text[32];
  snprintf(n_text, sizeof n_text, "%d", n);
  const char *values[] = {"\"NVIDIA H100 80GB HBM3\"", "\"sm_90a\"", "132", "12040", "12040",
                          "\"0123456789abcdef\"", "\"weight_only\"", "\"e3m2\"", "\"f16\"",
                          "\"f16\"", "0", n_text, "4096", "1", "4", "1", "2", "1", "5.0",
                          "0.01", "0.001", "1700000000", "\"feedbeef\""};
  size_t used = (size_t)snprintf(out, size, "{");
  int first = 1;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const int match = field != NULL && strcmp(field, names[i]) == 0;
    if (match && value == NULL) continue;
    used += (size_t)snprintf(out + used, size - used, "%s\"%s\": %s", first ? "" : ", ",
                             names[i], match ? value : values[i]);
    first = 0;
  }
  snprintf(out + used, size - used, "}");
}

static char *document(const char *field, const char *value) {
  char e0[2048], e1[2048];
  entry_json(e0, sizeof e0, 111, NULL, NULL);
  entry_json(e1, sizeof e1, 222, field, value);
  char *doc = malloc(8192);
  snprintf(doc, 8192, "{\"fpx_tuning_db\": 1, \"winners\": [%s, %s]}", e0, e1);
  return doc;
}

Test(cache_io, the_test_document_itself_imports) {
  fpx__cache *c = open_ok(":memory:", 0);
  char *doc = document(NULL, NULL);
  char err[256] = "";
  cr_assert_eq(fpx__cache_import_json(c, doc, err, sizeof err), FPX_OK, "%s", err);
  cr_assert_eq(count_of(c), 2);
  free(doc);
  fpx__cache_close(c);
}

Test(cache_io, malformed_json_changes_nothing_and_names_the_entry) {
  /* the destination holds entry 0's key, slower: a valid import would change it */
  fpx__cache *c = open_ok(tmp_path("dst.db"), 0);
  fpx__cache_winner slow = sample(111, 1, 50.0);
  put_ok(c, &slow);
  static const struct { const char *field, *value, *expect; } cases[] = {
      {"n", "222,,", "syntax error"},
      {"n", NULL, "winners[1] field n: missing"},
      {"n", "\"222\"", "winners[1] field n: is not a number"},
      {"n", "222.5", "winners[1] field n"},
      {"n", "0", "winners[1] field n"},
      {"k", "-5", "winners[1] field k"},
      {"m_bucket", "3", "winners[1] field m_bucket"},
      {"m_bucket", "16384", "winners[1] field m_bucket"},
      {"warps_n", "5", "winners[1] field config"},
      {"split_k", "65", "winners[1] field config"},
      {"weight_format", "\"e9m9\"", "winners[1] field weight_format"},
      {"weight_format", "7", "winners[1] field weight_format: is not a string"},
      {"x_dtype", "\"f32\"", "winners[1] field x_dtype"},
      {"y_dtype", "\"int8\"", "winners[1] field y_dtype"},
      {"group_size", "48", "winners[1] field group_size"},
      {"family", "\"w8a8\"", "winners[1] field family"},
      {"time_us", "0", "winners[1] field time_us"},
      {"time_us", "-1.5", "winners[1] field time_us"},
      {"time_us", "\"fast\"", "winners[1] field time_us: is not a number"},
      {"gpu_name", "null", "winners[1] field gpu_name: is not a string"},
      {"candidates_checksum", NULL, "winners[1] field candidates_checksum: missing"},
      {"tuned_at", "true", "winners[1] field tuned_at"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *bad = document(cases[i].field, cases[i].value);
    char err[512] = "untouched";
    cr_assert_eq(fpx__cache_import_json(c, bad, err, sizeof err), FPX_ERR_INVALID_ARGUMENT,
                 "case %zu (%s) accepted", i, cases[i].field);
    cr_assert(contains(err, cases[i].expect), "case %zu: \"%s\" lacks \"%s\"", i, err,
              cases[i].expect);
    cr_assert_str_eq(err, fpx_last_error());
    free(bad);
    cr_assert_eq(count_of(c), 1, "case %zu changed the database", i);
    fpx__cache_winner got;
    int found = 0;
    cr_assert_eq(fpx__cache_get_winner(c, &slow.key, &got, &found), FPX_OK);
    cr_assert(found);
    cr_assert_eq(got.time_us, 50.0, "case %zu changed entry 0", i);
  }
  static const char *documents[] = {"", "[]", "{\"winners\": []}",
                                    "{\"fpx_tuning_db\": 2, \"winners\": []}",
                                    "{\"fpx_tuning_db\": 1, \"winners\": {}}",
                                    "{\"fpx_tuning_db\": 1, \"winners\": [1]}"};
  for (size_t i = 0; i < sizeof documents / sizeof documents[0]; i++)
    cr_assert_eq(fpx__cache_import_json(c, documents[i], NULL, 0), FPX_ERR_INVALID_ARGUMENT,
                 "document %zu accepted", i);
  cr_assert_eq(count_of(c), 1);
  fpx__cache_close(c);
}

Test(cache_io, import_keeps_the_faster_entry) {
  fpx__cache *c = open_ok(":memory:", 0);
  fpx__cache_winner slow = sample(111, 1, 50.0), fast = sample(222, 1, 1.0), got;
  put_ok(c, &slow);
  put_ok(c, &fast);
  char *doc = document(NULL, NULL); /* both at 5.0 us */
  cr_assert_eq(fpx__cache_import_json(c, doc, NULL, 0), FPX_OK, "%s", fpx_last_error());
  free(doc);
  int found = 0;
  cr_assert_eq(fpx__cache_get_winner(c, &slow.key, &got, &found), FPX_OK);
  cr_assert(found);
  cr_assert_eq(got.time_us, 5.0);
  cr_assert_eq(fpx__cache_get_winner(c, &fast.key, &got, &found), FPX_OK);
  cr_assert(found);
  cr_assert_eq(got.time_us, 1.0);
  fpx__cache_close(c);
}

Test(cache_io, merge_imports_another_file_keeping_the_faster) {
  const char *src_path = tmp_path("src.db");
  char saved[512];
  snprintf(saved, sizeof saved, "%s", src_path);
  fpx__cache *src = open_ok(saved, 0);
  fpx__cache_winner a = sample(111, 1, 5.0), b = sample(222, 8, 5.0), got;
  put_ok(src, &a);
  put_ok(src, &b);
  fpx__cache_close(src);
  fpx__cache *dst = open_ok(":memory:", 0);
  fpx__cache_winner a_fast = sample(111, 1, 2.0), other = sample(333, 1, 9.0);
  put_ok(dst, &a_fast);
  put_ok(dst, &other);
  cr_assert_eq(fpx__cache_merge(dst, saved), FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(count_of(dst), 3);
  int found = 0;
  cr_assert_eq(fpx__cache_get_winner(dst, &a.key, &got, &found), FPX_OK);
  cr_assert(found);
  cr_assert_eq(got.time_us, 2.0);
  cr_assert_eq(fpx__cache_get_winner(dst, &b.key, &got, &found), FPX_OK);
  cr_assert(found);
  cr_assert_eq(got.time_us, 5.0);
  /* a damaged source is an error and changes nothing */
  cr_assert(write_file(saved, "not a database, not at all, no, really not one", 47));
  cr_assert_eq(fpx__cache_merge(dst, saved), FPX_ERR_IO);
  cr_assert(contains(fpx_last_error(), saved), "%s", fpx_last_error());
  cr_assert_eq(count_of(dst), 3);
  fpx__cache_close(dst);
}

Test(cache_io, merge_reads_a_version_1_file) {
  const char *path = tmp_path("old.db");
  char saved[512];
  snprintf(saved, sizeof saved, "%s", path);
  cr_assert_eq(fpx__cache_create_v1_for_testing(saved), FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(fpx__cache_exec_file_for_testing(
                   saved,
                   "INSERT INTO winners VALUES ('NVIDIA H100 80GB HBM3', 'sm_90a', 132, 12040, "
                   "12040, '0123456789abcdef', 'weight_only', 'e3m2', 'f16', 'f16', 0, 128, "
                   "4096, 1, 2, 1, 4, 3, 7.25, 0.01, 0.001, 1600000000)"),
               FPX_OK, "%s", fpx_last_error());
  fpx__cache *dst = open_ok(":memory:", 0);
  cr_assert_eq(fpx__cache_merge(dst, saved), FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(count_of(dst), 1);
  fpx__cache_close(dst);
}
