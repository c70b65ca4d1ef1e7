/*
 * templates.c - lookup of the kernel template sources embedded at build time.
 */
#include <string.h>

#include "embedded_templates.h"

const char *fpx__template_source(const char *name) {
  for (const fpx__embedded_template *t = fpx__embedded_templates; t->name; t++)
    if (strcmp(t->name, name) == 0) return t->source;
  return NULL;
}
