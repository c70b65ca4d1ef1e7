/*
 * compile.h - NVRTC compilation of an embedded kernel template instance to a
 * cubin for one architecture. Needs no GPU.
 */
#ifndef FPX_RUNTIME_COMPILE_H
#define FPX_RUNTIME_COMPILE_H

#include <stddef.h>

#include "fpx.h"

typedef struct fpx__cubin {
  char *data;              /* malloc'd cubin image */
  size_t size;
  char lowered_name[256];  /* mangled kernel symbol of the name expression */
} fpx__cubin;

/* Compiles `name_expr` (a template instance) of the embedded template
 * `template_name` for `arch` ("sm_80", "sm_89", "sm_90a", ...). On failure the
 * NVRTC log is in the thread's error detail (FPX_ERR_COMPILE). */
fpx_status fpx__compile(const char *template_name, const char *name_expr, const char *arch,
                        fpx__cubin *out_cubin);
void fpx__cubin_free(fpx__cubin *cubin);
/* The identity of a compiled binary across processes (the key of the
 * database's binary store): a hash of the template source, the name
 * expression, the arch and the NVRTC version, as 16 hex digits. */
void fpx__kernel_binary_hash(const char *template_name, const char *name_expr, const char *arch,
                             char out[17]);
/* NVRTC version as major * 1000 + minor * 10 (13000 = 13.0). */
int fpx__nvrtc_version(void);

#endif
