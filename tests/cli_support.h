/*
 * cli_support.h - running the fpx-tune tool from a test: the command goes
 * through the shell with stdin from /dev/null, and its exit code, stdout and
 * stderr come back.
 */
#ifndef FPX_TESTS_CLI_SUPPORT_H
#define FPX_TESTS_CLI_SUPPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

#define OUT_SIZE 65536

typedef struct cli_result {
  int exit_code;
  char out[OUT_SIZE]; /* stdout */
  char err[OUT_SIZE]; /* stderr */
} cli_result;

static inline void cli_read_file(const char *path, char *buf) {
  FILE *f = fopen(path, "rb");
  size_t n = 0;
  if (f != NULL) {
    n = fread(buf, 1, OUT_SIZE - 1, f);
    fclose(f);
  }
  buf[n] = '\0';
}

/* Runs "[env] $FPX_TUNE args" (default tool build/fpx-tune) into *r. */
static inline void cli_run_tool(const char *env, const char *args, cli_result *r) {
  const char *tool = getenv("FPX_TUNE");
  char err_path[] = "/tmp/fpx_cli_err_XXXXXX", out_path[] = "/tmp/fpx_cli_out_XXXXXX";
  char command[4096];
  int fd_err = mkstemp(err_path), fd_out = mkstemp(out_path);
  cr_assert(fd_err >= 0 && fd_out >= 0);
  snprintf(command, sizeof command, "%s %s %s >%s 2>%s </dev/null", env ? env : "",
           tool ? tool : "build/fpx-tune", args, out_path, err_path);
  int status = system(command);
  cr_assert(status != -1 && WIFEXITED(status), "%s did not exit normally", command);
  r->exit_code = WEXITSTATUS(status);
  cli_read_file(out_path, r->out);
  cli_read_file(err_path, r->err);
  close(fd_err);
  close(fd_out);
  unlink(err_path);
  unlink(out_path);
}

#endif
