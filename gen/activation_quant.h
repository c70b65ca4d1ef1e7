/*
 * activation_quant.h - the parameter rules of FP8 activation quantization,
 * shared by the CPU reference (activation_quant.c) and the GPU entry point
 * (runtime/quantize_fp8.c) so that both accept and reject the same inputs
 * with the same messages.
 */
#ifndef FPX_GEN_ACTIVATION_QUANT_H
#define FPX_GEN_ACTIVATION_QUANT_H

#include "format.h"
#include "fpx.h"

/* Checks params (NULL = per row, e4m3, no bound) and fills *out with a copy
 * whose format is resolved ({0, 0} -> e4m3) and *out_traits with the
 * format's traits. Errors name the bad field, prefixed by `who`:
 * FPX_ERR_INVALID_ARGUMENT (struct_size, mode, scale_ub, static_scale) or
 * FPX_ERR_UNSUPPORTED_FORMAT (a format other than e4m3 / e5m2). */
fpx_status fpx__act_params_resolve(const fpx_act_quant_params *params, const char *who,
                                   fpx_act_quant_params *out, const fpx__format_traits **out_traits);

#endif
