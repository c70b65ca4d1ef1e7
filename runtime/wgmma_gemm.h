/*
 * wgmma_gemm.h - the internal launcher of the Hopper wgmma GEMM family
 * (templates/wgmma_gemm.cuh), for the dispatch and the tuner.
 */
#ifndef FPX_RUNTIME_WGMMA_GEMM_H
#define FPX_RUNTIME_WGMMA_GEMM_H

#include "context.h"
#include "fpx.h"
#include "wgmma_config.h"

/* Launches Y = X * dequant(W)^T for args with the wgmma kernel of (key,
 * config) on stream, compiling and loading it on first use. Checks
 * everything it relies on and names the bad value:
 *   - the device: sm_90 only (wgmma and setmaxnreg exist on sm_90a alone),
 *     else FPX_ERR_UNSUPPORTED_DEVICE;
 *   - key and config (fpx__wgmma_key_check, fpx__wgmma_config_check), and
 *     that the key matches args (format, dtypes, group size of the weights);
 *   - args: weights of this context, m >= 1, x and y non-null, x 4-byte
 *     aligned and K even (16-bit X) or a multiple of 4 (FP8 X): the kernel
 *     copies X in 4-byte words; y aligned to its element; FP8 X needs
 *     args->x_scales (4-byte aligned); at most 65535 * tokens rows.
 * Asynchronous. X is first written permuted into the stream's workspace
 * (fpx__ctx_workspace: M x K rounded up to 32 columns of X's type, at most
 * FPX__WGMMA_X_WORKSPACE_MAX; larger M runs in chunks of token tiles), which
 * may allocate it or grow it (not during graph capture). The caller makes
 * the context current (fpx__ctx_enter). */
fpx_status fpx__wgmma_gemm_launch(fpx_ctx *ctx, const fpx__wo_key *key,
                                  const fpx__wgmma_config *config, const fpx_gemm_args *args,
                                  CUstream stream);

#endif
