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
 * T rows fit in L2).  The inner loops run over contiguous columns of small
 * scratch rows (the compiler vectorises them); each finished row is copied
 * to its destination, with non-temporal stores when `stream` is set (large
 * outputs that will not be re-read from cache: this skips the
 * read-for-ownership and brings a pass to the traffic of ReLU).
 *
 *   mf_exp_forward_*      S[t] = [A[t] >= theta]                      (reads X, writes S)
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

/* Scratch per call: (T + 2) rows of `blk` values; keep it within about 512 KiB of L2. */
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

/* memcpy whose stores bypass the cache (AVX non-temporal) when `stream` is set. */
static void store_row(void *dst, const void *src, size_t bytes, int stream)
{
#if defined(__AVX__)
    if (stream) {
        char *d = (char *)dst;
        const char *s = (const char *)src;
        size_t head = (size_t)((32 - ((uintptr_t)d & 31)) & 31);
        if (head > bytes) head = bytes;
        memcpy(d, s, head);
        d += head; s += head; bytes -= head;
        for (; bytes >= 32; bytes -= 32, d += 32, s += 32)
            _mm256_stream_si256((__m256i *)d, _mm256_loadu_si256((const __m256i *)s));
        memcpy(d, s, bytes);
        return;
    }
#else
    (void)stream;
#endif
    memcpy(dst, src, bytes);
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

#define DEFINE_SCANS(SUF, REAL, EXPF, FABSF)                                                        \
int mf_exp_forward_##SUF(const REAL *x, REAL *s, int64_t T, int64_t N, double beta_d,              \
                         double theta_d, int nthreads, int stream)                                 \
{                                                                                                  \
    const REAL beta = (REAL)beta_d, theta = (REAL)theta_d;                                         \
    FOR_EACH_BLOCK(REAL, 2, {                                                                      \
        REAL *restrict a = scratch, *restrict row = scratch + blk;                                 \
        for (int64_t j = 0; j < w; ++j) a[j] = 0;                                                  \
        for (int64_t t = 0; t < T; ++t) {                                                          \
            const REAL *restrict xr = x + t * N + c0;                                              \
            for (int64_t j = 0; j < w; ++j) {                                                      \
                const REAL v = beta * a[j] + xr[j];                                                \
                a[j] = v;                                                                          \
                row[j] = (v >= theta) ? (REAL)1 : (REAL)0;                                         \
            }                                                                                      \
            store_row(s + t * N + c0, row, (size_t)w * sizeof(REAL), stream);                      \
        }                                                                                          \
    })                                                                                             \
}                                                                                                  \
                                                                                                   \
int mf_exp_potential_##SUF(const REAL *x, REAL *h, int64_t T, int64_t N, double beta_d,            \
                           int nthreads, int stream)                                               \
{                                                                                                  \
    const REAL beta = (REAL)beta_d;                                                                \
    FOR_EACH_BLOCK(REAL, 1, {                                                                      \
        REAL *restrict a = scratch;                                                                \
        for (int64_t j = 0; j < w; ++j) a[j] = 0;                                                  \
        for (int64_t t = 0; t < T; ++t) {                                                          \
            const REAL *restrict xr = x + t * N + c0;                                              \
            for (int64_t j = 0; j < w; ++j) a[j] = beta * a[j] + xr[j];                            \
            store_row(h + t * N + c0, a, (size_t)w * sizeof(REAL), stream);                        \
        }                                                                                          \
    })                                                                                             \
}                                                                                                  \
                                                                                                   \
/* g_h may alias g_x: each row is read into the scratch before it is overwritten. */              \
int mf_exp_reverse_scan_##SUF(const REAL *g_h, REAL *g_x, int64_t T, int64_t N, double beta_d,     \
                              int nthreads, int stream)                                            \
{                                                                                                  \
    const REAL beta = (REAL)beta_d;                                                                \
    FOR_EACH_BLOCK(REAL, 1, {                                                                      \
        REAL *restrict b = scratch;                                                                \
        for (int64_t j = 0; j < w; ++j) b[j] = 0;                                                  \
        for (int64_t t = T - 1; t >= 0; --t) {                                                     \
            const REAL *gr = g_h + t * N + c0;                                                     \
            for (int64_t j = 0; j < w; ++j) b[j] = beta * b[j] + gr[j];                            \
            store_row(g_x + t * N + c0, b, (size_t)w * sizeof(REAL), stream);                      \
        }                                                                                          \
    })                                                                                             \
}                                                                                                  \
                                                                                                   \
/* gh[j] = g * sigma'(d[j]), g = gs[j] (or gs[0] when gs_scalar); one loop per case, branch-free. */\
static void surrogate_row_##SUF(int kind, REAL p0, REAL p1, const REAL *restrict d,                \
                                const REAL *restrict gs, int gs_scalar, REAL *restrict gh,         \
                                int64_t w)                                                         \
{                                                                                                  \
    const int64_t step = gs_scalar ? 0 : 1;                                                        \
    if (kind == 0) {                                                                               \
        if (step) for (int64_t j = 0; j < w; ++j) {                                                \
            const REAL z = p1 * d[j];                                                              \
            gh[j] = gs[j] * (p0 / ((REAL)1 + z * z));                                              \
        } else for (int64_t j = 0; j < w; ++j) {                                                   \
            const REAL z = p1 * d[j];                                                              \
            gh[j] = gs[0] * (p0 / ((REAL)1 + z * z));                                              \
        }                                                                                          \
    } else if (kind == 1) {                                                                        \
        for (int64_t j = 0; j < w; ++j) {                                                          \
            const REAL sg = (REAL)1 / ((REAL)1 + EXPF(-p0 * d[j]));                                \
            gh[j] = gs[j * step] * (p0 * sg * ((REAL)1 - sg));                                     \
        }                                                                                          \
    } else {                                                                                       \
        if (step) for (int64_t j = 0; j < w; ++j) {                                                \
            const REAL q = (REAL)1 + p0 * FABSF(d[j]);                                             \
            gh[j] = gs[j] * ((REAL)1 / (q * q));                                                   \
        } else for (int64_t j = 0; j < w; ++j) {                                                   \
            const REAL q = (REAL)1 + p0 * FABSF(d[j]);                                             \
            gh[j] = gs[0] * ((REAL)1 / (q * q));                                                   \
        }                                                                                          \
    }                                                                                              \
}                                                                                                  \
                                                                                                   \
int mf_exp_backward_##SUF(const REAL *x, const REAL *g_s, int gs_scalar, REAL *g_x, int64_t T,     \
                          int64_t N, double beta_d, double theta_d, int kind, double p0_d,         \
                          double p1_d, int nthreads, int stream)                                   \
{                                                                                                  \
    const REAL beta = (REAL)beta_d, theta = (REAL)theta_d, p0 = (REAL)p0_d, p1 = (REAL)p1_d;       \
    /* scratch: a (accumulator, then B), d (A - theta), then T rows of the block's g_h */           \
    FOR_EACH_BLOCK(REAL, T + 2, {                                                                  \
        REAL *restrict a = scratch, *restrict d = scratch + blk, *restrict gh = scratch + 2 * blk; \
        for (int64_t j = 0; j < w; ++j) a[j] = 0;                                                  \
        for (int64_t t = 0; t < T; ++t) {                                                          \
            const REAL *restrict xr = x + t * N + c0;                                              \
            for (int64_t j = 0; j < w; ++j) {                                                      \
                const REAL v = beta * a[j] + xr[j];                                                \
                a[j] = v;                                                                          \
                d[j] = v - theta;                                                                  \
            }                                                                                      \
            const REAL *gs_row = gs_scalar ? g_s : g_s + t * N + c0;                               \
            surrogate_row_##SUF(kind, p0, p1, d, gs_row, gs_scalar, gh + t * blk, w);              \
        }                                                                                          \
        /* Reverse scan over the block's g_h rows, still in cache. */                              \
        for (int64_t j = 0; j < w; ++j) a[j] = 0;                                                  \
        for (int64_t t = T - 1; t >= 0; --t) {                                                     \
            const REAL *restrict gr = gh + t * blk;                                                \
            for (int64_t j = 0; j < w; ++j) a[j] = beta * a[j] + gr[j];                            \
            store_row(g_x + t * N + c0, a, (size_t)w * sizeof(REAL), stream);                      \
        }                                                                                          \
    })                                                                                             \
}

DEFINE_SCANS(f32, float, expf, fabsf)
DEFINE_SCANS(f64, double, exp, fabs)

/* ABI version: the loader checks it, so a stale cached library is never used. */
int mf_exp_cpu_abi_version(void) { return 3; }

/* 1 when built with OpenMP (the columns are split over threads), else 0. */
int mf_exp_cpu_has_openmp(void)
{
#if defined(_OPENMP)
    return 1;
#else
    return 0;
#endif
}
