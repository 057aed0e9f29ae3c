/* mfp-plugin: fused CPU scans for MFNode(kernel="exp").
 *
 * The exp-kernel potential H[t] = sum_{i<=t} beta^(t-i) X[i] is the scan
 * A[t] = beta * A[t-1] + X[t] (A[-1] = 0), so one pass over X gives every
 * step's potential.  Tensors are row-major [T, N].
 *
 * Threads: each function splits its columns over `nthreads` OpenMP threads.
 * The library links the libgomp that PyTorch has already loaded, so it runs
 * on PyTorch's own (hot) OpenMP team instead of competing with it: a
 * separate pool would share the cores with OpenMP workers still spinning
 * after the previous ATen op.  Without OpenMP it runs on one thread.
 *
 * Loop order: columns are processed in blocks of `blk` (chosen so a block's
 * T rows fit in L2).  The inner loops run over contiguous columns, keeping the
 * running scan in a scratch row in L1, and write each output row directly;
 * when `stream` is set (large outputs that will not be re-read from cache)
 * float32 rows are written with non-temporal vector stores, which skip the
 * read-for-ownership and bring a pass to the traffic of a copy.  The backward
 * fuses the scan and the surrogate into one loop, keeps the block's g_h in
 * scratch for the reverse scan, and prefetches the next block's X meanwhile.
 * (Against the previous version, which staged rows and ran the surrogate as a
 * separate pass, this measured 6.4 -> 4.4 ms forward and 8.2 -> 6.4 ms backward
 * at T=16, N=2^20, 2 threads.)
 *
 *   mf_exp_forward_*      S[t] = [A[t] >= theta]                      (reads X, writes S)
 *   mf_exp_forward_potential_*  S[t] as above and H[t] = A[t]         (reads X, writes S and H: the
 *                         spikes are the forward's bits, H the potential kernel's, in one pass)
 *   mf_exp_backward_*     g_h[t] = g_s[t] * sigma'(A[t] - theta), then
 *                         g_x[t] = B[t], B[t] = beta * B[t+1] + g_h[t] (reads X, g_s; writes g_x)
 *                         gs_scalar = 1: g_s is one value broadcast over [T, N] (y.sum().backward())
 *   mf_exp_potential_*    H[t] = A[t]                                 (surrogates evaluated in torch)
 *   mf_exp_reverse_scan_* g_x[t] = B[t] from g_h (g_h may alias g_x)
 *
 * sigma' of the built-in surrogates (kind, p0, p1):
 *   0 ATan:        p0 / (1 + (p1 x)^2)                p0 = alpha/2, p1 = pi alpha/2
 *   1 Sigmoid:     p0 s (1 - s), s = 1/(1+exp(-p0 x)) p0 = alpha
 *   2 FastSigmoid: 1 / (1 + p0 |x|)^2                 p0 = slope
 *
 * Built with -ffp-contract=off: beta * a + x is rounded twice, as in the
 * streaming single-step mode (torch), and identically in forward and backward.
 * Every function returns 0, or -1 when its scratch memory cannot be allocated.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif

/* Scratch per call: at most (T + 2) rows of `blk` values; keep it within about 512 KiB of L2. */
#ifndef SCRATCH_BYTES
#define SCRATCH_BYTES (512 * 1024)
#endif
#ifndef MAX_BLK
#define MAX_BLK 4096
#endif
static int64_t block_width(int64_t T, size_t elem)
{
    int64_t blk = (int64_t)(SCRATCH_BYTES / ((size_t)(T + 2) * elem));
    blk = (blk / 64) * 64;
    if (blk < 64) blk = 64;
    if (blk > MAX_BLK) blk = MAX_BLK;
    return blk;
}

/* Stores of one output row.  When `stream` is set (large outputs that will not be re-read
 * from cache) float32 rows are written with non-temporal vector stores straight from the
 * scan's registers: no read-for-ownership and no staging copy.  Each helper computes
 *   fire:  v = beta a[j] + x[j]; a[j] = v; dst[j] = [v >= theta]
 *   scan:  v = beta a[j] + x[j]; a[j] = v; dst[j] = v
 * with the multiply and the add rounded separately (as -ffp-contract=off does in the scalar
 * tail), so every path gives the same bits.  `xr` may be `dst` (the in-place reverse
 * scan): each element is read before it is written. */
#if defined(__AVX512F__)
#define VEC_W 16
#define VEC_T __m512
#define VEC_SET1 _mm512_set1_ps
#define VEC_LOADU _mm512_loadu_ps
#define VEC_STOREU _mm512_storeu_ps
#define VEC_STREAM _mm512_stream_ps
#define VEC_FMA_FREE(b, a, x) _mm512_add_ps(_mm512_mul_ps((b), (a)), (x))
#define VEC_FIRE(v, th, one) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask((v), (th), _CMP_GE_OQ), (one))
#elif defined(__AVX__)
#define VEC_W 8
#define VEC_T __m256
#define VEC_SET1 _mm256_set1_ps
#define VEC_LOADU _mm256_loadu_ps
#define VEC_STOREU _mm256_storeu_ps
#define VEC_STREAM _mm256_stream_ps
#define VEC_FMA_FREE(b, a, x) _mm256_add_ps(_mm256_mul_ps((b), (a)), (x))
#define VEC_FIRE(v, th, one) _mm256_and_ps(_mm256_cmp_ps((v), (th), _CMP_GE_OQ), (one))
#endif

static void row_f32(int fire, float *restrict a, const float *xr, float *dst,
                    int64_t w, float beta, float theta, int stream)
{
    int64_t j = 0;
#if defined(VEC_W)
    if (stream && ((uintptr_t)dst % (VEC_W * sizeof(float))) == 0) {
        const VEC_T vb = VEC_SET1(beta), vt = VEC_SET1(theta), one = VEC_SET1(1.0f);
        for (; j + VEC_W <= w; j += VEC_W) {
            const VEC_T v = VEC_FMA_FREE(vb, VEC_LOADU(a + j), VEC_LOADU(xr + j));
            VEC_STOREU(a + j, v);
            VEC_STREAM(dst + j, fire ? VEC_FIRE(v, vt, one) : v);
        }
    }
#else
    (void)stream;
#endif
    if (fire) {
        for (; j < w; ++j) {
            const float v = beta * a[j] + xr[j];
            a[j] = v;
            dst[j] = (v >= theta) ? 1.0f : 0.0f;
        }
    } else {
        for (; j < w; ++j) dst[j] = a[j] = beta * a[j] + xr[j];
    }
}

/* float64 rows: ordinary stores (the vector paths above are float32 only). */
static void row_f64(int fire, double *restrict a, const double *xr, double *dst,
                    int64_t w, double beta, double theta, int stream)
{
    (void)stream;
    if (fire) {
        for (int64_t j = 0; j < w; ++j) {
            const double v = beta * a[j] + xr[j];
            a[j] = v;
            dst[j] = (v >= theta) ? 1.0 : 0.0;
        }
    } else {
        for (int64_t j = 0; j < w; ++j) dst[j] = a[j] = beta * a[j] + xr[j];
    }
}

/* bfloat16 storage (CPU autocast), float32 arithmetic: the same bits as converting the input
 * to float32, scanning in float32 and rounding the output back (round to nearest even; a NaN
 * becomes the quiet NaN 0x7FC0), without the two conversion passes over memory. */
static inline float bf16_load(uint16_t h)
{
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t bf16_round(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    const uint32_t rne = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return (uint16_t)(((u & 0x7fffffffu) > 0x7f800000u) ? 0x7fc0u : rne);
}

static void row_bf16(int fire, float *restrict a, const uint16_t *xr, uint16_t *dst, int64_t w,
                     float beta, float theta, int stream)
{
    (void)stream;
    if (fire) {
        for (int64_t j = 0; j < w; ++j) {
            const float v = beta * a[j] + bf16_load(xr[j]);
            a[j] = v;
            dst[j] = (v >= theta) ? (uint16_t)0x3f80u : (uint16_t)0;  /* 1.0 or 0.0 */
        }
    } else {
        for (int64_t j = 0; j < w; ++j) {
            const float v = beta * a[j] + bf16_load(xr[j]);
            a[j] = v;
            dst[j] = bf16_round(v);
        }
    }
}

/* The backward's reverse scan reads its g_h from float scratch. */
static void row_scratch_bf16(float *restrict a, const float *restrict gr, uint16_t *restrict dst,
                             int64_t w, float beta, int stream)
{
    (void)stream;
    for (int64_t j = 0; j < w; ++j) {
        const float v = beta * a[j] + gr[j];
        a[j] = v;
        dst[j] = bf16_round(v);
    }
}
/* H rows of the fused forward: the scan row `a` as stored values (bfloat16: rounded as above). */
static void store_row_f32(const float *restrict a, float *restrict dst, int64_t w)
{
    memcpy(dst, a, (size_t)w * sizeof(float));
}

static void store_row_f64(const double *restrict a, double *restrict dst, int64_t w)
{
    memcpy(dst, a, (size_t)w * sizeof(double));
}

static void store_row_bf16(const float *restrict a, uint16_t *restrict dst, int64_t w)
{
    for (int64_t j = 0; j < w; ++j) dst[j] = bf16_round(a[j]);
}

#define row_scratch_f32(a, gr, dst, w, beta, stream) row_f32(0, a, gr, dst, w, beta, 0, stream)
#define row_scratch_f64(a, gr, dst, w, beta, stream) row_f64(0, a, gr, dst, w, beta, 0, stream)
#define LOAD_PLAIN(v) (v)

/* Prefetch `bytes` from `p` into L2 (a hint: never faults, no-op for bytes <= 0). */
static void prefetch_l2(const void *p, int64_t bytes)
{
    const char *c = (const char *)p;
    for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(c + o, 0, 2);
}

static void store_fence(int stream)
{
#if defined(__AVX__)
    if (stream) _mm_sfence();  /* order the non-temporal stores before the caller reads them */
#else
    (void)stream;
#endif
}

/* Runs BODY (which sees c0, w and the thread's scratch) for every column block, in parallel. */
#define FOR_EACH_BLOCK(REAL, SCRATCH_ROWS, ...)                                                     \
    const int64_t blk = block_width(T, sizeof(REAL));                                              \
    const int64_t nblk = (N + blk - 1) / blk;                                                      \
    int failed = 0;                                                                                \
    (void)nthreads;                                                                                \
    PARALLEL_REGION                                                                                \
    {                                                                                              \
        REAL *scratch = (REAL *)malloc((size_t)(SCRATCH_ROWS) * (size_t)blk * sizeof(REAL));       \
        PARALLEL_FOR                                                                               \
        for (int64_t ib = 0; ib < nblk; ++ib) {                                                    \
            if (!scratch) { failed = 1; continue; }                                                \
            const int64_t c0 = ib * blk;                                                           \
            const int64_t w = (N - c0 < blk) ? (N - c0) : blk;                                     \
            __VA_ARGS__                                                                            \
        }                                                                                          \
        store_fence(stream);                                                                       \
        free(scratch);                                                                             \
    }                                                                                              \
    return failed ? -1 : 0;

#if defined(_OPENMP)
/* uses the enclosing function's `nthreads` and FOR_EACH_BLOCK's `failed` */
#define PARALLEL_REGION _Pragma("omp parallel num_threads(nthreads) reduction(|:failed)")
#define PARALLEL_FOR _Pragma("omp for schedule(static)")
#else
#define PARALLEL_REGION
#define PARALLEL_FOR
#endif

/* One step of the backward's forward pass, fused: v = beta a + x, a = v, d = v - theta,
 * gh[j] = g * sigma'(d), g = gs[j] (or gs[0] when gs_scalar); one loop per case, branch-free. */
#define PHASE1_LOOP(REAL, LD, G, SIGMA)                                                    \
    for (int64_t j = 0; j < w; ++j) {                                                              \
        const REAL v = beta * a[j] + LD(xr[j]);                                                    \
        a[j] = v;                                                                                  \
        const REAL d = v - theta;                                                                  \
        gh[j] = (G) * (SIGMA);                                                                     \
    }

/* sigma'(d) of the built-in surrogates (the table at the top), for PHASE1_LOOP's `d`. */
#define SIGMA_ATAN(REAL) (p0 / ((REAL)1 + (p1 * d) * (p1 * d)))
#define SIGMA_SIGMOID(REAL, EXPF) \
    (p0 * ((REAL)1 / ((REAL)1 + EXPF(-p0 * d))) * ((REAL)1 - (REAL)1 / ((REAL)1 + EXPF(-p0 * d))))
#define SIGMA_FAST_SIGMOID(REAL, FABSF) \
    ((REAL)1 / (((REAL)1 + p0 * FABSF(d)) * ((REAL)1 + p0 * FABSF(d))))

#define DEFINE_SCANS(SUF, STORE, REAL, LD, EXPF, FABSF)                                            \
int mf_exp_forward_##SUF(const STORE *x, STORE *s, int64_t T, int64_t N, double beta_d,              \
                         double theta_d, int nthreads, int stream)                                 \
{                                                                                                  \
    const REAL beta = (REAL)beta_d, theta = (REAL)theta_d;                                         \
    FOR_EACH_BLOCK(REAL, 1, {                                                                      \
        REAL *restrict a = scratch;                                                                \
        for (int64_t j = 0; j < w; ++j) a[j] = 0;                                                  \
        for (int64_t t = 0; t < T; ++t)                                                            \
            row_##SUF(1, a, x + t * N + c0, s + t * N + c0, w, beta, theta, stream);               \
    })                                                                                             \
}                                                                                                  \
                                                                                                   \
/* Spikes and potential in one pass: the row's scan is left in `a`, then copied out as H. */        \
int mf_exp_forward_potential_##SUF(const STORE *x, STORE *s, STORE *h, int64_t T, int64_t N,         \
                                   double beta_d, double theta_d, int nthreads, int stream)        \
{                                                                                                  \
    const REAL beta = (REAL)beta_d, theta = (REAL)theta_d;                                         \
    FOR_EACH_BLOCK(REAL, 1, {                                                                      \
        REAL *restrict a = scratch;                                                                \
        for (int64_t j = 0; j < w; ++j) a[j] = 0;                                                  \
        for (int64_t t = 0; t < T; ++t) {                                                          \
            row_##SUF(1, a, x + t * N + c0, s + t * N + c0, w, beta, theta, stream);               \
            store_row_##SUF(a, h + t * N + c0, w);                                                 \
        }                                                                                          \
    })                                                                                             \
}                                                                                                  \
                                                                                                   \
int mf_exp_potential_##SUF(const STORE *x, STORE *h, int64_t T, int64_t N, double beta_d,            \
                           int nthreads, int stream)                                               \
{                                                                                                  \
    const REAL beta = (REAL)beta_d;                                                                \
    FOR_EACH_BLOCK(REAL, 1, {                                                                      \
        REAL *restrict a = scratch;                                                                \
        for (int64_t j = 0; j < w; ++j) a[j] = 0;                                                  \
        for (int64_t t = 0; t < T; ++t)                                                            \
            row_##SUF(0, a, x + t * N + c0, h + t * N + c0, w, beta, 0, stream);                   \
    })                                                                                             \
}                                                                                                  \
                                                                                                   \
/* g_h may alias g_x: each row is read into the scratch before it is overwritten. */              \
int mf_exp_reverse_scan_##SUF(const STORE *g_h, STORE *g_x, int64_t T, int64_t N, double beta_d,     \
                              int nthreads, int stream)                                            \
{                                                                                                  \
    const REAL beta = (REAL)beta_d;                                                                \
    FOR_EACH_BLOCK(REAL, 1, {                                                                      \
        REAL *restrict b = scratch;                                                                \
        for (int64_t j = 0; j < w; ++j) b[j] = 0;                                                  \
        for (int64_t t = T - 1; t >= 0; --t)                                                       \
            row_##SUF(0, b, g_h + t * N + c0, g_x + t * N + c0, w, beta, 0, stream);               \
    })                                                                                             \
}                                                                                                  \
                                                                                                   \
static void phase1_##SUF(int kind, REAL p0, REAL p1, REAL *restrict a, const STORE *restrict xr,    \
                         const STORE *restrict gs, int gs_scalar, REAL *restrict gh, int64_t w,     \
                         REAL beta, REAL theta)                                                    \
{                                                                                                  \
    const REAL g0 = LD(gs[0]);                                                                     \
    if (kind == 0) {                                                                               \
        if (gs_scalar) { PHASE1_LOOP(REAL, LD, g0, SIGMA_ATAN(REAL)) }                                 \
        else { PHASE1_LOOP(REAL, LD, LD(gs[j]), SIGMA_ATAN(REAL)) }                                        \
    } else if (kind == 1) {                                                                        \
        if (gs_scalar) { PHASE1_LOOP(REAL, LD, g0, SIGMA_SIGMOID(REAL, EXPF)) }                        \
        else { PHASE1_LOOP(REAL, LD, LD(gs[j]), SIGMA_SIGMOID(REAL, EXPF)) }                               \
    } else {                                                                                       \
        if (gs_scalar) { PHASE1_LOOP(REAL, LD, g0, SIGMA_FAST_SIGMOID(REAL, FABSF)) }                  \
        else { PHASE1_LOOP(REAL, LD, LD(gs[j]), SIGMA_FAST_SIGMOID(REAL, FABSF)) }                         \
    }                                                                                              \
}                                                                                                  \
                                                                                                   \
int mf_exp_backward_##SUF(const STORE *x, const STORE *g_s, int gs_scalar, STORE *g_x, int64_t T,     \
                          int64_t N, double beta_d, double theta_d, int kind, double p0_d,         \
                          double p1_d, int nthreads, int stream)                                   \
{                                                                                                  \
    const REAL beta = (REAL)beta_d, theta = (REAL)theta_d, p0 = (REAL)p0_d, p1 = (REAL)p1_d;       \
    /* scratch: a (accumulator, then B), then T rows of the block's g_h */                         \
    FOR_EACH_BLOCK(REAL, T + 1, {                                                                  \
        REAL *restrict a = scratch, *restrict gh = scratch + blk;                                  \
        for (int64_t j = 0; j < w; ++j) a[j] = 0;                                                  \
        for (int64_t t = 0; t < T; ++t)                                                            \
            phase1_##SUF(kind, p0, p1, a, x + t * N + c0, gs_scalar ? g_s : g_s + t * N + c0,      \
                         gs_scalar, gh + t * blk, w, beta, theta);                                 \
        /* Reverse scan over the block's g_h rows, still in cache.  It reads no memory, so     \
         * with a broadcast g_s it prefetches the next block's X into L2 meanwhile (with a full    \
         * g_s the extra streams crowded L2: measured 5% slower, so not then). */                 \
        const int64_t next_w = (N - c0 - w < blk) ? (N - c0 - w) : blk;                           \
        for (int64_t j = 0; j < w; ++j) a[j] = 0;                                                  \
        for (int64_t t = T - 1; t >= 0; --t) {                                                     \
            if (gs_scalar)                                                                         \
                prefetch_l2(x + t * N + c0 + w, next_w * (int64_t)sizeof(STORE));                  \
            row_scratch_##SUF(a, gh + t * blk, g_x + t * N + c0, w, beta, stream);                       \
        }                                                                                          \
    })                                                                                             \
}

DEFINE_SCANS(f32, float, float, LOAD_PLAIN, expf, fabsf)
DEFINE_SCANS(f64, double, double, LOAD_PLAIN, exp, fabs)
DEFINE_SCANS(bf16, uint16_t, float, bf16_load, expf, fabsf)

/* ABI version: the loader checks it, so a stale cached library is never used. */
int mf_exp_cpu_abi_version(void) { return 6; }

/* 1 when built with OpenMP (the columns are split over threads), else 0. */
int mf_exp_cpu_has_openmp(void)
{
#if defined(_OPENMP)
    return 1;
#else
    return 0;
#endif
}
