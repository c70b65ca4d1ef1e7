/*
 * cli_bench_quant.h - the `fpx-tune bench-quant` subcommand: the GPU FP8
 * activation quantizer (fpx_quantize_activations_gpu) timed by the
 * benchmark method, against the copy bandwidth of the same run.
 */
#ifndef FPX_TUNER_CLI_BENCH_QUANT_H
#define FPX_TUNER_CLI_BENCH_QUANT_H

#include <stdio.h>

/* Runs `fpx-tune bench-quant`; argv[0] is "bench-quant". Returns 0 on
 * success, 1 when the GPU or a library call fails (no driver included, or a
 * result that differs from the CPU reference), 2 on bad arguments. */
int fpx__cli_bench_quant(int argc, char **argv);
/* Prints the subcommand's usage. */
void fpx__cli_bench_quant_usage(FILE *out);

#endif
