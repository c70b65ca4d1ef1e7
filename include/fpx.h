/*
 * fpx.h - the whole public API of fpx, a library for low-bit floating-point
 * matrix multiplication on NVIDIA GPUs.
 *
 * Conventions used throughout:
 *   - Y[M,N] = X[M,K] * W[N,K]^T, every matrix row-major. M counts tokens,
 *     N output features, K input features (as torch.nn.Linear).
 *   - Every call that can fail returns fpx_status. FPX_OK is 0. On failure a
 *     message naming the bad value is kept for the calling thread and can be
 *     read with fpx_last_error(); calls that take a context also keep it in
 *     the context (fpx_ctx_last_error()).
 *   - Out-parameters come last, are named out_*, and are cleared (zeroed or
 *     set to NULL) when the call fails. No call writes a partial result: a
 *     failing call leaves every caller buffer as it was unless that buffer is
 *     documented as scratch.
 *   - The library never aborts, never prints and never calls exit().
 *   - Unless a function says otherwise it is thread-safe and keeps no state.
 */
#ifndef FPX_H
#define FPX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FPX_BUILDING_LIBRARY)
#define FPX_API __attribute__((visibility("default")))
#else
#define FPX_API
#endif

#define FPX_VERSION_MAJOR 0
#define FPX_VERSION_MINOR 1
#define FPX_VERSION_PATCH 0
#define FPX_VERSION_NUMBER \
  (FPX_VERSION_MAJOR * 10000 + FPX_VERSION_MINOR * 100 + FPX_VERSION_PATCH)
#define FPX_VERSION_STRING "0.1.0"

/* Returns FPX_VERSION_NUMBER of the library actually linked. */
FPX_API unsigned fpx_version_number(void);

/* ------------------------------------------------------------------------
 * Status codes. Values are stable and never renumbered.
 * ------------------------------------------------------------------------ */
#define FPX_STATUS_MAP(X)                                                     \
  X(OK, 0, "success")                                                         \
  X(ERR_INVALID_ARGUMENT, 1, "invalid argument")                              \
  X(ERR_UNSUPPORTED_FORMAT, 2, "unsupported number format")                   \
  X(ERR_NON_FINITE, 3, "input holds NaN or infinity")                         \
  X(ERR_OUT_OF_MEMORY, 4, "out of memory")                                    \
  X(ERR_NO_DEVICE, 5, "no CUDA driver or device available")                   \
  X(ERR_DRIVER, 6, "CUDA driver call failed")                                 \
  X(ERR_COMPILE, 7, "kernel compilation failed")                              \
  X(ERR_UNSUPPORTED_SHAPE, 8, "problem shape not supported")                  \
  X(ERR_MISALIGNED, 9, "pointer misaligned")                                  \
  X(ERR_BUFFER_TOO_SMALL, 10, "buffer too small")                             \
  X(ERR_INTERNAL, 11, "internal error")                                       \
  X(ERR_IO, 12, "input/output error")                                         \
  X(ERR_UNSUPPORTED_DEVICE, 13, "the GPU lacks a feature this call needs")

typedef enum fpx_status {
#define FPX__STATUS_ENUM(name, value, text) FPX_##name = value,
  FPX_STATUS_MAP(FPX__STATUS_ENUM)
#undef FPX__STATUS_ENUM
} fpx_status;

/* "FPX_ERR_NON_FINITE" etc.; "FPX_UNKNOWN_STATUS" for values not in the map. */
FPX_API const char *fpx_status_name(fpx_status status);
/* A short English description of the status; never NULL. */
FPX_API const char *fpx_strerror(fpx_status status);
/* The detail message of the last failing fpx call made by this thread
 * (names the bad value, carries compiler logs). "" if none. The pointer stays
 * valid until this thread's next fpx call. */
FPX_API const char *fpx_last_error(void);

/* ------------------------------------------------------------------------
 * Element types of dense host and device buffers.
 * ------------------------------------------------------------------------ */
typedef enum fpx_dtype {
  FPX_DTYPE_F32 = 0,  /* IEEE binary32 */
  FPX_DTYPE_F16 = 1,  /* IEEE binary16, stored as uint16_t bit patterns */
  FPX_DTYPE_BF16 = 2, /* bfloat16, stored as uint16_t bit patterns */
  /* FP8 codes, one byte each, always with FP32 scales beside them. Only
   * quantized activations use these (fpx_quantize_activations_gpu output, the
   * x_dtype of fpx_gemm); host conversion functions reject them. */
  FPX_DTYPE_E4M3 = 3, /* OCP E4M3FN */
  FPX_DTYPE_E5M2 = 4, /* OCP E5M2 */
} fpx_dtype;

/* "f32", "f16", "bf16", "e4m3", "e5m2"; NULL for values outside the enum. */
FPX_API const char *fpx_dtype_name(fpx_dtype dtype);
/* Parses "f32"/"fp32"/"float32", "f16"/"fp16"/"float16", "bf16"/"bfloat16",
 * "e4m3"/"fp8_e4m3"/"float8_e4m3fn", "e5m2"/"fp8_e5m2"/"float8_e5m2". */
FPX_API fpx_status fpx_dtype_parse(const char *name, fpx_dtype *out_dtype);
/* Scalar conversions, round to nearest even; NaN stays NaN. */
FPX_API uint16_t fpx_f32_to_f16(float x);
FPX_API float fpx_f16_to_f32(uint16_t bits);
FPX_API uint16_t fpx_f32_to_bf16(float x);
FPX_API float fpx_bf16_to_f32(uint16_t bits);

/* ------------------------------------------------------------------------
 * eXmY number formats.
 *
 * A format has 1 sign bit, E exponent bits (1..5) and M mantissa bits (>= 0),
 * 3 to 8 bits in all. Exponent bias is 2^(E-1)-1. Exponent field 0 encodes
 * zero and subnormals. Semantics of the top exponent field:
 *   - formats below 8 bits: all codes are finite (no Inf, no NaN);
 *   - e4m3: OCP E4M3FN: no Inf; S.1111.111 is NaN; largest finite 448;
 *   - e5m2: IEEE-like: exponent field 31 holds Inf (mantissa 0) and NaN;
 *   - every other 8-bit split (e1m6, e2m5, e3m4): all codes finite.
 * A code is an unsigned byte holding the format's bits in its low bits:
 * sign at bit E+M, then the exponent field, then the mantissa.
 * ------------------------------------------------------------------------ */
typedef struct fpx_format {
  uint8_t exp_bits; /* E */
  uint8_t man_bits; /* M */
} fpx_format;

typedef struct fpx_format_info {
  fpx_format format;
  char name[8];            /* canonical name, "e3m2" */
  int bits;                /* 1 + E + M */
  int bias;                /* 2^(E-1) - 1 */
  double max_finite;       /* largest finite value */
  double min_normal;       /* smallest positive normal value */
  double min_subnormal;    /* smallest positive value (subnormal if M > 0) */
  int has_inf;             /* 1 for e5m2 only */
  int has_nan;             /* 1 for e4m3 and e5m2 */
  int num_codes;           /* 2^bits */
} fpx_format_info;

/* Parses a format name. Accepted (case-insensitive): "eXmY" for every
 * supported split, the aliases "fp4" (e2m1), "fp5" (e2m2), "fp6" (e3m2),
 * "fp8" (e4m3), and "fpB_eXmY" where B = 1+X+Y ("fp6_e2m3"). Anything else
 * (NULL, "", "e0m3", "e6m2", "e4m4", "fp9", ...) gives
 * FPX_ERR_UNSUPPORTED_FORMAT with a message naming the input. */
FPX_API fpx_status fpx_format_parse(const char *name, fpx_format *out_format);
/* Fills *out_info for a format; FPX_ERR_UNSUPPORTED_FORMAT if the split is
 * outside the supported range. */
FPX_API fpx_status fpx_format_get_info(fpx_format format,
                                       fpx_format_info *out_info);
/* Number of supported formats, and the i-th one in order of bits, then E. */
FPX_API size_t fpx_format_count(void);
FPX_API fpx_format fpx_format_at(size_t index);

/* Decodes one code to double: exact. A code >= 2^bits is
 * FPX_ERR_INVALID_ARGUMENT. */
FPX_API fpx_status fpx_decode_value(fpx_format format, unsigned code,
                                    double *out_value);
/* Encodes one value: round to nearest, ties to the even code, saturate
 * finite values and infinities to +-max_finite (e5m2 keeps +-Inf), keep the
 * sign of zero. NaN becomes the format's NaN (sign kept) where it has one;
 * for formats without NaN it is FPX_ERR_NON_FINITE. */
FPX_API fpx_status fpx_encode_value(fpx_format format, double value,
                                    uint8_t *out_code);

/* Bulk encode of `count` elements of `src_dtype` into one code per byte.
 * Same rounding as fpx_encode_value. A NaN in a format without NaN gives
 * FPX_ERR_NON_FINITE naming its index, and out_codes is left untouched. */
FPX_API fpx_status fpx_encode(fpx_format format, fpx_dtype src_dtype,
                              const void *src, size_t count,
                              uint8_t *out_codes);
/* Bulk decode of one code per byte into `dst_dtype` (rounded to nearest even
 * where the destination is narrower; e5m0/e5m1 top-binade values exceed f16
 * and become Inf there). */
FPX_API fpx_status fpx_decode(fpx_format format, const uint8_t *codes,
                              size_t count, fpx_dtype dst_dtype, void *out_dst);

/* ------------------------------------------------------------------------
 * Weight quantization (CPU).
 *
 * W[N,K] is quantized to one code per element plus FP32 scales with
 *   dequant(W)[n][k] = decode(code[n][k]) * scale[n][k / G]
 * Scale layout: group_size 0 = one scale per output row (scales has N
 * entries); group_size G in {32, 64, 128, 256} = one scale per G consecutive
 * elements of a row (scales is [N][ceil(K/G)], row-major; the last group of a
 * row may be short). A computed scale is absmax(group) / max_finite rounded
 * to FP32; a group that is all zero gets scale 1.
 * ------------------------------------------------------------------------ */
typedef struct fpx_quant_params {
  size_t struct_size; /* sizeof(fpx_quant_params) */
  int group_size;     /* 0 (per row) or 32, 64, 128, 256 */
  /* Caller-given scales in the layout above (finite, > 0), or NULL to compute
   * them. When given they are copied to out_scales. */
  const float *given_scales;
} fpx_quant_params;

/* Number of scales for a weight of n x k under group_size; 0 if invalid
 * (group_size, an empty shape, or a count beyond SIZE_MAX). */
FPX_API size_t fpx_scale_count(size_t n, size_t k, int group_size);

/* Quantizes W[n,k] of `src_dtype`. out_codes holds n*k bytes, out_scales
 * fpx_scale_count(n, k, group_size) floats. NaN or Inf in W (or a bad given
 * scale) is an error naming its row and column; nothing is written then. */
FPX_API fpx_status fpx_quantize(fpx_format format, fpx_dtype src_dtype,
                                const void *w, size_t n, size_t k,
                                const fpx_quant_params *params,
                                uint8_t *out_codes, float *out_scales);
/* Dequantizes codes and scales back to `dst_dtype`, out_w holds n*k. A
 * scale that is NaN or Inf is FPX_ERR_NON_FINITE naming it; nothing is
 * written then. */
FPX_API fpx_status fpx_dequantize(fpx_format format, const uint8_t *codes,
                                  const float *scales, size_t n, size_t k,
                                  int group_size, fpx_dtype dst_dtype,
                                  void *out_w);

typedef struct fpx_ctx fpx_ctx;
typedef struct fpx_weights fpx_weights;
typedef void *fpx_stream;        /* a CUstream / cudaStream_t; NULL = default */
typedef uint64_t fpx_devptr;     /* a device address (CUdeviceptr) */

/* ------------------------------------------------------------------------
 * Activation quantization to FP8 (CPU reference of the W8A8 path).
 *
 * X[M,K] (f32, f16 or bf16) becomes E4M3 (or E5M2) codes and FP32 scales
 * with x ~= decode(code) * scale:
 *   FPX_ACT_SCALE_PER_ROW (default): one scale per row (per token),
 *     amax = max |x| of the row, clamped to scale_ub when scale_ub > 0,
 *     scale = amax / max_finite (448 for E4M3);
 *   FPX_ACT_SCALE_PER_TENSOR: the same with one amax over all of X;
 *   FPX_ACT_SCALE_STATIC: the caller's static_scale (finite, > 0).
 * An all-zero row (or tensor) gets scale 1 and zero codes. Values beyond
 * max_finite * scale (possible with scale_ub or a static scale) saturate.
 * NaN or Inf in X is FPX_ERR_NON_FINITE naming the row and column; nothing
 * is written then.
 * Exact definition (the GPU quantizer gives the same bits): scale is
 * amax / max_finite correctly rounded to FP32 (one FP32 division; 1 when
 * that is 0); code is the FP8 value nearest to the exact quotient x / scale,
 * ties to the even code, saturating, sign of zero kept. It is not the
 * rounding of an FP32 quotient, which can land exactly on the midpoint of
 * two FP8 values when x / scale is just beside it.
 * ------------------------------------------------------------------------ */
typedef enum fpx_act_scale_mode {
  FPX_ACT_SCALE_PER_ROW = 0,
  FPX_ACT_SCALE_PER_TENSOR = 1,
  FPX_ACT_SCALE_STATIC = 2,
} fpx_act_scale_mode;

typedef struct fpx_act_quant_params {
  size_t struct_size;      /* sizeof(fpx_act_quant_params) */
  fpx_act_scale_mode mode;
  float scale_ub;          /* dynamic modes: upper bound on amax; 0 = none */
  float static_scale;      /* FPX_ACT_SCALE_STATIC only */
  fpx_format format;       /* e4m3 or e5m2; {0, 0} means e4m3 */
} fpx_act_quant_params;

/* out_codes holds m*k bytes; out_scales m floats (per row) or 1. params may
 * be NULL (per row, e4m3, no bound). */
FPX_API fpx_status fpx_quantize_activations(const fpx_act_quant_params *params, fpx_dtype x_dtype,
                                            const void *x, size_t m, size_t k,
                                            uint8_t *out_codes, float *out_scales);

/* The same quantization on the GPU, asynchronous on `stream`, codes and
 * scales bit for bit those of fpx_quantize_activations:
 *   x: device [m, k] of x_dtype (f16 or bf16), 16-byte aligned; k a multiple
 *     of 8 up to 2^30, m up to 2^31 - 1;
 *   out_codes: device [m, k] bytes (16-byte aligned);
 *   out_scales: device FP32 (4-byte aligned), m entries (per row) or 1 (per
 *     tensor, static; static mode writes static_scale there);
 *   out_nonfinite: optional (0 = none) device uint32 (4-byte aligned) that
 *     receives the number of rows holding NaN or Inf (set to 0 first, by
 *     this call, on the stream).
 * Rows are read once while they fit in registers (k <= 32768), else twice
 * (the second time mostly from L2); the per-tensor mode first reads all of X
 * for the amax. No workspace is allocated; the first call of a (dtype,
 * format) compiles its kernel (tens of milliseconds, kept in the context and
 * the database). On sm_89 and later the FP8 conversion instruction encodes,
 * elsewhere integer code does; both give the same bytes. Thread-safe.
 * A row with NaN or Inf is counted in out_nonfinite and gets a NaN scale (so
 * a GEMM that uses it yields NaN for that token instead of a plausible wrong
 * number); with one scale for all rows (per tensor, static), that scale
 * becomes NaN. Codes of the affected rows are written but unspecified.
 * Argument errors are reported before anything is enqueued. The same call
 * quantizes FP8 weights per output channel (W [n, k] as the rows);
 * fpx_weights_quantize_gpu does that and packs them. */
FPX_API fpx_status fpx_quantize_activations_gpu(fpx_ctx *ctx, const fpx_act_quant_params *params,
                                                fpx_dtype x_dtype, fpx_devptr x, size_t m,
                                                size_t k, fpx_devptr out_codes,
                                                fpx_devptr out_scales,
                                                fpx_devptr out_nonfinite, fpx_stream stream);

/* ------------------------------------------------------------------------
 * Packing.
 *
 * Plain interchange layout: the codes of a row-major matrix (or any array)
 * form one bit stream, element i occupying stream bits [i*b, (i+1)*b) with
 * its least significant bit first; stream bit s is bit (s % 8) of byte s / 8.
 * Unused high bits of the last byte are zero. Size: ceil(count * b / 8).
 *
 * Tiled GPU layout (what the kernels read): see docs/LAYOUT.md. The matrix is
 * padded with zero codes to N a multiple of 16 and K a multiple of 256. Each
 * 16 x 256 block is stored as b * 512 contiguous bytes, split into bit planes
 * of widths 8/4/2/1 (the binary digits of b), in the order each GPU thread
 * reads its tensor-core fragments with 16-byte loads.
 * ------------------------------------------------------------------------ */
FPX_API size_t fpx_plain_packed_size(fpx_format format, size_t count);
FPX_API fpx_status fpx_pack_plain(fpx_format format, const uint8_t *codes,
                                  size_t count, uint8_t *out_packed);
FPX_API fpx_status fpx_unpack_plain(fpx_format format, const uint8_t *packed,
                                    size_t count, uint8_t *out_codes);

#define FPX_TILE_N 16
#define FPX_TILE_K 256
/* Bytes of the tiled layout for an n x k weight; 0 if the format is invalid
 * or the size is beyond SIZE_MAX. */
FPX_API size_t fpx_tiled_packed_size(fpx_format format, size_t n, size_t k);
FPX_API fpx_status fpx_pack_tiled(fpx_format format, const uint8_t *codes,
                                  size_t n, size_t k, uint8_t *out_packed);
FPX_API fpx_status fpx_unpack_tiled(fpx_format format, const uint8_t *packed,
                                    size_t n, size_t k, uint8_t *out_codes);

/* ------------------------------------------------------------------------
 * CPU reference GEMM in double precision, for tests and checks:
 *   Y[m][n] = sum_k X[m][k] * dequant(W)[n][k]
 * X is m x k of x_dtype; W is given as codes + scales as fpx_quantize makes.
 * out_y is m x n doubles.
 * ------------------------------------------------------------------------ */
FPX_API fpx_status fpx_reference_gemm(fpx_format format, fpx_dtype x_dtype,
                                      const void *x, const uint8_t *codes,
                                      const float *scales, int group_size,
                                      size_t m, size_t n, size_t k,
                                      double *out_y);

/* The same reference with quantized activations (the W8A8 and W-eXmY/A-FP8
 * paths): X[m][k] = decode(x_codes[m][k]) * x_scales[m] (x_scales[0] when
 * x_per_tensor), as fpx_quantize_activations makes them. */
FPX_API fpx_status fpx_reference_gemm_qx(fpx_format x_format, const uint8_t *x_codes,
                                         const float *x_scales, int x_per_tensor,
                                         fpx_format w_format, const uint8_t *w_codes,
                                         const float *w_scales, int w_group_size, size_t m,
                                         size_t n, size_t k, double *out_y);

/* ------------------------------------------------------------------------
 * GPU context.
 *
 * A context binds one CUDA device (through its primary context, the one the
 * CUDA runtime and PyTorch use, so device pointers from cudaMalloc work as
 * is). The CUDA driver is loaded with dlopen on first use: without a driver
 * or device every GPU call returns FPX_ERR_NO_DEVICE. Kernels are generated
 * and compiled with NVRTC on first use and kept in the context. A context is
 * thread-safe: several host threads may share it.
 * ------------------------------------------------------------------------ */
typedef struct fpx_ctx_options {
  size_t struct_size; /* sizeof(fpx_ctx_options) */
  int device;         /* CUDA device ordinal, default 0 */
  /* The tuning database (SQLite) of tuned configurations and compiled
   * kernels. NULL: the default location, $FPX_CACHE_DIR/fpx.db, else
   * $XDG_CACHE_HOME/fpx/fpx.db, else ~/.cache/fpx/fpx.db. "": no database.
   * ":memory:": a private in-memory one. A database that cannot be opened
   * (corrupted, truncated, newer schema, unwritable) is not an error: the
   * context then runs without it (see fpx_ctx_stats) and never modifies or
   * deletes the file. */
  const char *cache_path;
  unsigned flags;     /* FPX_CTX_* */
} fpx_ctx_options;

/* Tune on first use: the first fpx_gemm call of a key whose configuration
 * would come from a fallback (nearest M bucket, shipped database or
 * heuristic) times the candidate configurations on the caller's own buffers
 * (a staged search: every tile configuration at split-K 1 and at a middle
 * split-K, then every split-K of the fastest) and keeps the fastest for the rest of the process. That first call
 * blocks (it compiles and synchronizes the stream) and may take seconds; it is
 * skipped while the stream is captured into a graph. The result is kept in
 * memory only: the database holds winners of `fpx-tune tune`, which also
 * checks each candidate against a reference. Off by default. */
#define FPX_CTX_TUNE_ON_FIRST_USE 1u
/* Keeps fpx_gemm on the mma.sync family where it would otherwise pick the
 * Hopper wgmma family by itself (see fpx_gemm). */
#define FPX_CTX_NO_WGMMA 2u

/* Creates a context. options may be NULL (device 0, default database). */
FPX_API fpx_status fpx_ctx_create(const fpx_ctx_options *options, fpx_ctx **out_ctx);
/* Destroys a context and everything it owns (kernels, workspaces); accepts
 * NULL. The caller must make sure no work of the context is still running. */
FPX_API void fpx_ctx_destroy(fpx_ctx *ctx);
/* The detail of the context's last failure (compile log, driver error name,
 * the bad value); "" if none. Valid until the next failing call. */
FPX_API const char *fpx_ctx_last_error(const fpx_ctx *ctx);

typedef struct fpx_device_info {
  char name[128];     /* "NVIDIA H100 80GB HBM3" */
  char arch[16];      /* compile target: "sm_90a", "sm_89", "sm_80" */
  int sm_count;
  int driver_version; /* as cuDriverGetVersion: 13000 = 13.0 */
} fpx_device_info;
FPX_API fpx_status fpx_ctx_device_info(fpx_ctx *ctx, fpx_device_info *out_info);

/* Where the configurations of fpx_gemm calls came from, counted per call.
 * The first call of a (format, dtypes, scales, N, K, M bucket) key looks the
 * configuration up in this order, and later calls reuse it from memory:
 *   1. the user database, exact key (same GPU, driver, NVRTC, templates);
 *   2. the tuning database shipped inside the library for this GPU model,
 *      the exact M bucket;
 *   3. the user database, the nearest tuned M bucket of the same key;
 *   4. the shipped database, the nearest M bucket;
 *   5. the built-in heuristic.
 * A winner measured at the call's M bucket thus comes before one of
 * another bucket. With FPX_LOG=1 in the environment the library writes one
 * line to stderr each time a key is resolved by 2 to 5 (calls_shipped
 * counts 2 and 4). */
typedef struct fpx_ctx_stats {
  size_t struct_size;        /* sizeof(fpx_ctx_stats) */
  uint64_t calls_explicit;   /* args->config was given */
  uint64_t calls_user_exact;
  uint64_t calls_user_nearest;
  uint64_t calls_shipped;
  uint64_t calls_heuristic;
  uint64_t calls_first_use_tuned; /* FPX_CTX_TUNE_ON_FIRST_USE winners */
  uint64_t lookups;          /* keys resolved (first calls); the rest hit memory */
  uint64_t kernels_compiled; /* NVRTC compilations */
  uint64_t kernels_loaded;   /* kernels loaded from the database's binaries */
  int user_db_open;          /* 1 if the user database is in use */
  char user_db_note[256];    /* why it is not, or its path */
} fpx_ctx_stats;
FPX_API fpx_status fpx_ctx_get_stats(fpx_ctx *ctx, fpx_ctx_stats *out_stats);

/* ------------------------------------------------------------------------
 * Weights on the device.
 *
 * fpx_weights_upload packs codes (one per byte, as fpx_quantize makes them)
 * into the tiled layout on the host and copies codes and FP32 scales to the
 * device once. Codes that decode to NaN or Inf are rejected. The weights
 * belong to the context and must be destroyed before it.
 * ------------------------------------------------------------------------ */
FPX_API fpx_status fpx_weights_upload(fpx_ctx *ctx, fpx_format format,
                                      const uint8_t *codes, const float *scales,
                                      size_t n, size_t k, int group_size,
                                      fpx_weights **out_weights);
/* Same, from codes already in the tiled layout (fpx_pack_tiled). Every code
 * of it, the padding to whole 16 x 256 blocks included, must decode to a
 * finite value (checked on the host before anything is copied). */
FPX_API fpx_status fpx_weights_upload_tiled(fpx_ctx *ctx, fpx_format format,
                                            const uint8_t *tiled, const float *scales,
                                            size_t n, size_t k, int group_size,
                                            fpx_weights **out_weights);
/* Quantizes W[n,k] (f16 or bf16, on the device, 16-byte aligned, k a
 * multiple of 8; n and k up to 2^30) to an 8-bit format (e4m3 or e5m2, any
 * other is FPX_ERR_UNSUPPORTED_FORMAT) with one FP32 scale per output row
 * and packs it into the tiled layout, all on the GPU. The result is byte
 * for byte what fpx_quantize (group_size 0: scale = amax / max_finite, codes
 * the nearest FP8 values of the exact quotients) followed by
 * fpx_weights_upload makes. Synchronous: runs on the legacy default stream,
 * waits for it, and uses n * k bytes of temporary device memory. A row with
 * NaN or Inf is FPX_ERR_NON_FINITE naming the first such row (and their
 * count); no weights are made then. */
FPX_API fpx_status fpx_weights_quantize_gpu(fpx_ctx *ctx, fpx_format format, fpx_dtype w_dtype,
                                            fpx_devptr w, size_t n, size_t k,
                                            fpx_weights **out_weights);
/* Accepts NULL. */
FPX_API void fpx_weights_destroy(fpx_weights *weights);

/* ------------------------------------------------------------------------
 * Weight-only GEMM: Y[M,N] = X[M,K] * dequant(W)[N,K]^T.
 *
 * X: FP16 or BF16, row-major [M,K], 16-byte aligned; K must be a multiple
 * of 8. Y: FP16, BF16 or FP32, row-major [M,N], aligned to its element.
 * Formats e5m0 and e5m1 need BF16 activations (their top binade exceeds
 * FP16). Any N >= 1; M from 1 to 2^31 - 1, with M x N and M x K at most
 * 8 x (2^31 - 1). The mma.sync family (kernel 0) runs an M beyond 65535
 * blocks of its token tile as several launches over consecutive tokens; the
 * wgmma family (kernel 1) takes up to 65535 blocks of `tokens` tokens (an
 * FPX_ERR_UNSUPPORTED_SHAPE naming M beyond; the library's own choice
 * takes the mma.sync family there).
 *
 * FP8 activations (x_dtype e4m3 or e5m2, sm_89 and later): X holds FP8
 * codes with FP32 scales (args->x_scales), Y = (Xq * Wq^T) * x_scale[m] *
 * w_scale[n] on FP8 tensor cores with FP32 accumulation. With e4m3 weights
 * and per-row scales this is W8A8 rowwise (FBGEMM f8f8bf16_rowwise, vLLM
 * W8A8); other weight formats run as W-eXmY/A-FP8, their codes converted
 * exactly to FP8 in registers: formats with E <= 4 and M <= 3 (FP4, FP5,
 * FP6, e4m3) become E4M3, e5m2 stays E5M2; any other format (e5m0 and e5m1,
 * whose top binade lands on E5M2's Inf/NaN codes, e3m4, ...) is
 * FPX_ERR_UNSUPPORTED_FORMAT.
 * X rows must be 16-byte aligned (K % 16 == 0 for FP8 X).
 *
 * Workspace: split-K needs M*N*split FP32 partials and one counter per output
 * tile; the wgmma family (kernel 1) a copy of X with its columns permuted,
 * M x K (K rounded up to 32) elements of X's type, at most 256 MB, and with
 * split-K M x N (both rounded up to its tiles) x split FP32 partials, at
 * most 256 MB (larger problems run in chunks of tokens). The context keeps one workspace per stream,
 * grown on demand: the
 * first call with a new (stream, size) allocates (do it before a CUDA graph
 * capture); warm calls allocate nothing. The call is asynchronous on
 * `stream`. Results of a split-K launch are deterministic (partials are
 * summed in split order).
 * ------------------------------------------------------------------------ */
/* A kernel configuration of fpx_gemm. Two families:
 *   kernel 0, mma.sync (every GPU): warps_n, warps_k, m_tiles, split_k;
 *     tokens and stages are ignored (the database stores them as 0).
 *   kernel 1, wgmma (sm_90 only: H100, H200): 128 weight rows x `tokens`
 *     tokens per block with a `stages`-deep ring of X in shared memory, K
 *     split over split_k blocks (0 means 1: configurations written before
 *     the family had split-K), or FPX_SPLIT_K_STREAM: every tile's K
 *     iterations shared evenly by one block per SM (stream-K; tiles that
 *     straddle two blocks are summed in the kernel); warps_n, warps_k and
 *     m_tiles are ignored. tokens is 64, 128 or 256 (at most 128 with
 *     group scales), stages 2..8, split_k 0..64 or FPX_SPLIT_K_STREAM; on
 *     any other GPU fpx_gemm returns FPX_ERR_UNSUPPORTED_DEVICE.
 * Initializers that name only the first four fields ({4, 1, 2, 1}) leave
 * kernel at 0 and keep meaning mma.sync; prefer designated initializers. */
#define FPX_SPLIT_K_STREAM (-1) /* wgmma split_k: stream-K over the SMs */
typedef struct fpx_wo_config {
  int warps_n; /* warps along N per block (16 rows each): 1, 2, 4, 8 */
  int warps_k; /* warps along K per block, reduced in shared memory: 1, 2, 4 */
  int m_tiles; /* 8-token tiles per block: 1, 2, 4, 8 */
  int split_k; /* blocks along K, 1..64, reduced in the kernel (both
                * kernels; for wgmma 0 also means 1, FPX_SPLIT_K_STREAM
                * stream-K) */
  int kernel;  /* 0 = mma.sync (the fields above), 1 = wgmma (sm_90) */
  int tokens;  /* wgmma only: tokens per block, 64, 128 or 256 */
  int stages;  /* wgmma only: depth of the shared-memory ring of X, 2..8 */
} fpx_wo_config;

typedef struct fpx_gemm_args {
  size_t struct_size;          /* sizeof(fpx_gemm_args) */
  const fpx_weights *weights;
  fpx_dtype x_dtype;           /* f16, bf16, or e4m3 / e5m2 (quantized X) */
  fpx_dtype y_dtype;           /* FPX_DTYPE_F16, FPX_DTYPE_BF16 or FPX_DTYPE_F32 */
  size_t m;                    /* tokens, >= 1 */
  fpx_devptr x;                /* [m, k] */
  fpx_devptr y;                /* [m, n] */
  const fpx_wo_config *config; /* NULL = the library's choice */
  /* FP8 x_dtype only (ignored otherwise): X's FP32 scales as
   * fpx_quantize_activations[_gpu] makes them, m entries, or one entry when
   * x_scale_per_tensor is nonzero. Callers built against an older fpx.h
   * (struct_size without these fields) get f16/bf16 only. */
  fpx_devptr x_scales;
  int x_scale_per_tensor;
} fpx_gemm_args;

/* Kernel choice: with args->config given, that configuration (either
 * family, see fpx_wo_config). Without it, the lookup order of fpx_ctx_stats:
 * a winner of the user database for this exact key, or one tuned on first
 * use, or a shipped winner of the exact M bucket runs as stored, whichever
 * family it is. A configuration from a fallback (the user database's or
 * the shipped database's nearest M bucket, or the heuristic) is replaced
 * on sm_90 GPUs (H100, H200) for M >= 32 by
 * the wgmma family (the token tile of 64, 128 or 256 per block and the
 * split of K that a model of waves of blocks puts first; 256 with per-row
 * scales only), unless the context has FPX_CTX_NO_WGMMA or the family does
 * not take the key. */
FPX_API fpx_status fpx_gemm(fpx_ctx *ctx, const fpx_gemm_args *args, fpx_stream stream);

/* The configuration fpx_gemm uses when args->config is NULL (the lookup
 * order of fpx_ctx_stats and the automatic wgmma choice, reported as
 * kernel 1; counted like a call). Passing it back as args->config runs the
 * same kernel. */
FPX_API fpx_status fpx_gemm_default_config(fpx_ctx *ctx, const fpx_gemm_args *args,
                                           fpx_wo_config *out_config);

/* Dequantizes the weights to a dense row-major [N,K] FP16 or BF16 matrix on
 * the device (asynchronous on `stream`). The weights must belong to ctx. */
FPX_API fpx_status fpx_dequant(fpx_ctx *ctx, const fpx_weights *weights,
                               fpx_dtype out_dtype, fpx_devptr out, fpx_stream stream);

#ifdef __cplusplus
}
#endif
#endif /* FPX_H */
