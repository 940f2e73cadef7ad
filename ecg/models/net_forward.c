/* The record-level model's network (ecg.models.record.build members, averaged), computed for many
 * beats with the processor's 8-wide fused multiply-adds, or 16-wide where it has AVX-512 (see
 * net_forward.py).
 *
 * Every layer is one shape of product: rows of an input times a (K x n_out) kernel, plus a bias,
 * then ReLU. A "same" convolution over channels-last samples is such a product whose row t starts
 * at sample t of the zero-padded input and runs K = taps x c_in values on (the rows overlap, so no
 * copy of patches is made); a dense layer's rows are the beats of a block. One kernel (tile) holds a
 * block of 3 rows x 32 outputs (or 6 x 16, 12 x 8) in twelve registers while K runs, so each value
 * loaded feeds several multiply-adds. Max-pooling follows in a pass over the few outputs kept. With
 * AVX-512 the widths of 32 and 16 take 16-wide tiles of up to 12 rows (24 of the 32 registers
 * accumulate), a width of 8 the 8-wide tile.
 *
 * Layout of the arguments (net_forward.py builds them):
 *   shape = [members, window, channels, n_features, n_conv, n_dense,
 *            per convolution: taps, c_in, c_out, pool, relu,
 *            per dense layer: n_in, n_out (a multiple of 8), n_real, activation (0 linear, 1 relu, 2 softmax)]
 *   weights = per member, per layer: kernel (K x n_out, row-major), then bias (n_out); a dense layer's
 *   padding columns are zero. The first dense layer reads [flattened convolutions, features].
 */
#include <stdint.h>

#if !defined(__x86_64__)
/* Other processors: the caller keeps TensorFlow's graph. */
int net_supported(void) { return 0; }
int net_lanes(void) { return 0; }
int forward_lanes(const float *morph, const float *features, int64_t n, const int64_t *shape, const float *weights,
                  float *out, int lanes)
{
    (void)morph, (void)features, (void)n, (void)shape, (void)weights, (void)out, (void)lanes;
    return -1;
}
int forward(const float *morph, const float *features, int64_t n, const int64_t *shape, const float *weights,
            float *out)
{
    return forward_lanes(morph, features, n, shape, weights, out, 0);
}
#else
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TARGET __attribute__((target("avx2,fma")))
#define TARGET512 __attribute__((target("avx512f,avx2,fma")))
#define BLOCK 48 /* beats per block: a multiple of the dense layers' tiles' rows (3, 6, 12; 12 at 16 lanes) */
_Static_assert(BLOCK % 12 == 0, "the dense layers' tiles must not run past a block (their slack is 0)");
#define MAX_LAYERS 8

int net_supported(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* The widest vectors the processor offers the kernel: 16 floats (AVX-512), 8 (AVX2 and FMA) or 0. */
int net_lanes(void)
{
    if (!net_supported())
        return 0;
    return __builtin_cpu_supports("avx512f") ? 16 : 8;
}

/* y[t][o] = start[t * ldstart + o] + sum_k a[t * lda + k] * w[k * ldw + o] for t < T, o < 8V (V and T
 * constants); ``start`` is the bias (ldstart 0) or the sums so far (y itself). */
static inline __attribute__((always_inline)) TARGET void tile(const float *a, int64_t lda, int64_t K, const float *w,
                                                              int64_t ldw, const float *start, int64_t ldstart,
                                                              float *y, int64_t ldy, const int V, const int T)
{
    __m256 acc[12][4];
    for (int t = 0; t < T; t++)
        for (int v = 0; v < V; v++)
            acc[t][v] = _mm256_loadu_ps(start + t * ldstart + 8 * v);
    /* Twelve accumulators, the T (or V) values of a step held in registers and one more loaded at a
     * time: at most 16 registers, none spilled. The empty asm keeps each loaded vector in a register
     * (the compiler would otherwise read it from memory once per multiply-add). */
    for (int64_t k = 0; k < K; k++) {
        const float *wk = w + k * ldw;
        if (T <= V) {
            __m256 at[12];
            for (int t = 0; t < T; t++)
                at[t] = _mm256_broadcast_ss(a + t * lda + k);
            for (int v = 0; v < V; v++) {
                __m256 wv = _mm256_loadu_ps(wk + 8 * v);
                __asm__("" : "+x"(wv));
                for (int t = 0; t < T; t++)
                    acc[t][v] = _mm256_fmadd_ps(at[t], wv, acc[t][v]);
            }
        } else {
            __m256 wv[4];
            for (int v = 0; v < V; v++) {
                wv[v] = _mm256_loadu_ps(wk + 8 * v);
                __asm__("" : "+x"(wv[v]));
            }
            for (int t = 0; t < T; t++) {
                __m256 at = _mm256_broadcast_ss(a + t * lda + k);
                __asm__("" : "+x"(at));
                for (int v = 0; v < V; v++)
                    acc[t][v] = _mm256_fmadd_ps(at, wv[v], acc[t][v]);
            }
        }
    }
    for (int t = 0; t < T; t++)
        for (int v = 0; v < V; v++)
            _mm256_storeu_ps(y + t * ldy + 8 * v, acc[t][v]);
}

#define K_SLICE 128 /* a slice of 128 kernel rows x 32 outputs is 16 KB: it stays in L1 while the rows pass */

/* Rows [0, rows) rounded up to the tile's rows (the caller's buffers hold 12 more rows), the kernel
 * taken K_SLICE rows at a time (the first dense layer's 475 x 64 kernel would otherwise be read from
 * L2 by every tile), then ReLU in a pass of its own: a zero kept in a register through the tiles
 * would spill an accumulator. */
static TARGET void product(const float *a, int64_t lda, int64_t K, const float *w, int64_t n_out, const float *bias,
                           float *y, int64_t ldy, int64_t rows, int relu, int64_t slack)
{
    (void)slack; /* its tiles (3, 6 and 12 rows) fit the 12 spare rows of every buffer */
    for (int64_t k0 = 0; k0 < K; k0 += K_SLICE) {
        int64_t k = K - k0 < K_SLICE ? K - k0 : K_SLICE;
        const float *as = a + k0, *ws = w + k0 * n_out;
        int64_t o = 0;
#define TILES(V, T)                                                                                           \
    for (int64_t t = 0; t < rows; t += T) {                                                                   \
        float *yt = y + t * ldy + o;                                                                          \
        tile(as + t * lda, lda, k, ws + o, n_out, k0 ? yt : bias + o, k0 ? ldy : 0, yt, ldy, V, T);           \
    }
        for (; o + 32 <= n_out; o += 32)
            TILES(4, 3)
        for (; o + 16 <= n_out; o += 16)
            TILES(2, 6)
        for (; o + 8 <= n_out; o += 8)
            TILES(1, 12)
#undef TILES
    }
    if (relu) {
        __m256 zero = _mm256_setzero_ps();
        for (int64_t t = 0; t < rows; t++)
            for (int64_t o = 0; o < n_out; o += 8)
                _mm256_storeu_ps(y + t * ldy + o, _mm256_max_ps(_mm256_loadu_ps(y + t * ldy + o), zero));
    }
}

/* tile() with 16-wide vectors: T rows x 16V outputs (T at most 12, V at most 2: 24 accumulators of
 * the 32 registers). */
static inline __attribute__((always_inline)) TARGET512 void tile512(const float *a, int64_t lda, int64_t K,
                                                                    const float *w, int64_t ldw, const float *start,
                                                                    int64_t ldstart, float *y, int64_t ldy,
                                                                    const int V, const int T)
{
    __m512 acc[12][2];
    for (int t = 0; t < T; t++)
        for (int v = 0; v < V; v++)
            acc[t][v] = _mm512_loadu_ps(start + t * ldstart + 16 * v);
    for (int64_t k = 0; k < K; k++) {
        const float *wk = w + k * ldw;
        __m512 wv[2];
        for (int v = 0; v < V; v++) {
            wv[v] = _mm512_loadu_ps(wk + 16 * v);
            __asm__("" : "+v"(wv[v]));
        }
        for (int t = 0; t < T; t++) {
            __m512 at = _mm512_set1_ps(a[t * lda + k]);
            for (int v = 0; v < V; v++)
                acc[t][v] = _mm512_fmadd_ps(at, wv[v], acc[t][v]);
        }
    }
    for (int t = 0; t < T; t++)
        for (int v = 0; v < V; v++)
            _mm512_storeu_ps(y + t * ldy + 16 * v, acc[t][v]);
}

/* Rows per tile, of ``choices`` (largest first): the fewest rows computed in all, at most ``slack``
 * beyond ``rows`` (the buffers' spare rows); the larger tile where two compute as many. */
static int64_t tile_rows(int64_t rows, int64_t slack, const int64_t *choices, int n)
{
    int64_t best = 0, best_rows = 0;
    for (int i = 0; i < n; i++) {
        int64_t padded = (rows + choices[i] - 1) / choices[i] * choices[i];
        if (padded - rows <= slack && (!best || padded < best_rows))
            best = choices[i], best_rows = padded;
    }
    return best;
}

/* product() with the 16-wide tiles where the outputs fill them (the rest 8-wide), each as tall as
 * suits ``rows``: a convolution's 54 or 26 rows take tiles of 9 (of 12, 60 and 36 rows would be
 * computed; the network 13 % faster). Tiles of 18 rows for 16 outputs were slower than of 12.
 * ``slack``: rows the buffers hold beyond ``rows``: 12 for a convolution (tiles of 6 always fit), 0 for
 * the dense layers, whose BLOCK rows tiles of 12 fill (asserted above), so a fit is always found. */
static TARGET512 void product512(const float *a, int64_t lda, int64_t K, const float *w, int64_t n_out,
                                 const float *bias, float *y, int64_t ldy, int64_t rows, int relu, int64_t slack)
{
    static const int64_t choices[] = {12, 9, 6};
    int64_t tall = tile_rows(rows, slack, choices, 3);
    for (int64_t k0 = 0; k0 < K; k0 += K_SLICE) {
        int64_t k = K - k0 < K_SLICE ? K - k0 : K_SLICE;
        const float *as = a + k0, *ws = w + k0 * n_out;
        int64_t o = 0;
#define TILES(fn, V, T)                                                                                       \
    for (int64_t t = 0; t < rows; t += T) {                                                                   \
        float *yt = y + t * ldy + o;                                                                          \
        fn(as + t * lda, lda, k, ws + o, n_out, k0 ? yt : bias + o, k0 ? ldy : 0, yt, ldy, V, T);             \
    }
#define TALL_TILES(V)                                                                                         \
    if (tall == 12)                                                                                           \
        TILES(tile512, V, 12)                                                                                 \
    else if (tall == 9)                                                                                       \
        TILES(tile512, V, 9)                                                                                  \
    else                                                                                                      \
        TILES(tile512, V, 6)
        for (; o + 32 <= n_out; o += 32) {
            TALL_TILES(2)
        }
        for (; o + 16 <= n_out; o += 16) {
            TALL_TILES(1)
        }
        for (; o + 8 <= n_out; o += 8)
            TILES(tile, 1, 12)
#undef TALL_TILES
#undef TILES
    }
    if (relu) {
        __m512 zero = _mm512_setzero_ps();
        for (int64_t t = 0; t < rows; t++) {
            int64_t o = 0;
            for (; o + 16 <= n_out; o += 16)
                _mm512_storeu_ps(y + t * ldy + o, _mm512_max_ps(_mm512_loadu_ps(y + t * ldy + o), zero));
            for (; o < n_out; o += 8)
                _mm256_storeu_ps(y + t * ldy + o,
                                 _mm256_max_ps(_mm256_loadu_ps(y + t * ldy + o), _mm512_castps512_ps256(zero)));
        }
    }
}

typedef struct {
    int64_t taps, c_in, c_out, pool, relu, steps, kept, left;
} Conv;

typedef struct {
    int64_t n_in, n_out, n_real, activation;
} Dense;

/* out[t][c] = max over q < pool of y[t * pool + q][c], for t < steps (c_out a multiple of 8), then the
 * convolution's ReLU (max-pooling and ReLU commute: both take maxima). */
static TARGET void pool(const float *y, const Conv *c, int64_t steps, float *out)
{
    __m256 lowest = _mm256_set1_ps(c->relu ? 0.0f : -INFINITY);
    for (int64_t t = 0; t < steps; t++)
        for (int64_t ch = 0; ch < c->c_out; ch += 8) {
            const float *src = y + t * c->pool * c->c_out + ch;
            __m256 v = _mm256_max_ps(_mm256_loadu_ps(src), lowest);
            for (int64_t q = 1; q < c->pool; q++)
                v = _mm256_max_ps(v, _mm256_loadu_ps(src + q * c->c_out));
            _mm256_storeu_ps(out + t * c->c_out + ch, v);
        }
}

/* pool() 16 channels at a time where they fill a vector (the rest 8 at a time). */
static TARGET512 void pool512(const float *y, const Conv *c, int64_t steps, float *out)
{
    __m512 lowest = _mm512_set1_ps(c->relu ? 0.0f : -INFINITY);
    int64_t wide = c->c_out - c->c_out % 16;
    for (int64_t t = 0; t < steps; t++) {
        for (int64_t ch = 0; ch < wide; ch += 16) {
            const float *src = y + t * c->pool * c->c_out + ch;
            __m512 v = _mm512_max_ps(_mm512_loadu_ps(src), lowest);
            for (int64_t q = 1; q < c->pool; q++)
                v = _mm512_max_ps(v, _mm512_loadu_ps(src + q * c->c_out));
            _mm512_storeu_ps(out + t * c->c_out + ch, v);
        }
        if (wide < c->c_out) { /* the last 8 channels */
            const float *src = y + t * c->pool * c->c_out + wide;
            __m256 v = _mm256_max_ps(_mm256_loadu_ps(src), _mm512_castps512_ps256(lowest));
            for (int64_t q = 1; q < c->pool; q++)
                v = _mm256_max_ps(v, _mm256_loadu_ps(src + q * c->c_out));
            _mm256_storeu_ps(out + t * c->c_out + wide, v);
        }
    }
}

/* out (n x n_real of the last layer) = the members' mean probabilities, with vectors of ``lanes``
 * floats (16 or 8; 0: the widest the processor has). Returns 0, or -1 when the shapes are not
 * supported (every width a multiple of 8, the last layer a softmax), the processor lacks the lanes
 * asked for, or memory fails. */
TARGET int forward_lanes(const float *morph, const float *features, int64_t n, const int64_t *shape,
                         const float *weights, float *out, int lanes)
{
    int widest_lanes = net_lanes();
    if (lanes == 0)
        lanes = widest_lanes;
    if (!widest_lanes || (lanes != 8 && lanes != 16) || lanes > widest_lanes)
        return -1;
    void (*mul)(const float *, int64_t, int64_t, const float *, int64_t, const float *, float *, int64_t, int64_t,
                int, int64_t) = lanes == 16 ? product512 : product;
    void (*pooled)(const float *, const Conv *, int64_t, float *) = lanes == 16 ? pool512 : pool;
    int64_t members = shape[0], window = shape[1], channels = shape[2], n_features = shape[3];
    int64_t n_conv = shape[4], n_dense = shape[5];
    if (n_conv < 1 || n_conv > MAX_LAYERS || n_dense < 1 || n_dense > MAX_LAYERS || members < 1 || window < 1 ||
        channels < 1 || n_features < 0)
        return -1;
    Conv conv[MAX_LAYERS];
    Dense dense[MAX_LAYERS];
    const int64_t *s = shape + 6;
    int64_t length = window, c_prev = channels, biggest = 0;
    for (int64_t i = 0; i < n_conv; i++, s += 5) {
        Conv *c = &conv[i];
        c->taps = s[0], c->c_in = s[1], c->c_out = s[2], c->pool = s[3], c->relu = s[4];
        if (c->c_in != c_prev || c->c_out < 8 || c->c_out % 8 || c->pool < 1 || c->taps < 1)
            return -1;
        c->steps = length;
        c->kept = length / c->pool * c->pool; /* outputs the pooling drops are not computed */
        c->left = (c->taps - 1) / 2;
        length /= c->pool;
        c_prev = c->c_out;
        int64_t size = (c->steps + c->taps + 12) * c->c_in;
        biggest = size > biggest ? size : biggest;
        size = (c->kept + 12) * c->c_out;
        biggest = size > biggest ? size : biggest;
    }
    int64_t flat = length * c_prev, n_in = flat + n_features, widest = n_in;
    for (int64_t i = 0; i < n_dense; i++, s += 4) {
        Dense *d = &dense[i];
        d->n_in = s[0], d->n_out = s[1], d->n_real = s[2], d->activation = s[3];
        if (d->n_in != n_in || d->n_out < 8 || d->n_out % 8 || d->n_real > d->n_out || d->n_real < 1)
            return -1;
        if ((d->activation == 2) != (i == n_dense - 1))
            return -1;
        n_in = d->n_out;
        widest = d->n_out > widest ? d->n_out : widest;
    }
    int64_t classes = dense[n_dense - 1].n_real;
    if (classes > 64)
        return -1;
    float *buf = calloc((size_t)(2 * biggest + 2 * BLOCK * widest + 64), sizeof(float));
    if (!buf)
        return -1;
    float *x = buf, *y = x + biggest, *h = y + biggest, *g = h + BLOCK * widest;
    memset(out, 0, (size_t)(n * classes) * sizeof(float));
    float share = 1.0f / (float)members;

    for (int64_t b0 = 0; b0 < n; b0 += BLOCK) {
        int64_t rows = n - b0 < BLOCK ? n - b0 : BLOCK;
        const float *wm = weights;
        for (int64_t m = 0; m < members; m++) {
            const float *wl = wm;
            for (int64_t r = 0; r < BLOCK; r++) { /* the block's rows of the first dense layer */
                float *row = h + r * widest;
                if (r >= rows) {
                    memset(row, 0, (size_t)dense[0].n_in * sizeof(float));
                    continue;
                }
                const float *src = morph + (b0 + r) * window * channels;
                wl = wm;
                for (int64_t i = 0; i < n_conv; i++) {
                    Conv *c = &conv[i];
                    int64_t padded = (c->steps + c->taps + 12) * c->c_in;
                    int64_t inside = (c->left + c->steps) * c->c_in; /* zero padding around the samples */
                    memset(x, 0, (size_t)(c->left * c->c_in) * sizeof(float));
                    memset(x + inside, 0, (size_t)(padded - inside) * sizeof(float));
                    if (i == 0)
                        memcpy(x + c->left * c->c_in, src, (size_t)(c->steps * c->c_in) * sizeof(float));
                    else /* the previous layer's outputs, max-pooled, into this one's padded input */
                        pooled(y, &conv[i - 1], c->steps, x + c->left * c->c_in);
                    int64_t K = c->taps * c->c_in;
                    mul(x, c->c_in, K, wl, c->c_out, wl + K * c->c_out, y, c->c_out, c->kept, 0, 12); /* ReLU: pool */
                    wl += K * c->c_out + c->c_out;
                }
                pooled(y, &conv[n_conv - 1], length, row);
                memcpy(row + flat, features + (b0 + r) * n_features, (size_t)n_features * sizeof(float));
            }
            float *a = h, *z = g;
            for (int64_t i = 0; i < n_dense; i++) {
                Dense *d = &dense[i];
                mul(a, widest, d->n_in, wl, d->n_out, wl + d->n_in * d->n_out, z, widest, BLOCK, d->activation == 1, 0);
                wl += d->n_in * d->n_out + d->n_out;
                float *swap = a;
                a = z, z = swap;
            }
            for (int64_t r = 0; r < rows; r++) { /* softmax of the last layer, averaged over members */
                const float *logit = a + r * widest;
                float top = logit[0], sum = 0.0f, e[64];
                for (int64_t c = 1; c < classes; c++)
                    top = logit[c] > top ? logit[c] : top;
                for (int64_t c = 0; c < classes; c++)
                    sum += (e[c] = expf(logit[c] - top));
                for (int64_t c = 0; c < classes; c++)
                    out[(b0 + r) * classes + c] += e[c] / sum * share;
            }
            wm = wl;
        }
    }
    free(buf);
    return 0;
}

int forward(const float *morph, const float *features, int64_t n, const int64_t *shape, const float *weights,
            float *out)
{
    return forward_lanes(morph, features, n, shape, weights, out, 0);
}
#endif
