/*
 * embedded_templates.h - files compiled into the library by tools/embed.c:
 * the kernel template sources and the shipped tuning databases (JSON), each
 * a table ending with a {NULL, NULL} entry.
 */
#ifndef FPX_GEN_EMBEDDED_TEMPLATES_H
#define FPX_GEN_EMBEDDED_TEMPLATES_H

typedef struct fpx__embedded_template {
  const char *name;   /* file name under templates/, e.g. "weight_only.cuh" */
  const char *source; /* NUL-terminated contents */
} fpx__embedded_template;

extern const fpx__embedded_template fpx__embedded_templates[];
extern const fpx__embedded_template fpx__embedded_shipped[];

/* The source of a named template, or NULL. */
const char *fpx__template_source(const char *name);
/* Hex digest (16 digits) of the library version and the template the tuned
 * winners are measured with (weight_only.cuh): the "fpx hash" that tuned
 * winners are keyed by. Other templates (quantizers, the wgmma family) do
 * not enter it, so adding or changing them keeps a user's winners. */
const char *fpx__templates_hash(void);

#endif
