/*
 * cli_bench_wgmma.c - what `fpx-tune bench --wgmma LIST` adds to the bench:
 * parsing the list of TOKENS/STAGES configurations of the Hopper wgmma
 * family (templates/wgmma_gemm.cuh), the timed call through its internal
 * launcher fpx__wgmma_gemm_launch, and the comparison of its output with
 * fpx_gemm's on the same inputs that every timed configuration must pass
 * first. The family is not in fpx_gemm's dispatch yet; this is how it is
 * measured against the default kernels before it is.
 */
#include "cli_bench_wgmma.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_problem.h"
#include "dtype.h"
#include "error.h"
#include "wgmma_gemm.h"

/* One TOKENS/STAGES[/SPLIT_K] item; 1 when it is two or three whole
 * decimal numbers (split-K 1 when not given), or the third is "sk"
 * (stream-K). */
static int parse_item(const char *item, fpx__wgmma_config *out) {
  char buf[32];
  size_t tokens, stages, split = 1;
  if (snprintf(buf, sizeof buf, "%s", item) >= (int)sizeof buf) return 0;
  char *slash = strchr(buf, '/');
  if (slash == NULL) return 0;
  *slash = '\0';
  char *slash2 = strchr(slash + 1, '/');
  int stream = 0;
  if (slash2 != NULL) {
    *slash2 = '\0';
    stream = strcmp(slash2 + 1, "sk") == 0;
    if (!stream && !cli_parse_size(slash2 + 1, 0, 1u << 20, &split)) return 0;
  }
  if (!cli_parse_size(buf, 0, 1u << 20, &tokens) || !cli_parse_size(slash + 1, 0, 1u << 20, &stages))
    return 0;
  out->tokens = (int)tokens;
  out->stages = (int)stages;
  out->split_k = stream ? FPX_SPLIT_K_STREAM : (int)split;
  out->max_blocks = 0;
  out->raster = 0;
  out->y_direct = 0;
  return 1;
}

int cli_wgmma_parse(const char *cmd, const char *list, cli_wgmma_list *out) {
  char buf[256];
  out->count = 0;
  if (list[0] == '\0')
    return cli_usage_error("%s: --wgmma needs a list of TOKENS/STAGES[/SPLIT_K] items (e.g. 128/4,64/4/4)", cmd);
  if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf)
    return cli_usage_error("%s: --wgmma list is too long", cmd);
  for (char *rest = buf, *item; (item = strsep(&rest, ",")) != NULL;) {
    fpx__wgmma_config c;
    if (item[0] == '\0') return cli_usage_error("%s: --wgmma '%s' has an empty item", cmd, list);
    if (!parse_item(item, &c))
      return cli_usage_error("%s: --wgmma item '%s' is not TOKENS/STAGES[/SPLIT_K] (e.g. 128/4)", cmd, item);
    if (fpx__wgmma_config_check(NULL, &c) != FPX_OK)
      return cli_usage_error("%s: --wgmma item '%s': %s", cmd, item, fpx_last_error());
    for (size_t i = 0; i < out->count; i++)
      if (out->configs[i].tokens == c.tokens && out->configs[i].stages == c.stages &&
          out->configs[i].split_k == c.split_k)
        return cli_usage_error("%s: --wgmma item '%s' is listed twice", cmd, item);
    if (out->count == CLI_MAX_WGMMA)
      return cli_usage_error("%s: --wgmma has more than %d items", cmd, CLI_MAX_WGMMA);
    out->configs[out->count++] = c;
  }
  return CLI_EXIT_OK;
}

void cli_wgmma_label(const fpx__wgmma_config *c, char *buf, size_t size) {
  const fpx_wo_config wo = {.kernel = 1, .split_k = c->split_k, .tokens = c->tokens, .stages = c->stages};
  fpx__wo_config_text(&wo, buf, size);
}

void cli_wgmma_valid(const cli_wgmma_list *list, const fpx__wo_key *key, const char *note_cmd,
                     int valid[CLI_MAX_WGMMA]) {
  for (size_t c = 0; c < list->count; c++) {
    const fpx__wgmma_config *cfg = &list->configs[c];
    valid[c] = fpx__wgmma_key_check(key) == FPX_OK && fpx__wgmma_config_check(key, cfg) == FPX_OK;
    if (valid[c] || note_cmd == NULL) continue;
    fpx_format_info info;
    char label[32], why[512];
    snprintf(why, sizeof why, "%s", fpx_last_error()); /* before the next library call */
    cli_wgmma_label(cfg, label, sizeof label);
    if (fpx_format_get_info(key->format, &info) != FPX_OK) snprintf(info.name, sizeof info.name, "?");
    fprintf(stderr, "%s: %s: note: skipping %s for format %s (act %s, group %d): %s\n", cli_program,
            note_cmd, label, info.name, fpx_dtype_name(key->x_dtype), key->group_size, why);
  }
}

fpx_status cli_wgmma_timed(void *arg, CUstream stream) {
  const cli_wgmma_call *c = arg;
  fpx_status st = fpx__ctx_enter(c->ctx);
  if (st != FPX_OK) return st;
  return fpx__wgmma_gemm_launch(c->ctx, &c->key, &c->config, &c->args, stream);
}

void cli_wgmma_compare(fpx_dtype dtype, const void *ref, const void *got, size_t count,
                       double tolerance, cli_wgmma_check *out) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < count; i++) {
    const double r = fpx__dtype_load(dtype, ref, i), g = fpx__dtype_load(dtype, got, i);
    const int r_ok = isfinite(r), g_ok = isfinite(g);
    out->ref_nonfinite += !r_ok;
    out->got_nonfinite += !g_ok;
    if (!r_ok || !g_ok) continue;
    if (fabs(r) > out->max_ref) out->max_ref = fabs(r);
    if (fabs(g - r) > out->max_diff) {
      out->max_diff = fabs(g - r);
      out->worst = i;
    }
  }
  out->rel_diff = out->max_ref > 0 ? out->max_diff / out->max_ref : out->max_diff;
  out->ok = out->ref_nonfinite == 0 && out->got_nonfinite == 0 && count > 0 &&
            out->max_diff <= tolerance * out->max_ref;
}

fpx_status cli_wgmma_measure(fpx__timer *timer, cli_wgmma_call *call, const void *ref, void *got,
                             int warmups, int reps, cli_wgmma_result *out) {
  fpx_status st = FPX_OK;
  const fpx__cu_table *cu = timer->cu;
  const fpx_gemm_args *a = &call->args;
  const size_t count = a->m * a->weights->n, bytes = count * fpx__dtype_size(a->y_dtype);
  memset(out, 0, sizeof *out);
  out->stage = "launch";
  FPX_CU(cu, cuMemsetD8Async(a->y, 0xFF, bytes, timer->stream)); /* NaN in f16, bf16 and f32 */
  out->status = cli_wgmma_timed(call, timer->stream);
  FPX_CU(cu, cuStreamSynchronize(timer->stream));
  if (out->status != FPX_OK) return FPX_OK;
  FPX_CU(cu, cuMemcpyDtoH(got, a->y, bytes));
  cli_wgmma_compare(a->y_dtype, ref, got, count, CLI_WGMMA_TOLERANCE, &out->check);
  out->compared = 1;
  out->stage = "timing";
  out->status = fpx__timer_median_us(timer, cli_wgmma_timed, call, warmups, reps, &out->us);
  if (out->status != FPX_OK) {
    out->us = 0;
    FPX_CU(cu, cuStreamSynchronize(timer->stream));
  }
fail:
  return st;
}
