/*
 * test_sandbox.c - the tuner's process sandbox (tuner/sandbox.c): jobs run
 * in child processes in index order; a job that crashes, aborts, exits or
 * hangs costs only itself; a job that fails politely keeps its process;
 * setup failures stop the run cleanly; nothing is left behind. Each job
 * reports its process id in aux so that the tests can tell the children
 * apart.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "sandbox.h"

#define COUNT 5
#define SHORT_TIMEOUT_S 0.5
#define LONG_TIMEOUT_S 20.0

/* What a job at index `bad` does; every other job succeeds with value =
 * 10 * index and aux = its process id. */
typedef enum { DO_OK, DO_SEGV, DO_ABORT, DO_EXIT, DO_HANG, DO_FAIL } misdeed;

typedef struct plan {
  size_t bad;
  misdeed what;
} plan;

static int ran_here; /* set by a job: must stay 0 in the calling process */
static pid_t setup_pid;

static int job(void *user, size_t index, double *out_value, double *out_aux) {
  const plan *p = user;
  ran_here = 1;
  *out_value = 10.0 * (double)index;
  *out_aux = (double)getpid();
  if (p == NULL || index != p->bad) return 0;
  switch (p->what) {
  case DO_SEGV: raise(SIGSEGV); break;
  case DO_ABORT: abort();
  case DO_EXIT: _exit(3);
  case DO_HANG:
    for (;;) pause();
  case DO_FAIL: return 7;
  case DO_OK: break;
  }
  return 0;
}

/* A job that reports whether the setup ran in its own process. */
static int job_checks_setup(void *user, size_t index, double *out_value, double *out_aux) {
  (void)user;
  *out_value = setup_pid == getpid();
  *out_aux = (double)getpid();
  return index == 1 ? (raise(SIGSEGV), 0) : 0;
}

static fpx_status setup_ok(void *user) {
  (void)user;
  setup_pid = getpid();
  return FPX_OK;
}

static fpx_status setup_fails(void *user) {
  (void)user;
  return fpx__error(FPX_ERR_NO_DEVICE, "no driver on this test machine");
}

static fpx_status setup_crashes(void *user) {
  (void)user;
  raise(SIGSEGV);
  return FPX_OK;
}

static fpx_status setup_hangs(void *user) {
  (void)user;
  for (;;) pause();
  return FPX_OK;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int open_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  cr_assert_not_null(d);
  while (readdir(d) != NULL) n++;
  closedir(d);
  return n;
}

/* Asserts that job i succeeded with the value job() gives it. */
static void assert_ok(const fpx__sandbox_result *r, size_t i) {
  cr_assert_eq(r[i].state, FPX__JOB_OK, "job %zu: %s", i, fpx__sandbox_state_name(r[i].state));
  cr_assert_eq(r[i].code, 0);
  cr_assert_eq(r[i].value, 10.0 * (double)i);
}

static void run_plan(misdeed what, double timeout_s, fpx__sandbox_result *r) {
  plan p = {1, what};
  cr_assert_eq(fpx__sandbox_run(NULL, job, &p, COUNT, timeout_s, r), FPX_OK, "%s",
               fpx_last_error());
}

Test(sandbox, all_jobs_succeed_in_order_in_one_child) {
  fpx__sandbox_result r[COUNT];
  plan p = {COUNT, DO_OK};
  cr_assert_eq(fpx__sandbox_run(setup_ok, job, &p, COUNT, LONG_TIMEOUT_S, r), FPX_OK);
  for (size_t i = 0; i < COUNT; i++) {
    assert_ok(r, i);
    cr_assert_eq(r[i].aux, r[0].aux);
  }
  cr_assert_neq(r[0].aux, (double)getpid());
}

Test(sandbox, jobs_run_outside_the_calling_process) {
  fpx__sandbox_result r[2];
  cr_assert_eq(fpx__sandbox_run(NULL, job, NULL, 2, LONG_TIMEOUT_S, r), FPX_OK);
  cr_assert_eq(ran_here, 0);
}

Test(sandbox, segfaulting_job_is_crashed_and_later_jobs_run) {
  fpx__sandbox_result r[COUNT];
  run_plan(DO_SEGV, LONG_TIMEOUT_S, r);
  assert_ok(r, 0);
  cr_assert_eq(r[1].state, FPX__JOB_CRASHED);
  cr_assert_eq(r[1].signal, SIGSEGV);
  for (size_t i = 2; i < COUNT; i++) assert_ok(r, i);
  cr_assert_neq(r[2].aux, r[0].aux, "a new child takes over after the crash");
  cr_assert_eq(r[4].aux, r[2].aux);
}

Test(sandbox, aborting_job_is_crashed_and_later_jobs_run) {
  fpx__sandbox_result r[COUNT];
  run_plan(DO_ABORT, LONG_TIMEOUT_S, r);
  assert_ok(r, 0);
  cr_assert_eq(r[1].state, FPX__JOB_CRASHED);
  cr_assert_eq(r[1].signal, SIGABRT);
  for (size_t i = 2; i < COUNT; i++) assert_ok(r, i);
}

Test(sandbox, exiting_job_is_crashed_with_its_exit_status) {
  fpx__sandbox_result r[COUNT];
  run_plan(DO_EXIT, LONG_TIMEOUT_S, r);
  cr_assert_eq(r[1].state, FPX__JOB_CRASHED);
  cr_assert_eq(r[1].signal, 0);
  cr_assert_eq(r[1].code, 3);
  for (size_t i = 2; i < COUNT; i++) assert_ok(r, i);
}

Test(sandbox, hanging_job_times_out_and_later_jobs_run) {
  fpx__sandbox_result r[COUNT];
  const double start = now_s();
  run_plan(DO_HANG, SHORT_TIMEOUT_S, r);
  const double took = now_s() - start;
  assert_ok(r, 0);
  cr_assert_eq(r[1].state, FPX__JOB_TIMEOUT);
  cr_assert_eq(r[1].signal, SIGKILL);
  for (size_t i = 2; i < COUNT; i++) assert_ok(r, i);
  cr_assert_geq(took, SHORT_TIMEOUT_S);
  cr_assert_lt(took, 5.0, "took %g s", took);
}

Test(sandbox, failing_job_is_failed_and_its_child_goes_on) {
  fpx__sandbox_result r[COUNT];
  run_plan(DO_FAIL, LONG_TIMEOUT_S, r);
  assert_ok(r, 0);
  cr_assert_eq(r[1].state, FPX__JOB_FAILED);
  cr_assert_eq(r[1].code, 7);
  cr_assert_eq(r[1].value, 10.0, "a failed job still reports its value");
  for (size_t i = 2; i < COUNT; i++) assert_ok(r, i);
  for (size_t i = 1; i < COUNT; i++) cr_assert_eq(r[i].aux, r[0].aux, "job %zu", i);
}

Test(sandbox, new_child_runs_setup_again_after_a_crash) {
  fpx__sandbox_result r[3];
  cr_assert_eq(fpx__sandbox_run(setup_ok, job_checks_setup, NULL, 3, LONG_TIMEOUT_S, r), FPX_OK);
  cr_assert_eq(r[0].value, 1.0);
  cr_assert_eq(r[1].state, FPX__JOB_CRASHED);
  cr_assert_eq(r[2].state, FPX__JOB_OK);
  cr_assert_eq(r[2].value, 1.0);
  cr_assert_neq(r[2].aux, r[0].aux);
}

Test(sandbox, failing_setup_marks_every_job_failed) {
  fpx__sandbox_result r[COUNT];
  cr_assert_eq(fpx__sandbox_run(setup_fails, job, NULL, COUNT, LONG_TIMEOUT_S, r),
               FPX_ERR_NO_DEVICE);
  cr_assert(strstr(fpx_last_error(), "no driver on this test machine") != NULL, "%s",
            fpx_last_error());
  for (size_t i = 0; i < COUNT; i++) {
    cr_assert_eq(r[i].state, FPX__JOB_FAILED);
    cr_assert_eq(r[i].code, FPX_ERR_NO_DEVICE);
  }
}

Test(sandbox, crashing_setup_marks_every_job_failed) {
  fpx__sandbox_result r[COUNT];
  cr_assert_eq(fpx__sandbox_run(setup_crashes, job, NULL, COUNT, LONG_TIMEOUT_S, r),
               FPX_ERR_INTERNAL);
  cr_assert(strstr(fpx_last_error(), "signal 11") != NULL, "%s", fpx_last_error());
  for (size_t i = 0; i < COUNT; i++) cr_assert_eq(r[i].state, FPX__JOB_FAILED);
}

Test(sandbox, hanging_setup_times_out_and_marks_every_job_failed) {
  fpx__sandbox_result r[COUNT];
  cr_assert_eq(fpx__sandbox_run(setup_hangs, job, NULL, COUNT, SHORT_TIMEOUT_S, r),
               FPX_ERR_INTERNAL);
  cr_assert(strstr(fpx_last_error(), "time limit") != NULL, "%s", fpx_last_error());
  for (size_t i = 0; i < COUNT; i++) cr_assert_eq(r[i].state, FPX__JOB_FAILED);
}

Test(sandbox, zero_jobs_is_a_successful_run) {
  cr_assert_eq(fpx__sandbox_run(setup_fails, job, NULL, 0, LONG_TIMEOUT_S, NULL), FPX_OK);
  errno = 0;
  cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "no child was started");
}

Test(sandbox, rejects_a_null_job) {
  fpx__sandbox_result r[1];
  cr_assert_eq(fpx__sandbox_run(NULL, NULL, NULL, 1, 1.0, r), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "job is NULL") != NULL, "%s", fpx_last_error());
  cr_assert_eq(r[0].state, FPX__JOB_NOT_RUN);
}

Test(sandbox, rejects_null_results) {
  cr_assert_eq(fpx__sandbox_run(NULL, job, NULL, 1, 1.0, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "results is NULL") != NULL, "%s", fpx_last_error());
}

Test(sandbox, rejects_a_nan_timeout) {
  fpx__sandbox_result r[1];
  cr_assert_eq(fpx__sandbox_run(NULL, job, NULL, 1, NAN, r), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "NaN") != NULL, "%s", fpx_last_error());
}

Test(sandbox, leaves_no_children_and_no_descriptors) {
  fpx__sandbox_result r[COUNT];
  const int fds_before = open_fds();
  run_plan(DO_SEGV, LONG_TIMEOUT_S, r);
  run_plan(DO_HANG, SHORT_TIMEOUT_S, r);
  cr_assert_eq(fpx__sandbox_run(setup_fails, job, NULL, COUNT, LONG_TIMEOUT_S, r),
               FPX_ERR_NO_DEVICE);
  cr_assert_eq(open_fds(), fds_before);
  errno = 0;
  cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1);
  cr_assert_eq(errno, ECHILD);
}

Test(sandbox, state_names) {
  cr_assert_str_eq(fpx__sandbox_state_name(FPX__JOB_OK), "ok");
  cr_assert_str_eq(fpx__sandbox_state_name(FPX__JOB_TIMEOUT), "timeout");
  cr_assert_str_eq(fpx__sandbox_state_name(99), "?");
}
