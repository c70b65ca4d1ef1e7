/*
 * sandbox.h - runs a numbered list of jobs (tuning candidates) in child
 * processes, so that a job which faults cannot take the sweep down with it.
 * A kernel that faults on the GPU poisons the CUDA context of its process
 * for good, and one that hangs never returns; either way only the child is
 * lost, its job is marked, and a fresh child carries on with the next job.
 *
 * The calling process must not have initialised CUDA (CUDA state does not
 * survive fork()): each child sets itself up (context, data) in `setup`.
 * Jobs run strictly in index order, one at a time; given deterministic jobs
 * the results are deterministic. POSIX only (fork, pipe, poll).
 */
#ifndef FPX_TUNER_SANDBOX_H
#define FPX_TUNER_SANDBOX_H

#include <stddef.h>

#include "fpx.h"

/* The state of one job after fpx__sandbox_run. */
enum {
  FPX__JOB_NOT_RUN = 0, /* never started (a setup failure stopped the run) */
  FPX__JOB_OK = 1,      /* the job returned 0 */
  FPX__JOB_FAILED = 2,  /* the job returned nonzero, or setup failed before it could run */
  FPX__JOB_CRASHED = 3, /* the child died (signal or exit) while running it */
  FPX__JOB_TIMEOUT = 4, /* it ran past the time limit; the child was killed */
};

typedef struct fpx__sandbox_result {
  int state;    /* FPX__JOB_* */
  int code;     /* OK, FAILED: the job's return value; CRASHED: the child's exit
                   status when it exited (0 when a signal ended it); FAILED by
                   setup: the setup's fpx_status; otherwise 0 */
  int signal;   /* CRASHED: the signal that ended the child (0 if it exited);
                   TIMEOUT: SIGKILL; otherwise 0 */
  double value; /* OK, FAILED: as the job left *out_value (e.g. microseconds) */
  double aux;   /* OK, FAILED: as the job left *out_aux (e.g. the largest error) */
} fpx__sandbox_result;

/* Runs once in each child before its first job (creates the fpx context,
 * uploads data...). Anything but FPX_OK means the child cannot work: the run
 * stops, and fpx__sandbox_run returns that status with the child's
 * fpx_last_error() text. */
typedef fpx_status (*fpx__sandbox_setup)(void *user);
/* Runs job `index` in the child: returns 0 on success, nonzero on a failure
 * that leaves the process usable (the same child goes on with the next job).
 * *out_value and *out_aux start at 0 and are reported in either case. */
typedef int (*fpx__sandbox_job)(void *user, size_t index, double *out_value, double *out_aux);

/* Runs jobs 0..count-1 in index order in child processes and fills
 * results[0..count-1]. A child runs `setup` (when not NULL), then jobs in
 * order, reporting to the parent over a pipe before and after each one. When
 * the child dies during job i (any signal, or exit), job i is CRASHED; when
 * job i runs longer than per_job_timeout_s, the child is killed (SIGKILL) and
 * job i is TIMEOUT; either way a new child (with a new setup) goes on from
 * job i+1. Setup is held to the same time limit. per_job_timeout_s <= 0
 * waits for ever.
 *
 * Returns FPX_OK when every job has a result (whatever its state). When setup
 * fails, crashes or times out in a child, the jobs not yet run are marked
 * FAILED (code = the status) and the setup's status is returned
 * (FPX_ERR_INTERNAL when it crashed or timed out), with a message saying
 * why. FPX_ERR_INVALID_ARGUMENT for a NULL job, NULL results with count > 0
 * or a NaN timeout; FPX_ERR_INTERNAL when pipe() or fork() fails (jobs not
 * yet run stay NOT_RUN). Every child is reaped and every descriptor closed
 * before it returns.
 *
 * Children inherit the caller's memory (so `user` may point at anything set
 * up before the call) and open descriptors; they reset the fatal signals to
 * their default actions, write no core files, and die with the parent (on
 * Linux). Jobs should not print (a child's buffered output is flushed when it
 * ends normally). Not for concurrent use by several threads of one process: a
 * child forked by one call would hold the other call's pipe open. */
fpx_status fpx__sandbox_run(fpx__sandbox_setup setup, fpx__sandbox_job job, void *user,
                            size_t count, double per_job_timeout_s,
                            fpx__sandbox_result *results);

/* "ok", "failed", "crashed", "timeout", "not run"; "?" for other values. */
const char *fpx__sandbox_state_name(int state);

#endif
