/*
 * templates.c - lookup of the kernel template sources embedded at build
 * time, and the hash that identifies the template tuned winners belong to.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "embedded_templates.h"

const char *fpx__template_source(const char *name) {
  for (const fpx__embedded_template *t = fpx__embedded_templates; t->name; t++)
    if (strcmp(t->name, name) == 0) return t->source;
  return NULL;
}

static char fpx__hash_hex[17];
static pthread_once_t fpx__hash_once = PTHREAD_ONCE_INIT;

static void compute_hash(void) {
  uint64_t h = fpx__hash64(FPX_VERSION_STRING, strlen(FPX_VERSION_STRING), 0);
  for (const fpx__embedded_template *t = fpx__embedded_templates; t->name; t++) {
    if (strcmp(t->name, FPX__TEMPLATE_WEIGHT_ONLY) != 0) continue;
    h = fpx__hash64(t->name, strlen(t->name), h);
    h = fpx__hash64(t->source, strlen(t->source), h);
  }
  snprintf(fpx__hash_hex, sizeof fpx__hash_hex, "%016llx", (unsigned long long)h);
}

const char *fpx__templates_hash(void) {
  pthread_once(&fpx__hash_once, compute_hash);
  return fpx__hash_hex;
}
