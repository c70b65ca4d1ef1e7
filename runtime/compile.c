/*
 * compile.c - NVRTC front end: template source + name expression + arch ->
 * cubin and the lowered kernel name.
 */
#include "compile.h"

#include <nvrtc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "embedded_templates.h"
#include "error.h"

int fpx__nvrtc_version(void) {
  int major = 0, minor = 0;
  if (nvrtcVersion(&major, &minor) != NVRTC_SUCCESS) return 0;
  return major * 1000 + minor * 10;
}

static fpx_status nvrtc_fail(nvrtcResult r, const char *what) {
  return fpx__error(FPX_ERR_COMPILE, "%s failed: %s", what, nvrtcGetErrorString(r));
}

fpx_status fpx__compile(const char *template_name, const char *name_expr, const char *arch,
                        fpx__cubin *out) {
  nvrtcProgram prog = NULL;
  fpx_status st = FPX_OK;
  nvrtcResult r;
  char arch_opt[64];
  memset(out, 0, sizeof *out);
  const char *source = fpx__template_source(template_name);
  if (source == NULL)
    return fpx__error(FPX_ERR_INTERNAL, "kernel template %s is not embedded", template_name);
  if (strncmp(arch, "sm_", 3) != 0 || strlen(arch) > 16)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "architecture '%s' is not of the form sm_XY", arch);
  snprintf(arch_opt, sizeof arch_opt, "--gpu-architecture=%s", arch);
  const char *options[] = {arch_opt, "-std=c++17", "--diag-suppress=177"};
  if ((r = nvrtcCreateProgram(&prog, source, template_name, 0, NULL, NULL)) != NVRTC_SUCCESS)
    return nvrtc_fail(r, "nvrtcCreateProgram");
  if ((r = nvrtcAddNameExpression(prog, name_expr)) != NVRTC_SUCCESS) {
    st = nvrtc_fail(r, "nvrtcAddNameExpression");
    goto fail;
  }
  r = nvrtcCompileProgram(prog, (int)(sizeof options / sizeof options[0]), options);
  if (r != NVRTC_SUCCESS) {
    size_t log_size = 0;
    st = fpx__error(FPX_ERR_COMPILE, "NVRTC could not compile %s for %s: %s\n", name_expr,
                    arch, nvrtcGetErrorString(r));
    if (nvrtcGetProgramLogSize(prog, &log_size) == NVRTC_SUCCESS && log_size > 1) {
      char *log = malloc(log_size);
      if (log && nvrtcGetProgramLog(prog, log) == NVRTC_SUCCESS) fpx__error_append(log);
      free(log);
    }
    goto fail;
  }
  const char *lowered = NULL;
  if ((r = nvrtcGetLoweredName(prog, name_expr, &lowered)) != NVRTC_SUCCESS) {
    st = nvrtc_fail(r, "nvrtcGetLoweredName");
    goto fail;
  }
  if (strlen(lowered) >= sizeof out->lowered_name) {
    st = fpx__error(FPX_ERR_INTERNAL, "kernel symbol of %s is too long", name_expr);
    goto fail;
  }
  strcpy(out->lowered_name, lowered);
  if ((r = nvrtcGetCUBINSize(prog, &out->size)) != NVRTC_SUCCESS) {
    st = nvrtc_fail(r, "nvrtcGetCUBINSize");
    goto fail;
  }
  out->data = malloc(out->size);
  if (out->data == NULL) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "no memory for a %zu-byte cubin", out->size);
    goto fail;
  }
  if ((r = nvrtcGetCUBIN(prog, out->data)) != NVRTC_SUCCESS) {
    st = nvrtc_fail(r, "nvrtcGetCUBIN");
    goto fail;
  }
  nvrtcDestroyProgram(&prog);
  return FPX_OK;
fail:
  if (prog) nvrtcDestroyProgram(&prog);
  fpx__cubin_free(out);
  return st;
}

void fpx__cubin_free(fpx__cubin *cubin) {
  free(cubin->data);
  cubin->data = NULL;
  cubin->size = 0;
}

void fpx__kernel_binary_hash(const char *template_name, const char *name_expr, const char *arch,
                             char out[17]) {
  const char *source = fpx__template_source(template_name);
  uint64_t h = fpx__kernel_hash(source ? source : "", name_expr, arch);
  int nvrtc = fpx__nvrtc_version();
  h = fpx__hash64(&nvrtc, sizeof nvrtc, h);
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}
