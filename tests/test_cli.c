/*
 * test_cli.c - the fpx-tune command's output formats and exit codes, run as
 * a child process ($FPX_TUNE, default build/fpx-tune).
 */
#include "cli_support.h"

/* Runs "$FPX_TUNE args" through the shell, capturing stdout and stderr. */
static cli_result *run(const char *args) {
  static cli_result r;
  cli_run_tool(NULL, args, &r);
  return &r;
}

Test(cli, help_prints_usage_on_stdout_and_exits_0) {
  cli_result *r = run("--help");
  cr_assert_eq(r->exit_code, 0);
  cr_assert(contains(r->out, "usage:") && contains(r->out, "formats") &&
            contains(r->out, "encode"), "%s", r->out);
  cr_assert_eq(run("-h")->exit_code, 0);
}

Test(cli, every_subcommand_has_help) {
  static const char *const commands[] = {"formats", "format", "encode"};
  for (size_t i = 0; i < 3; i++) {
    char args[64];
    snprintf(args, sizeof args, "%s --help", commands[i]);
    cli_result *r = run(args);
    cr_assert_eq(r->exit_code, 0, "%s", args);
    cr_assert(contains(r->out, "usage:") && contains(r->out, commands[i]), "%s", r->out);
    snprintf(args, sizeof args, "%s -h", commands[i]);
    cr_assert_eq(run(args)->exit_code, 0, "%s", args);
  }
}

Test(cli, no_arguments_is_a_usage_error) {
  cli_result *r = run("");
  cr_assert_eq(r->exit_code, 2);
  cr_assert(contains(r->err, "usage:"));
}

Test(cli, unknown_subcommand_exits_2_naming_it) {
  cli_result *r = run("frobnicate");
  cr_assert_eq(r->exit_code, 2);
  cr_assert(contains(r->err, "frobnicate"), "%s", r->err);
  cr_assert_str_eq(r->out, "");
}

Test(cli, unknown_options_exit_2_naming_them) {
  cli_result *r = run("--bogus");
  cr_assert_eq(r->exit_code, 2);
  cr_assert(contains(r->err, "--bogus"), "%s", r->err);
  r = run("format e3m2 --wide");
  cr_assert_eq(r->exit_code, 2);
  cr_assert(contains(r->err, "--wide"), "%s", r->err);
  r = run("encode e3m2 --wide 1");
  cr_assert_eq(r->exit_code, 2);
  cr_assert(contains(r->err, "--wide"), "%s", r->err);
  r = run("formats extra");
  cr_assert_eq(r->exit_code, 2);
  cr_assert(contains(r->err, "extra"), "%s", r->err);
}

Test(cli, formats_lists_every_format_and_the_aliases) {
  cli_result *r = run("formats");
  cr_assert_eq(r->exit_code, 0);
  for (size_t i = 0; i < fpx_format_count(); i++) {
    fpx_format_info info = info_of(fpx_format_at(i));
    char start[16];
    snprintf(start, sizeof start, "\n%s ", info.name);
    cr_assert(contains(r->out, start), "%s missing", info.name);
  }
  cr_assert(contains(r->out, "448") && contains(r->out, "57344"));
  cr_assert(contains(r->out, "fp4=e2m1") && contains(r->out, "fp5=e2m2") &&
            contains(r->out, "fp6=e3m2") && contains(r->out, "fp8=e4m3"), "%s", r->out);
}

Test(cli, format_prints_properties_as_key_value_lines) {
  cli_result *r = run("format fp8");
  cr_assert_eq(r->exit_code, 0);
  cr_assert(has_line(r->out, "name: e4m3"), "%s", r->out);
  cr_assert(has_line(r->out, "bits: 8"));
  cr_assert(has_line(r->out, "bias: 7"));
  cr_assert(has_line(r->out, "max_finite: 448"));
  cr_assert(has_line(r->out, "min_normal: 0.015625"));
  cr_assert(has_line(r->out, "min_subnormal: 0.001953125"));
  cr_assert(has_line(r->out, "has_inf: no"));
  cr_assert(has_line(r->out, "has_nan: yes"));
}

Test(cli, e2m1_table_has_16_lines_with_6_at_0x07) {
  cli_result *r = run("format e2m1 --table");
  cr_assert_eq(r->exit_code, 0);
  cr_assert_eq(count_lines(r->out), 16);
  cr_assert(has_line(r->out, "0x00\t0"));
  cr_assert(has_line(r->out, "0x01\t0.5"));
  cr_assert(has_line(r->out, "0x07\t6"), "%s", r->out);
  cr_assert(has_line(r->out, "0x08\t-0"));
  cr_assert(has_line(r->out, "0x0f\t-6"));
}

Test(cli, table_lines_match_the_library_for_every_format) {
  for (size_t i = 0; i < fpx_format_count(); i++) {
    fpx_format f = fpx_format_at(i);
    fpx_format_info info = info_of(f);
    char args[64], line[64];
    snprintf(args, sizeof args, "format %s --table", info.name);
    cli_result *r = run(args);
    cr_assert_eq(r->exit_code, 0);
    cr_assert_eq(count_lines(r->out), info.num_codes, "%s", info.name);
    for (unsigned c = 0; c < (unsigned)info.num_codes; c++) {
      double v = ref_decode(f.exp_bits, f.man_bits, c);
      if (isnan(v)) snprintf(line, sizeof line, "0x%02x\tnan", c);
      else if (isinf(v)) snprintf(line, sizeof line, "0x%02x\t%s", c, v < 0 ? "-inf" : "inf");
      else snprintf(line, sizeof line, "0x%02x\t%.9g", c, v);
      cr_assert(has_line(r->out, line), "%s: no line '%s'", info.name, line);
    }
  }
}

Test(cli, e4m3_table_spells_nan) {
  cli_result *r = run("format e4m3 --table");
  cr_assert_eq(r->exit_code, 0);
  cr_assert(has_line(r->out, "0x7f\tnan"));
  cr_assert(has_line(r->out, "0xff\tnan"), "negative NaN must print as nan");
  cr_assert(has_line(r->out, "0x7e\t448"));
  cr_assert(!contains(r->out, "-nan"));
}

Test(cli, e5m2_table_spells_infinities) {
  cli_result *r = run("format e5m2 --table");
  cr_assert_eq(r->exit_code, 0);
  cr_assert(has_line(r->out, "0x7c\tinf"));
  cr_assert(has_line(r->out, "0xfc\t-inf"));
  cr_assert(has_line(r->out, "0x7b\t57344"));
  cr_assert(has_line(r->out, "0xfd\tnan"));
  cr_assert(!contains(r->out, "-nan"));
}

Test(cli, format_without_a_name_exits_2) {
  cli_result *r = run("format");
  cr_assert_eq(r->exit_code, 2);
  cr_assert(contains(r->err, "missing"), "%s", r->err);
  cr_assert_eq(run("format --table")->exit_code, 2);
}

Test(cli, bad_format_names_exit_2_naming_them) {
  static const char *const names[] = {"e0m3", "e6m2", "e4m4", "fp9", "fp7_e3m2", "''"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char args[64];
    snprintf(args, sizeof args, "format %s", names[i]);
    cli_result *r = run(args);
    cr_assert_eq(r->exit_code, 2, "%s", args);
    cr_assert_str_eq(r->out, "");
    if (names[i][0] != '\'') cr_assert(contains(r->err, names[i]), "%s", r->err);
    snprintf(args, sizeof args, "encode %s -- 1", names[i]);
    cr_assert_eq(run(args)->exit_code, 2, "%s", args);
  }
}

Test(cli, encode_prints_one_code_per_value) {
  cli_result *r = run("encode e2m1 -- 5 -5 6 100 0.5 -0");
  cr_assert_eq(r->exit_code, 0, "%s", r->err);
  cr_assert_str_eq(r->out, "0x06\n0x0e\n0x07\n0x07\n0x01\n0x08\n");
}

Test(cli, encode_rounds_ties_to_even_like_the_library) {
  cli_result *r = run("encode e3m2 -- 0.03125 0.09375 0.15625 inf -inf");
  cr_assert_eq(r->exit_code, 0);
  cr_assert_str_eq(r->out, "0x00\n0x02\n0x02\n0x1f\n0x3f\n");
}

Test(cli, encode_keeps_inf_for_e5m2_and_nan_for_e4m3) {
  cli_result *r = run("encode e5m2 -- inf -inf 1e9");
  cr_assert_eq(r->exit_code, 0);
  cr_assert_str_eq(r->out, "0x7c\n0xfc\n0x7b\n");
  r = run("encode fp8 -- nan inf");
  cr_assert_eq(r->exit_code, 0);
  cr_assert_str_eq(r->out, "0x7f\n0x7e\n");
}

Test(cli, encode_without_dashes_takes_plain_values) {
  cli_result *r = run("encode e2m1 1.5 3");
  cr_assert_eq(r->exit_code, 0);
  cr_assert_str_eq(r->out, "0x03\n0x05\n");
}

Test(cli, encode_nan_into_a_format_without_nan_exits_2_and_prints_nothing) {
  cli_result *r = run("encode e2m1 -- 1 nan");
  cr_assert_eq(r->exit_code, 2);
  cr_assert_str_eq(r->out, "");
  cr_assert(contains(r->err, "NaN") && contains(r->err, "e2m1"), "%s", r->err);
}

Test(cli, encode_bad_number_exits_2_naming_it) {
  cli_result *r = run("encode e2m1 -- 1 1.5x");
  cr_assert_eq(r->exit_code, 2);
  cr_assert_str_eq(r->out, "");
  cr_assert(contains(r->err, "1.5x"), "%s", r->err);
  cr_assert_eq(run("encode e2m1 -- ''")->exit_code, 2);
}

Test(cli, encode_without_values_or_format_exits_2) {
  cr_assert_eq(run("encode e2m1")->exit_code, 2);
  cr_assert_eq(run("encode e2m1 --")->exit_code, 2);
  cr_assert_eq(run("encode")->exit_code, 2);
  cr_assert_eq(run("encode -- 1")->exit_code, 2);
}

Test(cli, version_prints_the_library_version) {
  cli_result *r = run("--version");
  cr_assert_eq(r->exit_code, 0);
  cr_assert(contains(r->out, FPX_VERSION_STRING), "%s", r->out);
}

/* ---- bench and tune: FP8 activation options (checked before any GPU use) -- */

/* Runs "$FPX_TUNE args" with no CUDA driver: accepted arguments then end
 * in exit 1 with "cannot use the GPU", rejected ones in exit 2. */
static cli_result *run_no_gpu(const char *args) {
  static cli_result r;
  cli_run_tool("FPX_CUDA_DRIVER=/nonexistent/libcuda.so.1", args, &r);
  return &r;
}

static void assert_accepted(const char *args) {
  cli_result *r = run_no_gpu(args);
  cr_assert_eq(r->exit_code, 1, "%s: exit %d: %s", args, r->exit_code, r->err);
  cr_assert(contains(r->err, "cannot use the GPU"), "%s: %s", args, r->err);
}

static void assert_rejected(const char *args, const char *word1, const char *word2) {
  cli_result *r = run_no_gpu(args);
  cr_assert_eq(r->exit_code, 2, "%s: exit %d: %s", args, r->exit_code, r->err);
  cr_assert_str_eq(r->out, "", "%s", args);
  cr_assert(contains(r->err, word1) && contains(r->err, word2), "%s: %s", args, r->err);
}

Test(cli, bench_and_tune_help_describe_fp8_activations) {
  cli_result *r = run("bench --help");
  cr_assert_eq(r->exit_code, 0);
  cr_assert(contains(r->out, "--family") && contains(r->out, "w8a8") && contains(r->out, "e4m3") &&
                contains(r->out, "e5m2") && contains(r->out, "cuBLASLt") && contains(r->out, "fp8_speedup"),
            "%s", r->out);
  r = run("tune --help");
  cr_assert_eq(r->exit_code, 0);
  cr_assert(contains(r->out, "--family") && contains(r->out, "w8a8") && contains(r->out, "e5m2"), "%s",
            r->out);
}

Test(cli, fp8_activations_take_the_formats_that_convert_exactly) {
  for (size_t i = 0; i < fpx_format_count(); i++) {
    const fpx_format_info info = info_of(fpx_format_at(i));
    const int e = info.format.exp_bits, m = info.format.man_bits;
    const int ok = (e <= 4 && m <= 3) || (e == 5 && m == 2); /* e5m0, e5m1: top binade on Inf/NaN */
    static const char *const acts[] = {"e4m3", "e5m2"};
    for (size_t a = 0; a < 2; a++) {
      char args[128];
      snprintf(args, sizeof args, "bench --act %s --format %s --shape 4096,4096 --m 1", acts[a], info.name);
      if (ok) assert_accepted(args);
      else assert_rejected(args, info.name, "FP8 activations");
    }
  }
}

Test(cli, tune_checks_fp8_formats_like_bench) {
  assert_rejected("tune --act e4m3 --format e3m4 --shape 4096,4096 --m 1", "e3m4", "FP8 activations");
  assert_rejected("tune --act e5m2 --format e2m4,e2m1 --shape 4096,4096 --m 1", "e2m4", "FP8 activations");
  assert_accepted("tune --act e5m2 --format e5m2,e2m1 --shape 4096,4096 --m 1 --db ''");
  assert_rejected("tune --act e4m3 --format e5m1 --shape 4096,4096 --m 1", "e5m1", "FP8 activations");
}

Test(cli, family_w8a8_means_e4m3_weights_and_activations) {
  assert_accepted("bench --family w8a8 --shape 4096,4096 --m 1");
  assert_accepted("bench --family w8a8 --format e4m3 --act e4m3 --shape 4096,4096 --m 1");
  assert_accepted("bench --family w8a8 --format fp8 --shape 4096,4096 --m 1 --fp8-fast-accum");
  assert_accepted("tune --family w8a8 --shape 4096,4096 --m 1 --db ''");
  assert_accepted("bench --family weight-only --act f16 --shape 4096,4096 --m 1");
}

Test(cli, family_conflicts_exit_2_naming_them) {
  assert_rejected("bench --family w8a8 --format e2m1", "w8a8", "e2m1");
  assert_rejected("bench --family w8a8 --format e4m3,e3m2", "w8a8", "e3m2");
  assert_rejected("bench --family w8a8 --act bf16", "w8a8", "bf16");
  assert_rejected("tune --family w8a8 --act e5m2", "w8a8", "e5m2");
  assert_rejected("bench --family weight-only --act e4m3", "weight-only", "e4m3");
  assert_rejected("bench --family w4a16", "--family", "w4a16");
  assert_rejected("bench --family", "--family", "needs a value");
}

Test(cli, fp8_activations_need_k_a_multiple_of_16) {
  assert_rejected("bench --act e4m3 --format e2m1 --shape 4096,4104", "4104", "multiple of 16");
  assert_rejected("tune --family w8a8 --shape 4096,24", "K=24", "multiple of 16");
  assert_accepted("bench --act bf16 --format e2m1 --shape 4096,4104 --m 1");
}

Test(cli, act_names_the_accepted_types) {
  assert_rejected("bench --act f32", "f32", "e4m3");
  assert_rejected("tune --act int8", "int8", "e5m2");
  assert_rejected("tune --out e4m3", "--out", "e4m3");
  /* commands without an FP8 path refuse FP8 activations by name */
  assert_rejected("latency --act e4m3", "e4m3", "FP8");
  assert_rejected("latency --family w8a8", "w8a8", "FP8");
}

/* ---- bench --wgmma (checked before any GPU use) ---------------------------- */

Test(cli, bench_help_describes_wgmma) {
  cli_result *r = run("bench --help");
  cr_assert_eq(r->exit_code, 0);
  cr_assert(contains(r->out, "--wgmma LIST") && contains(r->out, "TOKENS/STAGES") &&
                contains(r->out, "sm_90") && contains(r->out, "MISMATCH") && contains(r->out, "kernel"),
            "%s", r->out);
}

Test(cli, bench_wgmma_takes_tokens_stages_lists) {
  assert_accepted("bench --wgmma 128/4,256/4 --shape 4096,4096 --m 1");
  assert_accepted("bench --wgmma=64/2 --shape 4096,4096 --m 1");
  assert_accepted("bench --wgmma 64/8,128/8,256/6 --format e2m1,e4m3 --act e4m3 --shape 4096,4096 --m 1");
  assert_accepted("bench --family w8a8 --wgmma 128/4 --shape 4096,4096 --m 1");
  /* allowed for some key: tokens 256 with group scales is skipped at run time */
  assert_accepted("bench --group 128 --wgmma 256/4,128/4 --shape 4096,4096 --m 1");
}

Test(cli, bench_wgmma_bad_items_exit_2_naming_them) {
  static const struct {
    const char *list, *named;
  } bad[] = {
      {"128", "'128'"},         {"128/", "'128/'"},         {"/4", "'/4'"},
      {"128/4/2/1", "'128/4/2/1'"}, {"128/4/0", "'128/4/0'"}, {"128/4/65", "'128/4/65'"},
      {"128/4/", "'128/4/'"},   {"abc/4", "'abc/4'"},       {"128/x", "'128/x'"},
      {"128/-4", "'128/-4'"},   {"+128/4", "'+128/4'"},     {"128/4,256", "'256'"},
      {"96/4", "'96/4'"},       {"128/9", "'128/9'"},       {"128/1", "'128/1'"},
      {"256/8", "'256/8'"},     {"128/4,128/4", "twice"},   {"128/4,,256/4", "empty item"},
      {"128/4,", "empty item"}, {"' 128/4'", "' 128/4'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char args[128];
    snprintf(args, sizeof args, "bench --wgmma %s --shape 4096,4096 --m 1", bad[i].list);
    assert_rejected(args, "--wgmma", bad[i].named);
  }
  /* the rule broken is named too */
  assert_rejected("bench --wgmma 96/4", "'96/4'", "64, 128 or 256");
  assert_rejected("bench --wgmma 128/9", "'128/9'", "2..8");
  assert_rejected("bench --wgmma 256/8", "'256/8'", "shared memory");
  assert_rejected("bench --wgmma 64/4/65", "'64/4/65'", "split_k 65");
  assert_rejected("bench --wgmma 64/4/2,64/4/2", "'64/4/2'", "twice");
  assert_rejected("bench --wgmma 64/2,64/3,64/4,64/5,64/6,64/7,64/8,128/2,128/3", "--wgmma", "more than 8");
  assert_rejected("bench --wgmma", "--wgmma", "needs a value");
  assert_rejected("bench --wgmma=", "--wgmma", "TOKENS/STAGES");
  assert_rejected("tune --wgmma 128/4", "--wgmma", "unknown option");
}
