/*
 * cli_compile.c - `fpx-tune compile`: fills the tuning database's binary
 * store for an architecture through NVRTC, without a GPU, with the same hash
 * and row the runtime looks up.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "cli.h"
#include "cli_db.h"
#include "cli_db_options.h"
#include "compile.h"
#include "config.h"
#include "context.h"
#include "dtype.h"
#include "embedded_templates.h"
#include "wgmma_config.h"

void fpx__cli_compile_usage(FILE *out) {
  fprintf(out,
          "usage: %s compile --arch ARCH [--db PATH] [--format LIST] [--act TYPE]\n"
          "                        [--group G] [--jobs N]\n"
          "                        [--shipped [--gpu NAME] [--shape N,K] [--m M]]\n"
          "\n"
          "Compiles weight-only GEMM kernels for ARCH with NVRTC (no GPU needed)\n"
          "into the database's binary store, where the library finds them instead\n"
          "of compiling on first use: the kernel of every tuned winner whose arch\n"
          "is ARCH (winners tuned with other kernel templates are skipped), and,\n"
          "for each --format, the kernels the default heuristic picks for M = 1 to\n"
          "%d (on sm_90a also the wgmma kernels fpx_gemm picks by itself); with\n"
          "--shipped also the kernels of the winners of ARCH in the tuning\n"
          "databases shipped inside the library (the ones fpx_gemm runs on those\n"
          "GPU models with any driver). A wgmma kernel comes with the pass that\n"
          "permutes X for it. Kernels already stored are not compiled again.\n"
          "Prints one line per kernel, then the numbers compiled and stored,\n"
          "already present, and failed; a failed compile gives exit status 1\n"
          "after the others finish.\n"
          "\n"
          "options:\n"
          "  --arch ARCH     target architecture: sm_80, sm_86, sm_89, sm_90a, ...\n"
          "                  (the GPU's compute capability; 9.x takes the 'a')\n"
          "%s"
          "  --format LIST   formats, comma-separated, to compile default kernels for\n"
          "                  (with --shipped: only shipped winners of these formats)\n"
          "  --act TYPE      their activations: bf16 (default) or f16 (also the\n"
          "                  output type), or e4m3 / e5m2 (FP8, bf16 output)\n"
          "  --group G       their scale group size: 0 (per row), 32, 64, 128, 256\n"
          "                  (default 0)\n"
          "  --jobs N        compile N kernels at once (default: one per CPU)\n"
          "  --shipped       also the shipped winners of ARCH, those that match:\n"
          "  --gpu NAME      the GPU model (as the database names it, e.g.\n"
          "                  \"NVIDIA H200\"; default any)\n"
          "  --shape N,K     one layer shape (default any)\n"
          "  --m M           the M bucket of M (default any)\n",
          cli_program, FPX__CACHE_M_BUCKET_MAX, cli_db_option_help);
}

typedef struct compile_job {
  const char *template_name; /* FPX__TEMPLATE_WEIGHT_ONLY or FPX__TEMPLATE_WGMMA */
  char name[FPX__NAME_EXPR_MAX];
  char hash[17];
  fpx__cubin cubin;
  fpx_status status;
  char error[1024];
  double seconds;
  int done;
} compile_job;

typedef struct compile_queue {
  compile_job *jobs;
  size_t count, next;
  const char *arch;
  pthread_mutex_t lock;
  pthread_cond_t done;
} compile_queue;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Takes jobs in order until none is left; NVRTC is thread-safe, and the
 * error detail is per thread. */
static void *compile_worker(void *arg) {
  compile_queue *q = arg;
  for (;;) {
    pthread_mutex_lock(&q->lock);
    const size_t i = q->next < q->count ? q->next++ : q->count;
    pthread_mutex_unlock(&q->lock);
    if (i == q->count) return NULL;
    compile_job *job = &q->jobs[i];
    const double start = now_seconds();
    fpx__cubin cubin;
    const fpx_status st = fpx__compile(job->template_name, job->name, q->arch, &cubin);
    pthread_mutex_lock(&q->lock);
    job->cubin = cubin;
    job->status = st;
    if (st != FPX_OK) snprintf(job->error, sizeof job->error, "%s", fpx_last_error());
    job->seconds = now_seconds() - start;
    job->done = 1;
    pthread_cond_broadcast(&q->done);
    pthread_mutex_unlock(&q->lock);
  }
}

typedef struct job_list {
  compile_job *items;
  size_t count, capacity;
} job_list;

/* Adds the kernel `name` of `template_name` unless a job with its hash
 * exists. Returns 0 when out of memory. */
static int add_named_job(job_list *l, const char *arch, const char *template_name,
                         const char name[FPX__NAME_EXPR_MAX]) {
  char hash[17];
  fpx__kernel_binary_hash(template_name, name, arch, hash);
  for (size_t i = 0; i < l->count; i++)
    if (strcmp(l->items[i].hash, hash) == 0) return 1;
  if (l->count == l->capacity) {
    const size_t capacity = l->capacity ? l->capacity * 2 : 32;
    compile_job *grown = realloc(l->items, capacity * sizeof *grown);
    if (grown == NULL) return 0;
    l->items = grown;
    l->capacity = capacity;
  }
  compile_job *job = &l->items[l->count++];
  memset(job, 0, sizeof *job);
  job->template_name = template_name;
  memcpy(job->name, name, FPX__NAME_EXPR_MAX);
  memcpy(job->hash, hash, sizeof hash);
  return 1;
}

/* Adds the GEMM kernel of (key, config) and, for a wgmma configuration, the
 * pass that permutes X for it. Returns 0 when out of memory. */
static int add_job(job_list *l, const char *arch, const fpx__wo_key *key,
                   const fpx_wo_config *config) {
  char name[FPX__NAME_EXPR_MAX];
  fpx__wo_gemm_name(key, config, name);
  if (config->kernel != 1) return add_named_job(l, arch, FPX__TEMPLATE_WEIGHT_ONLY, name);
  if (!add_named_job(l, arch, FPX__TEMPLATE_WGMMA, name)) return 0;
  fpx__wgmma_permute_name(key, name);
  return add_named_job(l, arch, FPX__TEMPLATE_WGMMA, name);
}

/* Adds the kernel of stored winner w (item i of `what`, for messages). */
static int add_winner_job(job_list *jobs, const char *arch, const fpx__cache_winner *w,
                          const char *what, size_t i) {
  const fpx__cache_key *k = &w->key;
  fpx__wo_key key = {.group_size = k->group_size};
  if (fpx_format_parse(k->weight_format, &key.format) != FPX_OK ||
      fpx_dtype_parse(k->x_dtype, &key.x_dtype) != FPX_OK ||
      fpx_dtype_parse(k->y_dtype, &key.y_dtype) != FPX_OK || fpx__wo_key_check(&key) != FPX_OK)
    return cli_failure("compile: %s[%zu]: %s", what, i, fpx_last_error());
  if (!add_job(jobs, arch, &key, &w->config)) return cli_failure("compile: out of memory");
  return CLI_EXIT_OK;
}

/* The jobs of the winners tuned for o->arch with the current templates;
 * *stale counts the others of that arch. */
static int winner_jobs(const db_opts *o, fpx__cache *cache, job_list *jobs, size_t *stale) {
  winner_list l;
  int rc = cli_db_load_winners(o, cache, &l);
  for (size_t i = 0; rc == CLI_EXIT_OK && i < l.count; i++) {
    const fpx__cache_key *k = &l.items[i].key;
    if (strcmp(k->arch, o->arch) != 0) continue;
    if (strcmp(k->fpx_hash, fpx__templates_hash()) != 0) {
      (*stale)++;
      continue;
    }
    rc = add_winner_job(jobs, o->arch, &l.items[i], "winners", i);
  }
  free(l.items);
  return rc;
}

/* The jobs of the winners of o->arch in the shipped databases that match
 * --gpu, --shape, --m and --format. fpx_gemm runs them on their GPU model
 * whatever the driver and template version, so none is stale here. */
static int shipped_jobs(const db_opts *o, job_list *jobs, size_t *winners) {
  fpx__cache *mem = NULL;
  winner_list l = {0};
  int rc = CLI_EXIT_OK;
  if (fpx__shipped_databases_open(&mem) != FPX_OK)
    rc = cli_failure("compile: %s", fpx_last_error());
  else if (mem != NULL)
    rc = cli_db_load_winners(o, mem, &l);
  for (size_t i = 0; rc == CLI_EXIT_OK && i < l.count; i++) {
    if (!cli_db_matches(o, &l.items[i])) continue;
    rc = add_winner_job(jobs, o->arch, &l.items[i], "shipped winners", i);
    if (rc == CLI_EXIT_OK) (*winners)++;
  }
  free(l.items);
  fpx__cache_close(mem);
  return rc;
}

/* The jobs of the default configurations of each --format for M = 1..8192
 * (n = k = 4096, 132 SMs; split_k is a launch parameter, so configurations
 * that differ only there share a kernel): the mma.sync heuristic's, and on
 * sm_90a also the wgmma family's automatic choice with its permute pass. */
static int default_jobs(const db_opts *o, job_list *jobs) {
  const int sm90 = strcmp(o->arch, "sm_90a") == 0;
  for (size_t f = 0; f < o->format_count; f++) {
    /* FP8 activations give bf16 output, as fpx-tune tune and bench do */
    const fpx_dtype y = fpx__dtype_is_fp8(o->act) ? FPX_DTYPE_BF16 : o->act;
    const fpx__wo_key key = {o->formats[f], o->act, y, o->group};
    if (fpx__wo_key_check(&key) != FPX_OK)
      return cli_usage_error("compile: %s", fpx_last_error());
    for (size_t m = 1; m <= FPX__CACHE_M_BUCKET_MAX; m *= 2) {
      fpx_wo_config config;
      fpx__wo_config_default(m, 4096, 4096, 132, &config);
      if (!add_job(jobs, o->arch, &key, &config)) return cli_failure("compile: out of memory");
      if (sm90 && fpx__wgmma_auto_config(90, 132, &key, m, 4096, 4096, &config) &&
          !add_job(jobs, o->arch, &key, &config))
        return cli_failure("compile: out of memory");
    }
  }
  return CLI_EXIT_OK;
}

/* Compiles `count` jobs on up to `threads` threads and stores each result
 * from this thread as it completes, in job order. Returns the failures. */
static size_t compile_and_store(const db_opts *o, fpx__cache *cache, compile_job *jobs,
                                size_t count, int threads, size_t *stored) {
  compile_queue q = {.jobs = jobs, .count = count, .arch = o->arch};
  pthread_t tid[256];
  int started = 0;
  size_t failed = 0;
  const int nvrtc = fpx__nvrtc_version();
  pthread_mutex_init(&q.lock, NULL);
  pthread_cond_init(&q.done, NULL);
  for (int t = 0; t < threads && (size_t)t < count; t++) {
    if (pthread_create(&tid[started], NULL, compile_worker, &q) != 0) break;
    started++;
  }
  if (started == 0) compile_worker(&q);
  for (size_t i = 0; i < count; i++) {
    compile_job *job = &q.jobs[i];
    pthread_mutex_lock(&q.lock);
    while (!job->done) pthread_cond_wait(&q.done, &q.lock);
    pthread_mutex_unlock(&q.lock);
    if (job->status != FPX_OK) {
      failed++;
      fprintf(stderr, "%s: compile: %s: %s\n", cli_program, job->name, job->error);
    } else if (fpx__cache_put_binary(cache, job->hash, o->arch, nvrtc, job->cubin.lowered_name,
                                     job->cubin.data, job->cubin.size) != FPX_OK) {
      failed++;
      fprintf(stderr, "%s: compile: storing %s: %s\n", cli_program, job->name, fpx_last_error());
    } else {
      (*stored)++;
      printf("compiled %s %s %.1f s %zu bytes\n", job->hash, job->name, job->seconds,
             job->cubin.size);
      fflush(stdout);
    }
    fpx__cubin_free(&job->cubin);
  }
  for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
  pthread_cond_destroy(&q.done);
  pthread_mutex_destroy(&q.lock);
  return failed;
}

int fpx__cli_compile(int argc, char **argv) {
  db_opts o;
  fpx__cache *cache = NULL;
  job_list jobs = {0};
  size_t stale = 0, present = 0, stored = 0, failed = 0, count = 0, shipped = 0;
  int rc = cli_db_parse_opts(argc, argv,
                             OPT_ARCH | OPT_FORMAT | OPT_ACT | OPT_GROUP | OPT_JOBS | OPT_SHIPPED |
                                 OPT_GPU | OPT_SHAPE | OPT_M,
                             &o);
  if (rc != CLI_EXIT_OK) return rc;
  if (o.arch == NULL) return cli_usage_error("compile: missing --arch ARCH (try compile --help)");
  if (!o.shipped && (o.gpu != NULL || o.has_shape || o.m_bucket != 0))
    return cli_usage_error("compile: --gpu, --shape and --m select shipped winners: they need --shipped");
  if ((rc = default_jobs(&o, &jobs)) != CLI_EXIT_OK) goto done;
  if (o.shipped && (rc = shipped_jobs(&o, &jobs, &shipped)) != CLI_EXIT_OK) goto done;
  if ((rc = cli_db_open(&o, 1, &cache)) != CLI_EXIT_OK) goto done;
  if ((rc = winner_jobs(&o, cache, &jobs, &stale)) != CLI_EXIT_OK) goto done;
  /* keep the jobs whose binary is not stored yet, in order */
  for (size_t i = 0; i < jobs.count; i++) {
    void *blob = NULL;
    size_t size = 0;
    char lowered[FPX__CACHE_LOWERED_NAME_MAX];
    int found = 0;
    if (fpx__cache_get_binary(cache, jobs.items[i].hash, &blob, &size, lowered, &found) !=
        FPX_OK) {
      rc = cli_failure("compile: %s", fpx_last_error());
      goto done;
    }
    free(blob);
    if (found) present++;
    else jobs.items[count++] = jobs.items[i];
  }
  if (stale > 0)
    fprintf(stderr, "%s: compile: skipped %zu winners of %s tuned with other kernel templates\n",
            cli_program, stale, o.arch);
  if (o.shipped)
    printf("shipped winners of %s that match: %zu\n", o.arch, shipped);
  if (present + count == 0)
    fprintf(stderr, "%s: compile: no tuned winners for %s and no --format: nothing to do\n",
            cli_program, o.arch);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int threads = o.jobs > 0 ? o.jobs : cpus < 1 ? 1 : cpus > 64 ? 64 : (int)cpus;
  failed = compile_and_store(&o, cache, jobs.items, count, threads, &stored);
  printf("arch: %s\ncompiled and stored: %zu\nalready present: %zu\nfailed: %zu\n", o.arch,
         stored, present, failed);
  if (failed > 0) rc = cli_failure("compile: %zu of %zu kernels failed", failed, count);
done:
  free(jobs.items);
  fpx__cache_close(cache);
  return rc;
}

