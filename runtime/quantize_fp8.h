/*
 * quantize_fp8.h - the internal entry of the GPU FP8 quantizer
 * (quantize_fp8.c), for the library's own callers and the GPU tests: the
 * public fpx_quantize_activations_gpu with the choice of FP8 encoder made
 * explicit.
 */
#ifndef FPX_RUNTIME_QUANTIZE_FP8_H
#define FPX_RUNTIME_QUANTIZE_FP8_H

#include "context.h"

/* How codes are encoded: the FP8 conversion instruction where the GPU has
 * one (sm_89 and later), or integer code on every GPU. Both give the same
 * bytes; the second exists for sm_80/86 and is forced by tests on newer
 * GPUs. */
typedef enum fpx__q8_encoder {
  FPX__Q8_ENCODER_AUTO = 0,
  FPX__Q8_ENCODER_SOFTWARE = 1,
} fpx__q8_encoder;

/* fpx_quantize_activations_gpu (see fpx.h) with an explicit encoder; `who`
 * prefixes error messages. Does not clear the thread's error or copy it into
 * the context. */
fpx_status fpx__quantize_fp8_gpu(fpx_ctx *ctx, const char *who, const fpx_act_quant_params *params,
                                 fpx_dtype x_dtype, fpx_devptr x, size_t m, size_t k,
                                 fpx_devptr out_codes, fpx_devptr out_scales,
                                 fpx_devptr out_nonfinite, CUstream stream,
                                 fpx__q8_encoder encoder);

#endif
