/*
 * bucket.c - M buckets: tuned winners are stored per power-of-two range of
 * the token count, so that one tuning run covers every M.
 */
#include "cache.h"

int fpx__cache_m_bucket(size_t m) {
  int bucket = 1;
  while ((size_t)bucket < m && bucket < FPX__CACHE_M_BUCKET_MAX) bucket *= 2;
  return bucket;
}
