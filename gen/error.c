/*
 * error.c - status names and texts (generated from FPX_STATUS_MAP) and the
 * per-thread detail message behind fpx_last_error().
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FPX__ERROR_CAPACITY 16384

static _Thread_local char fpx__detail[FPX__ERROR_CAPACITY];

FPX_API unsigned fpx_version_number(void) { return FPX_VERSION_NUMBER; }

FPX_API const char *fpx_status_name(fpx_status status) {
  switch (status) {
#define FPX__STATUS_NAME(name, value, text) \
  case FPX_##name:                          \
    return "FPX_" #name;
    FPX_STATUS_MAP(FPX__STATUS_NAME)
#undef FPX__STATUS_NAME
  }
  return "FPX_UNKNOWN_STATUS";
}

FPX_API const char *fpx_strerror(fpx_status status) {
  switch (status) {
#define FPX__STATUS_TEXT(name, value, text) \
  case FPX_##name:                          \
    return text;
    FPX_STATUS_MAP(FPX__STATUS_TEXT)
#undef FPX__STATUS_TEXT
  }
  return "unknown status";
}

FPX_API const char *fpx_last_error(void) { return fpx__detail; }

void fpx__error_clear(void) { fpx__detail[0] = '\0'; }

fpx_status fpx__error(fpx_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(fpx__detail, sizeof fpx__detail, fmt, ap);
  va_end(ap);
  return status;
}

void fpx__error_append(const char *text) {
  size_t used = strlen(fpx__detail);
  if (text == NULL || used + 1 >= sizeof fpx__detail) return;
  snprintf(fpx__detail + used, sizeof fpx__detail - used, "%s", text);
}
