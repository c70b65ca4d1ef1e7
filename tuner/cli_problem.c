/*
 * cli_problem.c - command-line options shared by the subcommands that run
 * problems on the GPU (bench, tune): formats, activation dtype (f16, bf16,
 * or FP8 codes with per-row scales), kernel family, scale group, shapes
 * (named llama3 presets or N,K), M lists and the device, plus small number
 * parsers.
 */
#include "cli_problem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* The shapes of BENCH.md, Y[M,N] = X[M,K] W[N,K]^T. */
static const struct {
  const char *model, *layer;
  size_t n, k;
} presets[] = {
    {"llama3-8b", "qkv", 6144, 4096},         {"llama3-8b", "o", 4096, 4096},
    {"llama3-8b", "gate_up", 28672, 4096},    {"llama3-8b", "down", 4096, 14336},
    {"llama3-70b", "qkv", 10240, 8192},       {"llama3-70b", "o", 8192, 8192},
    {"llama3-70b", "gate_up", 57344, 8192},   {"llama3-70b", "down", 8192, 28672},
    {"llama3-405b", "qkv", 18432, 16384},     {"llama3-405b", "o", 16384, 16384},
    {"llama3-405b", "gate_up", 106496, 16384}, {"llama3-405b", "down", 16384, 53248},
};
static const size_t preset_count = sizeof presets / sizeof presets[0];

/* Parses a whole decimal number in [lo, hi]. */
int cli_parse_size(const char *s, size_t lo, size_t hi, size_t *out) {
  char *end;
  if (s == NULL || *s < '0' || *s > '9') return 0;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return 0;
  *out = (size_t)v;
  return 1;
}

/* Parses an int that must be one of `allowed` (count entries) or in
 * [allowed[0], allowed[1]] when count is 0. */
int cli_parse_choice(const char *cmd, const char *opt, const char *s, const int *allowed,
                     size_t count, int *out) {
  size_t v;
  if (count == 0) {
    if (cli_parse_size(s, (size_t)allowed[0], (size_t)allowed[1], &v)) {
      *out = (int)v;
      return CLI_EXIT_OK;
    }
    return cli_usage_error("%s: %s '%s' is not a number in %d..%d", cmd, opt, s, allowed[0],
                           allowed[1]);
  }
  if (cli_parse_size(s, 0, 1u << 20, &v))
    for (size_t i = 0; i < count; i++)
      if ((int)v == allowed[i]) {
        *out = (int)v;
        return CLI_EXIT_OK;
      }
  char list[64] = "";
  for (size_t i = 0, used = 0; i < count && used < sizeof list; i++) {
    int n = snprintf(list + used, sizeof list - used, "%s%d", i ? ", " : "", allowed[i]);
    if (n < 0) break;
    used += (size_t)n;
  }
  return cli_usage_error("%s: %s '%s' is not one of %s", cmd, opt, s, list);
}

static int parse_formats(const char *list, cli_problem *o) {
  char buf[256];
  if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf)
    return cli_usage_error("%s: --format list is too long", o->cmd);
  for (char *rest = buf, *tok; (tok = strsep(&rest, ",")) != NULL;) {
    if (tok[0] == '\0') return cli_usage_error("%s: --format '%s' has an empty item", o->cmd, list);
    if (o->format_count == CLI_MAX_FORMATS)
      return cli_usage_error("%s: more than %d formats", o->cmd, CLI_MAX_FORMATS);
    if (cli_parse_format(tok, &o->formats[o->format_count]) != CLI_EXIT_OK) return CLI_EXIT_USAGE;
    o->format_count++;
  }
  return CLI_EXIT_OK;
}

static int parse_ms(const char *list, cli_problem *o) {
  char buf[512];
  if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf)
    return cli_usage_error("%s: --m list is too long", o->cmd);
  o->m_count = 0;
  for (char *rest = buf, *tok; (tok = strsep(&rest, ",")) != NULL;) {
    if (tok[0] == '\0') return cli_usage_error("%s: --m '%s' has an empty item", o->cmd, list);
    if (o->m_count == CLI_MAX_MS) return cli_usage_error("%s: more than %d values in --m", o->cmd, CLI_MAX_MS);
    if (!cli_parse_size(tok, 1, (size_t)1 << 20, &o->ms[o->m_count]))
      return cli_usage_error("%s: --m value '%s' is not a number in 1..1048576", o->cmd, tok);
    o->m_count++;
  }
  return CLI_EXIT_OK;
}

int cli_problem_add_shape(cli_problem *o, const char *name, size_t n, size_t k) {
  if (o->shape_count == CLI_MAX_SHAPES) return cli_usage_error("%s: more than %d shapes", o->cmd, CLI_MAX_SHAPES);
  cli_shape *s = &o->shapes[o->shape_count++];
  snprintf(s->name, sizeof s->name, "%s", name);
  s->n = n;
  s->k = k;
  return CLI_EXIT_OK;
}

int cli_problem_add_model(const char *name, cli_problem *o) {
  int found = 0;
  for (size_t i = 0; i < preset_count; i++) {
    if (strcmp(presets[i].model, name) != 0) continue;
    char full[40];
    snprintf(full, sizeof full, "%s.%s", presets[i].model + strlen("llama3-"), presets[i].layer);
    if (cli_problem_add_shape(o, full, presets[i].n, presets[i].k) != CLI_EXIT_OK) return CLI_EXIT_USAGE;
    found = 1;
  }
  if (!found)
    return cli_usage_error("%s: unknown --model '%s' (llama3-8b, llama3-70b, llama3-405b)", o->cmd, name);
  return CLI_EXIT_OK;
}

static int parse_shape(const char *text, cli_problem *o) {
  char buf[64];
  size_t n, k;
  if (snprintf(buf, sizeof buf, "%s", text) >= (int)sizeof buf)
    return cli_usage_error("%s: --shape '%s' is too long", o->cmd, text);
  char *sep = strpbrk(buf, ",x");
  if (sep != NULL) *sep = '\0';
  if (sep == NULL || !cli_parse_size(buf, 1, (size_t)1 << 30, &n) ||
      !cli_parse_size(sep + 1, 8, (size_t)1 << 30, &k))
    return cli_usage_error("%s: --shape '%s' is not N,K (N in 1..2^30, K in 8..2^30)", o->cmd, text);
  if (k % 8 != 0) return cli_usage_error("%s: --shape '%s': K must be a multiple of 8", o->cmd, text);
  return cli_problem_add_shape(o, "custom", n, k);
}

int cli_act_is_fp8(fpx_dtype act) { return act == FPX_DTYPE_E4M3 || act == FPX_DTYPE_E5M2; }

fpx_dtype cli_problem_out_dtype(const cli_problem *o) {
  return cli_act_is_fp8(o->act) ? FPX_DTYPE_BF16 : o->act;
}

static int parse_act(const char *v, cli_problem *o) {
  fpx_dtype d;
  const int known = fpx_dtype_parse(v, &d) == FPX_OK;
  if (known && cli_act_is_fp8(d) && !o->fp8_ok)
    return cli_usage_error("%s: --act '%s': this command does not run FP8 activations (bf16 or f16)",
                           o->cmd, v);
  if (!known || (d != FPX_DTYPE_BF16 && d != FPX_DTYPE_F16 && !cli_act_is_fp8(d)))
    return cli_usage_error(o->fp8_ok ? "%s: --act '%s' is not bf16, f16, e4m3 or e5m2"
                                     : "%s: --act '%s' is not bf16 or f16",
                           o->cmd, v);
  o->act = d;
  o->act_given = 1;
  return CLI_EXIT_OK;
}

static int parse_family(const char *v, cli_problem *o) {
  if (strcmp(v, "weight-only") == 0 || strcmp(v, "weight_only") == 0) {
    o->family = CLI_FAMILY_WEIGHT_ONLY;
  } else if (strcmp(v, "w8a8") == 0) {
    if (!o->fp8_ok)
      return cli_usage_error("%s: --family w8a8: this command does not run FP8 activations", o->cmd);
    o->family = CLI_FAMILY_W8A8;
  } else {
    return cli_usage_error("%s: --family '%s' is not weight-only or w8a8", o->cmd, v);
  }
  return CLI_EXIT_OK;
}

/* The value of option argv[*i] ("--opt VALUE" or "--opt=VALUE"), or NULL if
 * argv[*i] is not `opt`. Sets *missing when the value is absent. */
const char *cli_option_value(int argc, char **argv, int *i, const char *opt, int *missing) {
  const size_t len = strlen(opt);
  const char *arg = argv[*i];
  if (strncmp(arg, opt, len) != 0) return NULL;
  if (arg[len] == '=') return arg + len + 1;
  if (arg[len] != '\0') return NULL;
  if (*i + 1 >= argc) {
    *missing = 1;
    return opt;
  }
  return argv[++*i];
}


int cli_problem_option(int argc, char **argv, int *i, cli_problem *o, int *handled) {
  static const int groups[] = {0, 32, 64, 128, 256}, device_range[] = {0, 1023};
  const char *v;
  int missing = 0;
  *handled = 1;
#define OPT(name) ((v = cli_option_value(argc, argv, i, name, &missing)) != NULL && !missing)
  if (OPT("--format")) return parse_formats(v, o);
  if (OPT("--act")) return parse_act(v, o);
  if (OPT("--family")) return parse_family(v, o);
  if (OPT("--group")) return cli_parse_choice(o->cmd, "--group", v, groups, 5, &o->group);
  if (OPT("--model")) return cli_problem_add_model(v, o);
  if (OPT("--shape")) return parse_shape(v, o);
  if (OPT("--m")) return parse_ms(v, o);
  if (OPT("--device")) return cli_parse_choice(o->cmd, "--device", v, device_range, 0, &o->device);
#undef OPT
  if (missing) return cli_usage_error("%s: option %s needs a value", o->cmd, argv[*i]);
  *handled = 0;
  return CLI_EXIT_OK;
}

/* Applies --family: its defaults, and its conflicts with --format / --act. */
static int apply_family(cli_problem *o) {
  const char *act = fpx_dtype_name(o->act);
  if (o->family == CLI_FAMILY_WEIGHT_ONLY && cli_act_is_fp8(o->act))
    return cli_usage_error("%s: --family weight-only takes --act bf16 or f16, not %s (for FP8 "
                           "activations use --family w8a8, or --act %s without --family)",
                           o->cmd, act, act);
  if (o->family != CLI_FAMILY_W8A8) return CLI_EXIT_OK;
  if (o->act_given && o->act != FPX_DTYPE_E4M3)
    return cli_usage_error("%s: --family w8a8 means --format e4m3 --act e4m3; --act %s contradicts it",
                           o->cmd, act);
  for (size_t f = 0; f < o->format_count; f++)
    if (o->formats[f].exp_bits != 4 || o->formats[f].man_bits != 3) {
      fpx_format_info info;
      if (fpx_format_get_info(o->formats[f], &info) != FPX_OK) snprintf(info.name, sizeof info.name, "?");
      return cli_usage_error("%s: --family w8a8 means --format e4m3 --act e4m3; --format %s contradicts "
                             "it (other weight formats with FP8 activations: --act e4m3 without "
                             "--family)",
                             o->cmd, info.name);
    }
  o->act = FPX_DTYPE_E4M3;
  if (o->format_count == 0) o->formats[o->format_count++] = (fpx_format){4, 3};
  return CLI_EXIT_OK;
}

int cli_problem_finish(cli_problem *o, const char *default_model, const size_t *default_ms,
                       size_t default_m_count) {
  if (apply_family(o) != CLI_EXIT_OK) return CLI_EXIT_USAGE;
  if (o->format_count == 0) o->formats[o->format_count++] = (fpx_format){3, 2};
  if (o->shape_count == 0 && cli_problem_add_model(default_model, o) != CLI_EXIT_OK) return CLI_EXIT_USAGE;
  if (o->m_count == 0) {
    o->m_count = default_m_count;
    memcpy(o->ms, default_ms, default_m_count * sizeof *default_ms);
  }
  const int fp8 = cli_act_is_fp8(o->act);
  for (size_t f = 0; f < o->format_count; f++) {
    fpx_format_info info;
    if (fpx_format_get_info(o->formats[f], &info) != FPX_OK)
      return cli_usage_error("%s: %s", o->cmd, fpx_last_error());
    /* the library's rule: e5m0/e5m1 values exceed the f16 range */
    if (o->act == FPX_DTYPE_F16 && info.format.exp_bits == 5 && !info.has_inf)
      return cli_usage_error("%s: format %s needs --act bf16", o->cmd, info.name);
    /* the library's rule: the weight codes must convert exactly to FP8 */
    if (fp8 && !fpx__wo_fp8_convertible(info.format))
      return cli_usage_error("%s: format %s cannot run with FP8 activations (--act %s): weight codes "
                             "convert exactly to E4M3 only when E <= 4 and M <= 3, and e5m2 runs as "
                             "E5M2; use --act bf16 or f16 for it",
                             o->cmd, info.name, fpx_dtype_name(o->act));
  }
  if (fp8)
    for (size_t i = 0; i < o->shape_count; i++)
      if (o->shapes[i].k % 16 != 0)
        return cli_usage_error("%s: shape %s (N=%zu, K=%zu): FP8 activations (--act %s) need K a "
                               "multiple of 16",
                               o->cmd, o->shapes[i].name, o->shapes[i].n, o->shapes[i].k,
                               fpx_dtype_name(o->act));
  return CLI_EXIT_OK;
}
