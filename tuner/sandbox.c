/*
 * sandbox.c - fork-based job runner for the tuner (see sandbox.h).
 *
 * Protocol: the child writes fixed-size binary records to a pipe, one
 * write() each (a record is smaller than PIPE_BUF, so writes are atomic):
 * SETUP_OK or SETUP_FAILED once, then START i before and DONE i after each
 * job. The parent reads them with poll() and a deadline that restarts at
 * every record, so the limit applies to setup and to each job separately.
 * When the pipe reaches end-of-file, times out or carries a record that does
 * not fit the protocol, the child is killed if need be and reaped, and its
 * wait status decides the job's state. Every child makes progress (a job
 * result) or stops the run (a setup failure), so the loop ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "error.h"
#include "sandbox.h"

enum { REC_SETUP_OK = 1, REC_SETUP_FAILED = 2, REC_START = 3, REC_DONE = 4 };

/* One message from child to parent. */
typedef struct sandbox_record {
  int32_t kind;   /* REC_* */
  int32_t code;   /* SETUP_FAILED: the fpx_status; DONE: the job's return value */
  uint64_t index; /* START, DONE: the job */
  double value, aux;
  char detail[224]; /* SETUP_FAILED: the child's fpx_last_error() */
} sandbox_record;

_Static_assert(sizeof(sandbox_record) <= PIPE_BUF, "a record must be written atomically");

/* Exit status of a child that lost its pipe (the parent is gone). */
enum { CHILD_EXIT_NO_PARENT = 111 };
/* Seconds a child may take to exit once it has closed its pipe. */
#define EXIT_GRACE_S 2.0

/* What the parent knows of one child. */
typedef struct sandbox_child {
  pid_t pid;
  int fd;
  size_t filled; /* bytes of `rec` read so far */
  sandbox_record rec;
} sandbox_child;

/* ---- the child ------------------------------------------------------------ */

static void child_send(int fd, const sandbox_record *r) {
  const char *p = (const char *)r;
  size_t left = sizeof *r;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(CHILD_EXIT_NO_PARENT);
    p += n;
    left -= (size_t)n;
  }
}

/* Default actions for the fatal signals (the caller, a test runner or a
 * sanitizer may have installed handlers), no core files, and death with the
 * parent. */
static void child_prepare(pid_t parent) {
  static const int fatal[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL,
                              SIGTRAP, SIGSYS, SIGPIPE, SIGTERM};
  struct sigaction sa;
  sigset_t set;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  sigemptyset(&set);
  for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
    (void)sigaction(fatal[i], &sa, NULL);
    sigaddset(&set, fatal[i]);
  }
  (void)sigprocmask(SIG_UNBLOCK, &set, NULL);
  struct rlimit core;
  if (getrlimit(RLIMIT_CORE, &core) == 0) {
    core.rlim_cur = 0;
    (void)setrlimit(RLIMIT_CORE, &core);
  }
#ifdef __linux__
  (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(CHILD_EXIT_NO_PARENT);
#else
  (void)parent;
#endif
}

static void child_main(int fd, pid_t parent, fpx__sandbox_setup setup, fpx__sandbox_job job,
                       void *user, size_t first, size_t count) {
  sandbox_record r;
  child_prepare(parent);
  memset(&r, 0, sizeof r);
  r.kind = REC_SETUP_OK;
  if (setup != NULL) {
    fpx_status st = setup(user);
    if (st != FPX_OK) {
      r.kind = REC_SETUP_FAILED;
      r.code = (int32_t)st;
      snprintf(r.detail, sizeof r.detail, "%s", fpx_last_error());
    }
  }
  child_send(fd, &r);
  if (r.kind == REC_SETUP_OK)
    for (size_t i = first; i < count; i++) {
      double value = 0, aux = 0;
      memset(&r, 0, sizeof r);
      r.kind = REC_START;
      r.index = i;
      child_send(fd, &r);
      r.code = job(user, i, &value, &aux);
      r.kind = REC_DONE;
      r.value = value;
      r.aux = aux;
      child_send(fd, &r);
    }
  fflush(NULL);
  _exit(0);
}

/* ---- the parent ----------------------------------------------------------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Forks a child that runs setup and then jobs first..count-1. */
static fpx_status spawn(fpx__sandbox_setup setup, fpx__sandbox_job job, void *user, size_t first,
                        size_t count, sandbox_child *c) {
  int fds[2];
  if (pipe(fds) != 0)
    return fpx__error(FPX_ERR_INTERNAL, "sandbox: pipe() failed: %s", strerror(errno));
  (void)fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  (void)fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  /* buffered output would otherwise be written again by a child that flushes */
  fflush(NULL);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(fds[0]);
    close(fds[1]);
    return fpx__error(FPX_ERR_INTERNAL, "sandbox: fork() failed: %s", strerror(err));
  }
  if (pid == 0) {
    close(fds[0]);
    child_main(fds[1], parent, setup, job, user, first, count);
  }
  close(fds[1]);
  c->pid = pid;
  c->fd = fds[0];
  c->filled = 0;
  return FPX_OK;
}

/* Waits for a whole record. Returns 1 with c->rec filled, 0 at end-of-file
 * (a partial record is dropped), -1 when the deadline passed (0 = none),
 * -2 when poll() or read() failed. */
static int read_record(sandbox_child *c, double deadline) {
  while (c->filled < sizeof c->rec) {
    int wait_ms = -1;
    if (deadline > 0) {
      const double left = deadline - now_s();
      if (left <= 0) return -1;
      wait_ms = left > INT_MAX / 1000 ? INT_MAX : (int)ceil(left * 1000.0);
    }
    struct pollfd p = {c->fd, POLLIN, 0};
    const int ready = poll(&p, 1, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return -2;
    if (ready == 0) continue; /* the deadline check above decides */
    const ssize_t n = read(c->fd, (char *)&c->rec + c->filled, sizeof c->rec - c->filled);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return -2;
    if (n == 0) return 0;
    c->filled += (size_t)n;
  }
  c->filled = 0;
  return 1;
}

/* Reaps the child, first killing it when `kill_first`, else giving it
 * EXIT_GRACE_S to exit. Returns its wait status, or -1 when it cannot be
 * known (e.g. SIGCHLD is ignored and the kernel reaped it). Closes the
 * pipe. */
static int reap(sandbox_child *c, int kill_first) {
  int status = -1;
  const double give_up = now_s() + EXIT_GRACE_S;
  if (kill_first) (void)kill(c->pid, SIGKILL);
  for (;;) {
    const pid_t r = waitpid(c->pid, &status, kill_first ? 0 : WNOHANG);
    if (r == c->pid) break;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      status = -1;
      break;
    }
    if (now_s() > give_up) {
      kill_first = 1;
      (void)kill(c->pid, SIGKILL);
      continue;
    }
    const struct timespec pause = {0, 1000000};
    nanosleep(&pause, NULL);
  }
  close(c->fd);
  c->fd = -1;
  c->pid = -1;
  return status;
}

/* "exited with status 3", "killed by signal 11 (Segmentation fault)". */
static void describe_end(int status, char *buf, size_t size) {
  if (status == -1) snprintf(buf, size, "ended (status unknown)");
  else if (WIFSIGNALED(status))
    snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  else if (WIFEXITED(status)) snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
  else snprintf(buf, size, "ended with wait status %d", status);
}

/* Marks a job whose child ended while it ran. */
static void mark_lost(fpx__sandbox_result *r, int timed_out, int status) {
  memset(r, 0, sizeof *r);
  if (timed_out) {
    r->state = FPX__JOB_TIMEOUT;
    r->signal = SIGKILL;
    return;
  }
  r->state = FPX__JOB_CRASHED;
  if (status != -1 && WIFSIGNALED(status)) r->signal = WTERMSIG(status);
  else if (status != -1 && WIFEXITED(status)) r->code = WEXITSTATUS(status);
}

/* Follows one child until it ends, filling results and advancing *next.
 * Returns FPX_OK when the child ended after its jobs or during one; the
 * setup's failure otherwise. */
static fpx_status follow(sandbox_child *c, double timeout_s, size_t count, size_t *next,
                         fpx__sandbox_result *results) {
  enum { IN_SETUP, IDLE, IN_JOB } phase = IN_SETUP;
  const sandbox_record *rec = &c->rec;
  for (;;) {
    const int got = read_record(c, timeout_s > 0 ? now_s() + timeout_s : 0);
    if (got == 1 && phase == IN_SETUP && rec->kind == REC_SETUP_OK) {
      phase = IDLE;
      continue;
    }
    if (got == 1 && phase == IN_SETUP && rec->kind == REC_SETUP_FAILED) {
      fpx_status st = (fpx_status)rec->code;
      char detail[sizeof rec->detail];
      memcpy(detail, rec->detail, sizeof detail);
      detail[sizeof detail - 1] = '\0';
      (void)reap(c, 0);
      if (st == FPX_OK || strcmp(fpx_status_name(st), "FPX_UNKNOWN_STATUS") == 0)
        st = FPX_ERR_INTERNAL;
      return fpx__error(st, "sandbox: setup failed in the child process (%s): %s",
                        fpx_status_name(st), detail[0] ? detail : fpx_strerror(st));
    }
    if (got == 1 && phase == IDLE && rec->kind == REC_START && rec->index == *next &&
        *next < count) {
      phase = IN_JOB;
      continue;
    }
    if (got == 1 && phase == IN_JOB && rec->kind == REC_DONE && rec->index == *next) {
      fpx__sandbox_result *r = &results[*next];
      memset(r, 0, sizeof *r);
      r->state = rec->code == 0 ? FPX__JOB_OK : FPX__JOB_FAILED;
      r->code = rec->code;
      r->value = rec->value;
      r->aux = rec->aux;
      ++*next;
      phase = IDLE;
      continue;
    }
    /* the child ended (end-of-file), timed out, or broke the protocol */
    const int timed_out = got == -1;
    const int status = reap(c, got != 0);
    char how[128];
    describe_end(status, how, sizeof how);
    if (phase == IN_SETUP)
      return fpx__error(FPX_ERR_INTERNAL, "sandbox: the child process %s during setup",
                        timed_out ? "ran past the time limit" : how);
    if (phase == IDLE && *next == count) return FPX_OK; /* all jobs have results */
    /* during a job, or (never expected) between two jobs: either way the
     * next job is charged, so every child makes progress */
    mark_lost(&results[*next], timed_out, status);
    ++*next;
    return FPX_OK;
  }
}

fpx_status fpx__sandbox_run(fpx__sandbox_setup setup, fpx__sandbox_job job, void *user,
                            size_t count, double per_job_timeout_s,
                            fpx__sandbox_result *results) {
  fpx_status st = FPX_OK;
  sandbox_child child = {-1, -1, 0, {0}};
  size_t next = 0;
  if (results != NULL) memset(results, 0, count * sizeof *results);
  FPX_CHECK_PTR(job);
  if (count > 0) FPX_CHECK_PTR(results);
  if (isnan(per_job_timeout_s)) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: per_job_timeout_s is NaN", __func__);
    goto fail;
  }
  while (next < count) {
    FPX_TRY(spawn(setup, job, user, next, count, &child));
    st = follow(&child, per_job_timeout_s, count, &next, results);
    if (st != FPX_OK) {
      for (size_t i = next; i < count; i++) {
        results[i].state = FPX__JOB_FAILED;
        results[i].code = (int)st;
      }
      goto fail;
    }
  }
fail:
  return st;
}

const char *fpx__sandbox_state_name(int state) {
  switch (state) {
  case FPX__JOB_NOT_RUN: return "not run";
  case FPX__JOB_OK: return "ok";
  case FPX__JOB_FAILED: return "failed";
  case FPX__JOB_CRASHED: return "crashed";
  case FPX__JOB_TIMEOUT: return "timeout";
  default: return "?";
  }
}
