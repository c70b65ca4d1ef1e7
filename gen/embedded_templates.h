/*
 * embedded_templates.h - the kernel template sources compiled into the
 * library by tools/embed.c (a table ending with a {NULL, NULL} entry).
 */
#ifndef FPX_GEN_EMBEDDED_TEMPLATES_H
#define FPX_GEN_EMBEDDED_TEMPLATES_H

typedef struct fpx__embedded_template {
  const char *name;   /* file name under templates/, e.g. "weight_only.cuh" */
  const char *source; /* NUL-terminated contents */
} fpx__embedded_template;

extern const fpx__embedded_template fpx__embedded_templates[];

/* The source of a named template, or NULL. */
const char *fpx__template_source(const char *name);

#endif
