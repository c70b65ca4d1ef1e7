/*
 * error.h - internal error reporting shared by every module: the thread's
 * last-error detail, the FPX_TRY / goto-fail idiom, and argument checks.
 */
#ifndef FPX_GEN_ERROR_H
#define FPX_GEN_ERROR_H

#include "fpx.h"

#if defined(__GNUC__)
#define FPX__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FPX__PRINTF(a, b)
#endif

/* Records a formatted detail message for this thread and returns status. */
fpx_status fpx__error(fpx_status status, const char *fmt, ...) FPX__PRINTF(2, 3);
/* Appends more text (a compiler log, say) to this thread's detail message. */
void fpx__error_append(const char *text);
/* Clears this thread's detail message; called at the top of public calls. */
void fpx__error_clear(void);

/* Evaluates an fpx_status expression; on failure stores it in `st` and jumps
 * to the function's `fail:` label. The function must declare `fpx_status st`. */
#define FPX_TRY(expr)          \
  do {                         \
    st = (expr);               \
    if (st != FPX_OK) goto fail; \
  } while (0)

/* Fails with FPX_ERR_INVALID_ARGUMENT naming a NULL pointer argument. */
#define FPX_CHECK_PTR(p)                                                   \
  do {                                                                     \
    if ((p) == NULL) {                                                     \
      st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: %s is NULL", __func__, #p); \
      goto fail;                                                           \
    }                                                                      \
  } while (0)

#endif
