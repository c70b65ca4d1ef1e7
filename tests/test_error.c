/*
 * test_error.c - status names and texts for every status, stable values,
 * the per-thread detail message, and the version.
 */
#include <pthread.h>

#include "support.h"

Test(error, every_status_has_its_name_and_text) {
  static const struct { fpx_status status; const char *name; } names[] = {
      {FPX_OK, "FPX_OK"},
      {FPX_ERR_INVALID_ARGUMENT, "FPX_ERR_INVALID_ARGUMENT"},
      {FPX_ERR_UNSUPPORTED_FORMAT, "FPX_ERR_UNSUPPORTED_FORMAT"},
      {FPX_ERR_NON_FINITE, "FPX_ERR_NON_FINITE"},
      {FPX_ERR_OUT_OF_MEMORY, "FPX_ERR_OUT_OF_MEMORY"},
      {FPX_ERR_NO_DEVICE, "FPX_ERR_NO_DEVICE"},
      {FPX_ERR_DRIVER, "FPX_ERR_DRIVER"},
      {FPX_ERR_COMPILE, "FPX_ERR_COMPILE"},
      {FPX_ERR_UNSUPPORTED_SHAPE, "FPX_ERR_UNSUPPORTED_SHAPE"},
      {FPX_ERR_MISALIGNED, "FPX_ERR_MISALIGNED"},
      {FPX_ERR_BUFFER_TOO_SMALL, "FPX_ERR_BUFFER_TOO_SMALL"},
      {FPX_ERR_INTERNAL, "FPX_ERR_INTERNAL"},
      {FPX_ERR_IO, "FPX_ERR_IO"},
      {FPX_ERR_UNSUPPORTED_DEVICE, "FPX_ERR_UNSUPPORTED_DEVICE"},
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    cr_assert_str_eq(fpx_status_name(names[i].status), names[i].name);
    const char *text = fpx_strerror(names[i].status);
    cr_assert(text != NULL && text[0] != '\0', "%s", names[i].name);
    for (size_t j = 0; j < i; j++)
      cr_assert_str_neq(text, fpx_strerror(names[j].status), "texts of %s and %s collide",
                        names[i].name, names[j].name);
  }
  cr_assert_str_eq(fpx_strerror(FPX_ERR_NON_FINITE), "input holds NaN or infinity");
}

Test(error, the_status_map_and_the_functions_agree) {
  size_t count = 0;
#define CHECK_ONE(name, value, text)                              \
  cr_assert_eq((int)FPX_##name, value);                           \
  cr_assert_str_eq(fpx_status_name(FPX_##name), "FPX_" #name);    \
  cr_assert_str_eq(fpx_strerror(FPX_##name), text);               \
  count++;
  FPX_STATUS_MAP(CHECK_ONE)
#undef CHECK_ONE
  cr_assert_eq(count, 14);
}

Test(error, status_values_are_stable) {
  cr_assert_eq(FPX_OK, 0);
  cr_assert_eq(FPX_ERR_INVALID_ARGUMENT, 1);
  cr_assert_eq(FPX_ERR_UNSUPPORTED_FORMAT, 2);
  cr_assert_eq(FPX_ERR_NON_FINITE, 3);
  cr_assert_eq(FPX_ERR_OUT_OF_MEMORY, 4);
  cr_assert_eq(FPX_ERR_NO_DEVICE, 5);
  cr_assert_eq(FPX_ERR_IO, 12);
  cr_assert_eq(FPX_ERR_UNSUPPORTED_DEVICE, 13);
}

Test(error, unknown_status_has_fallback_name_and_text) {
  cr_assert_str_eq(fpx_status_name((fpx_status)99), "FPX_UNKNOWN_STATUS");
  cr_assert_str_eq(fpx_strerror((fpx_status)-1), "unknown status");
}

Test(error, a_successful_call_clears_the_last_error) {
  fpx_format f;
  cr_assert_eq(fpx_format_parse("bogus", &f), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert(fpx_last_error()[0] != '\0');
  cr_assert_eq(fpx_format_parse("e3m2", &f), FPX_OK);
  cr_assert_str_eq(fpx_last_error(), "");
}

static void *fail_in_thread(void *arg) {
  fpx_format f;
  (void)arg;
  fpx_format_parse("thread-name", &f);
  return NULL;
}

Test(error, the_last_error_is_kept_per_thread) {
  fpx_format f;
  pthread_t thread;
  cr_assert_eq(fpx_format_parse("main-name", &f), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert_eq(pthread_create(&thread, NULL, fail_in_thread, NULL), 0);
  pthread_join(thread, NULL);
  cr_assert(contains(fpx_last_error(), "main-name"), "%s", fpx_last_error());
}

Test(error, version_number_matches_the_header) {
  cr_assert_eq(fpx_version_number(), FPX_VERSION_NUMBER);
  cr_assert_eq(FPX_VERSION_NUMBER, 100);
}
