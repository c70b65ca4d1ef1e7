/*
 * cli_latency.c - `fpx-tune latency`: the host-side costs of fpx_gemm.
 * (1) the first call of a never-seen kernel in a fresh process (generate,
 * compile, load, launch); (2) the first call in a new process whose kernel
 * binary is already in the database; (3) the host time of a warm call in a
 * tight loop. Each of (1) and (2) runs in its own child process.
 */
#include "cli_latency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_problem.h"
#include "context.h"
#include "error.h"
#include "sandbox.h"
#include "workload.h"

void cli_latency_usage(FILE *out) {
  fprintf(out,
          "usage: fpx-tune latency [--format F] [--act bf16|f16] [--shape N,K] [--m M]\n"
          "                        [--calls N] [--device D]\n"
          "\n"
          "Measures, for the first --format and --shape (default e3m2, 4096,4096, M = 1,\n"
          "the library's default configuration):\n"
          "  cold    first fpx_gemm of a never-seen kernel in a fresh process: generate,\n"
          "          NVRTC compile, load, launch, synchronize (a private new database)\n"
          "  cached  first fpx_gemm in another fresh process whose kernel binary is in\n"
          "          that database: load from SQLite, launch, synchronize\n"
          "  warm    host time per call of --calls back-to-back calls (default 200), no\n"
          "          synchronization in the loop\n"
          "  driver  the same for bare cuLaunchKernel of the same kernel (split-K 1):\n"
          "          the part of a warm call that is the driver's, not fpx's (mma.sync\n"
          "          configurations only; not measured where the default is a wgmma one)\n");
}

typedef struct latency_state {
  cli_problem p;
  int calls;
  char db_path[256];
  double wall_ms;
} latency_state;

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return 1e6 * (double)ts.tv_sec + 1e-3 * (double)ts.tv_nsec;
}

/* One child: context on the database, random problem, then job 0 = first
 * call (value: microseconds) and job 1 = warm loop (value: us per call). */
typedef struct child {
  latency_state *s;
  fpx_ctx *ctx;
  fpx_gemm_args args;
} child;

static child the_child;

static fpx_status child_setup(void *user) {
  latency_state *s = user;
  child *c = &the_child;
  fpx_status st = FPX_OK;
  const fpx__cu_table *cu;
  fpx__rng rng = {42};
  fpx_weights *w = NULL;
  size_t bytes = 0;
  CUdeviceptr x, y;
  uint16_t *table = malloc(65536 * sizeof *table), *chunk = malloc(FPX__FILL_CHUNK * sizeof *chunk);
  fpx_ctx_options opts = {sizeof opts, s->p.device, s->db_path, 0};
  const size_t n = s->p.shapes[0].n, k = s->p.shapes[0].k, m = s->p.ms[0];
  c->s = s;
  if (table == NULL || chunk == NULL) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "latency: no memory");
    goto fail;
  }
  FPX_TRY(fpx_ctx_create(&opts, &c->ctx));
  FPX_TRY(fpx__cu_get(&cu));
  FPX_TRY(fpx__random_weights(c->ctx, s->p.formats[0], s->p.group, n, k, &rng, NULL, &w, &bytes));
  fpx__value_table(s->p.act, table);
  FPX_CU(cu, cuMemAlloc(&x, m * k * 2));
  FPX_CU(cu, cuMemAlloc(&y, m * n * 2));
  FPX_TRY(fpx__fill_device16(cu, x, m * k, table, &rng, chunk));
  c->args = (fpx_gemm_args){sizeof c->args, w, s->p.act, s->p.act, m, x, y, NULL, 0, 0};
fail:
  free(table);
  free(chunk);
  return st;
}

/* count back-to-back bare launches of fn (split-K 1) on the default stream */
static int launch_bare(const fpx__cu_table *cu, CUfunction fn, const fpx__wo_launch *l, int count) {
  for (int i = 0; i < count; i++)
    if (cu->cuLaunchKernel(fn, l->grid_x, l->grid_y, 1, l->threads, 1, 1, 0, NULL, (void **)l->params,
                           NULL) != CUDA_SUCCESS)
      return 1;
  return 0;
}

static int child_job(void *user, size_t index, double *out_value, double *out_aux) {
  (void)user;
  child *c = &the_child;
  const fpx__cu_table *cu;
  if (fpx__cu_get(&cu) != FPX_OK) return 1;
  if (index == 0) { /* the first call, synchronized */
    double t0 = now_us();
    if (fpx_gemm(c->ctx, &c->args, NULL) != FPX_OK || cu->cuCtxSynchronize() != CUDA_SUCCESS) return 1;
    *out_value = now_us() - t0;
    fpx_ctx_stats stats;
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    fpx_ctx_get_stats(c->ctx, &stats);
    *out_aux = (double)stats.kernels_loaded; /* 1 when the binary came from the database */
    return 0;
  }
  const int calls = c->s->calls;
  if (index == 2) { /* the driver alone: cuLaunchKernel of the same kernel, split-K 1 */
    fpx_wo_config cfg;
    if (fpx_gemm_default_config(c->ctx, &c->args, &cfg) != FPX_OK) return 1;
    if (cfg.kernel != 0) { /* a wgmma launch needs its tensor maps: not measured */
      *out_value = -1.0;
      return 0;
    }
    cfg.split_k = 1;
    const fpx__wo_key key = {c->args.weights->format, c->args.x_dtype, c->args.y_dtype,
                             c->args.weights->group_size};
    if (fpx__ctx_prepare_gemm(c->ctx, &key, &cfg) != FPX_OK) return 1;
    CUfunction fn = fpx__ctx_kernel_find(c->ctx, fpx__wo_gemm_id(&key, &cfg));
    /* the kernel's grid and parameters as fpx_gemm passes them */
    fpx__wo_launch l;
    fpx__wo_launch_init(&l, &key, &cfg, &c->args);
    if (fn == NULL) return 1;
    if (launch_bare(cu, fn, &l, 10) != 0 || cu->cuCtxSynchronize() != CUDA_SUCCESS) return 1;
    double t0 = now_us();
    if (launch_bare(cu, fn, &l, calls) != 0) return 1;
    *out_value = (now_us() - t0) / calls;
    return cu->cuCtxSynchronize() == CUDA_SUCCESS ? 0 : 1;
  }
  /* warm: host time of back-to-back calls */
  for (int i = 0; i < 10; i++)
    if (fpx_gemm(c->ctx, &c->args, NULL) != FPX_OK) return 1;
  if (cu->cuCtxSynchronize() != CUDA_SUCCESS) return 1;
  double t0 = now_us();
  for (int i = 0; i < calls; i++)
    if (fpx_gemm(c->ctx, &c->args, NULL) != FPX_OK) return 1;
  *out_value = (now_us() - t0) / calls;
  return cu->cuCtxSynchronize() == CUDA_SUCCESS ? 0 : 1;
}

int cli_latency_run(int argc, char **argv) {
  static const size_t default_m[] = {1};
  static const int calls_range[] = {1, 100000};
  latency_state s;
  int rc = CLI_EXIT_OK;
  memset(&s, 0, sizeof s);
  s.p.cmd = "latency";
  s.p.act = FPX_DTYPE_BF16;
  s.calls = 200;
  for (int i = 1; i < argc && rc == CLI_EXIT_OK; i++) {
    const char *v;
    int missing = 0, handled = 0;
    if (cli_is_help(argv[i])) {
      cli_latency_usage(stdout);
      return CLI_EXIT_OK;
    }
    rc = cli_problem_option(argc, argv, &i, &s.p, &handled);
    if (handled || rc != CLI_EXIT_OK) continue;
    if ((v = cli_option_value(argc, argv, &i, "--calls", &missing)) != NULL && !missing)
      rc = cli_parse_choice("latency", "--calls", v, calls_range, 0, &s.calls);
    else if (missing) rc = cli_usage_error("latency: option %s needs a value", argv[i]);
    else rc = cli_usage_error("latency: unknown argument '%s' (try --help)", argv[i]);
  }
  if (rc != CLI_EXIT_OK) return rc;
  if (s.p.shape_count == 0) cli_problem_add_shape(&s.p, "custom", 4096, 4096);
  if ((rc = cli_problem_finish(&s.p, "llama3-8b", default_m, 1)) != CLI_EXIT_OK) return rc;

  char dir[] = "/tmp/fpx-latency-XXXXXX";
  if (mkdtemp(dir) == NULL) return cli_failure("latency: cannot create a temporary directory");
  snprintf(s.db_path, sizeof s.db_path, "%s/fpx.db", dir);
  fpx__sandbox_result cold[3], cached[2];
  fpx_status st = fpx__sandbox_run(child_setup, child_job, &s, 3, 300, cold);
  if (st == FPX_OK) st = fpx__sandbox_run(child_setup, child_job, &s, 1, 300, cached);
  unlink(s.db_path);
  char wal[300];
  snprintf(wal, sizeof wal, "%s-wal", s.db_path);
  unlink(wal);
  snprintf(wal, sizeof wal, "%s-shm", s.db_path);
  unlink(wal);
  rmdir(dir);
  if (st != FPX_OK) return cli_failure("latency: %s", fpx_last_error());
  if (cold[0].state != FPX__JOB_OK || cold[1].state != FPX__JOB_OK || cold[2].state != FPX__JOB_OK ||
      cached[0].state != FPX__JOB_OK)
    return cli_failure("latency: a measurement failed (%s, %s, %s)", fpx__sandbox_state_name(cold[0].state),
                       fpx__sandbox_state_name(cold[1].state), fpx__sandbox_state_name(cached[0].state));
  fpx_format_info info;
  fpx_format_get_info(s.p.formats[0], &info);
  printf("# fpx latency: %s, N=%zu K=%zu M=%zu, %s activations, default configuration\n", info.name,
         s.p.shapes[0].n, s.p.shapes[0].k, s.p.ms[0], fpx_dtype_name(s.p.act));
  printf("cold first call (generate + compile + load + run): %10.1f us\n", cold[0].value);
  printf("cached first call, new process (%s):    %10.1f us\n",
         cached[0].aux >= 1 ? "binary from db" : "RECOMPILED", cached[0].value);
  printf("warm call, host time per call (%d calls):       %10.2f us\n", s.calls, cold[1].value);
  if (cold[2].value < 0) {
    printf("the driver alone: not measured (the default configuration is a wgmma one)\n");
  } else {
    printf("the driver alone: cuLaunchKernel per call:       %10.2f us\n", cold[2].value);
    printf("fpx's own host overhead per warm call:           %10.2f us\n", cold[1].value - cold[2].value);
  }
  return CLI_EXIT_OK;
}
