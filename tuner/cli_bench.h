/*
 * cli_bench.h - the `fpx-tune bench` subcommand: fpx_gemm timings (f16/bf16
 * or FP8 activations) against cuBLAS, and with FP8 activations against
 * cuBLASLt FP8, on the GPU, following the benchmark method (L2 flushed
 * before every timed call, CUDA events, median, copy bandwidth of the same
 * run).
 */
#ifndef FPX_TUNER_CLI_BENCH_H
#define FPX_TUNER_CLI_BENCH_H

#include <stdio.h>

/* Runs `fpx-tune bench`; argv[0] is "bench". Returns 0 on success, 1 when
 * the GPU or a library call fails (no driver included), 2 on bad arguments. */
int fpx__cli_bench(int argc, char **argv);
/* Prints the subcommand's usage. */
void fpx__cli_bench_usage(FILE *out);

#endif
