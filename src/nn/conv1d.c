/* conv1d.c: 1-D convolution (im2col + GEMM), 1x1 convolution, and reference loops. */
#include "mstars/nn.h"

#include "nn_internal.h"

#include <limits.h>
#include <string.h>

/* Range of column positions t with 0 <= t stride + k - padding < l_x: [*lo, *hi). */
static void valid_range(size_t k, size_t stride, size_t padding, size_t l_x, size_t l_cols,
                        size_t *lo, size_t *hi)
{
    size_t a = 0;
    if (padding > k) a = (padding - k + stride - 1) / stride;
    size_t b = 0;
    if (l_x + padding > k) b = (l_x + padding - k - 1) / stride + 1;
    if (b > l_cols) b = l_cols;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

void ms_nn_im2col(float *col, const float *x, size_t c, size_t l_x, size_t kernel,
                  size_t stride, size_t padding, size_t l_cols)
{
    /* col [c * kernel, l_cols]; x [c, l_x] */
    for (size_t k = 0; k < kernel; k++) {
        size_t lo, hi;
        valid_range(k, stride, padding, l_x, l_cols, &lo, &hi);
        for (size_t ci = 0; ci < c; ci++) {
            float *row = col + (ci * kernel + k) * l_cols; /* [l_cols] */
            const float *xc = x + ci * l_x;                 /* [l_x] */
            for (size_t t = 0; t < lo; t++) row[t] = 0.0f;
            if (stride == 1) {
                memcpy(row + lo, xc + lo + k - padding, (hi - lo) * sizeof(float));
            } else {
                for (size_t t = lo; t < hi; t++) row[t] = xc[t * stride + k - padding];
            }
            for (size_t t = hi; t < l_cols; t++) row[t] = 0.0f;
        }
    }
}

void ms_nn_col2im(float *x, const float *col, size_t c, size_t l_x, size_t kernel,
                  size_t stride, size_t padding, size_t l_cols)
{
    /* x [c, l_x] +=; col [c * kernel, l_cols] */
    for (size_t k = 0; k < kernel; k++) {
        size_t lo, hi;
        valid_range(k, stride, padding, l_x, l_cols, &lo, &hi);
        for (size_t ci = 0; ci < c; ci++) {
            const float *row = col + (ci * kernel + k) * l_cols;
            float *xc = x + ci * l_x;
            for (size_t t = lo; t < hi; t++) xc[t * stride + k - padding] += row[t];
        }
    }
}

size_t ms_nn_conv1d_out_len(const ms_nn_conv_dims *d)
{
    if (d->stride == 0 || d->kernel == 0 || d->l_in + 2 * d->padding < d->kernel) return 0;
    return (d->l_in + 2 * d->padding - d->kernel) / d->stride + 1;
}

size_t ms_nn_convt1d_out_len(const ms_nn_conv_dims *d)
{
    if (d->stride == 0 || d->kernel == 0 || d->l_in == 0) return 0;
    size_t full = (d->l_in - 1) * d->stride + d->kernel + d->output_padding;
    if (full <= 2 * d->padding) return 0;
    return full - 2 * d->padding;
}

ms_status ms_nn_conv_check(const ms_nn_conv_dims *d, int transposed)
{
    const char *what = transposed ? "transposed convolution" : "convolution";
    if (d->B == 0 || d->c_in == 0 || d->c_out == 0 || d->l_in == 0 || d->kernel == 0 ||
        d->stride == 0)
        MS_ERROR(MS_EINVAL, "nn %s: zero dimension (B %zu, c_in %zu, c_out %zu, l_in %zu, "
                            "kernel %zu, stride %zu)",
                 what, d->B, d->c_in, d->c_out, d->l_in, d->kernel, d->stride);
    size_t l_out = transposed ? ms_nn_convt1d_out_len(d) : ms_nn_conv1d_out_len(d);
    if (l_out == 0)
        MS_ERROR(MS_EINVAL, "nn %s: kernel %zu with padding %zu does not fit length %zu", what,
                 d->kernel, d->padding, d->l_in);
    if (!transposed && d->output_padding != 0)
        MS_ERROR(MS_EINVAL, "nn convolution: output_padding applies to transposed ones only");
    if (transposed && d->output_padding >= d->stride)
        MS_ERROR(MS_EINVAL, "nn transposed convolution: output_padding %zu must be < stride %zu",
                 d->output_padding, d->stride);
    size_t big = d->c_in > d->c_out ? d->c_in : d->c_out;
    size_t l_big = d->l_in > l_out ? d->l_in : l_out;
    if (big * d->kernel > (size_t)INT_MAX / l_big || big * d->kernel > (size_t)INT_MAX / d->c_out)
        MS_ERROR(MS_EINVAL, "nn %s: sizes exceed the BLAS int range", what);
    return MS_OK;
}

static int is_pointwise(const ms_nn_conv_dims *d)
{
    return d->kernel == 1 && d->stride == 1 && d->padding == 0;
}

size_t ms_nn_conv1d_ws_floats(const ms_nn_conv_dims *d)
{
    if (is_pointwise(d)) return 0;
    return d->c_in * d->kernel * ms_nn_conv1d_out_len(d);
}

static void add_bias(float *out, const float *b, size_t c, size_t l)
{
    /* out [c, l] += b [c] along l */
    for (size_t o = 0; o < c; o++) {
        float *row = out + o * l;
        for (size_t t = 0; t < l; t++) row[t] += b[o];
    }
}

static void sum_bias(float *db, const float *dout, size_t c, size_t l)
{
    /* db [c] += sum over l of dout [c, l] */
    for (size_t o = 0; o < c; o++) {
        const float *row = dout + o * l;
        float s = 0.0f;
        for (size_t t = 0; t < l; t++) s += row[t];
        db[o] += s;
    }
}

void ms_nn_conv1d_forward(float *out, float *ws, const float *in, const float *w,
                          const float *b, const ms_nn_conv_dims *d)
{
    /* out [B, c_out, l_out]; ws [c_in kernel, l_out]; in [B, c_in, l_in];
     * w [c_out, c_in kernel]; b [c_out] */
    const size_t l_out = ms_nn_conv1d_out_len(d), ck = d->c_in * d->kernel;
    assert(l_out > 0);
    for (size_t s = 0; s < d->B; s++) {
        const float *x = in + s * d->c_in * d->l_in; /* [c_in, l_in] */
        float *y = out + s * d->c_out * l_out;      /* [c_out, l_out] */
        const float *col = x;
        if (!is_pointwise(d)) {
            ms_nn_im2col(ws, x, d->c_in, d->l_in, d->kernel, d->stride, d->padding, l_out);
            col = ws;
        }
        ms_nn_sgemm(0, 0, d->c_out, l_out, ck, 1.0f, w, ck, col, l_out, 0.0f, y, l_out);
        if (b) add_bias(y, b, d->c_out, l_out);
    }
}

void ms_nn_conv1d_backward(float *din, float *dw, float *db, float *ws, const float *dout,
                           const float *in, const float *w, const ms_nn_conv_dims *d)
{
    /* din [B, c_in, l_in]; dw [c_out, c_in kernel]; db [c_out]; ws [c_in kernel, l_out];
     * dout [B, c_out, l_out]; in [B, c_in, l_in]; w [c_out, c_in kernel] */
    const size_t l_out = ms_nn_conv1d_out_len(d), ck = d->c_in * d->kernel;
    const int pw = is_pointwise(d);
    for (size_t s = 0; s < d->B; s++) {
        const float *g = dout + s * d->c_out * l_out; /* [c_out, l_out] */
        if (db) sum_bias(db, g, d->c_out, l_out);
        if (dw) {
            const float *x = in + s * d->c_in * d->l_in;
            const float *col = x;
            if (!pw) {
                ms_nn_im2col(ws, x, d->c_in, d->l_in, d->kernel, d->stride, d->padding, l_out);
                col = ws;
            }
            ms_nn_sgemm(0, 1, d->c_out, ck, l_out, 1.0f, g, l_out, col, l_out, 1.0f, dw, ck);
        }
        if (din) {
            float *dx = din + s * d->c_in * d->l_in; /* [c_in, l_in] */
            if (pw) {
                ms_nn_sgemm(1, 0, ck, l_out, d->c_out, 1.0f, w, ck, g, l_out, 1.0f, dx, l_out);
            } else {
                ms_nn_sgemm(1, 0, ck, l_out, d->c_out, 1.0f, w, ck, g, l_out, 0.0f, ws, l_out);
                ms_nn_col2im(dx, ws, d->c_in, d->l_in, d->kernel, d->stride, d->padding, l_out);
            }
        }
    }
}

void ms_nn_conv1d_forward_naive(float *out, const float *in, const float *w, const float *b,
                                const ms_nn_conv_dims *d)
{
    const size_t l_out = ms_nn_conv1d_out_len(d), K = d->kernel;
    for (size_t s = 0; s < d->B; s++)
        for (size_t o = 0; o < d->c_out; o++)
            for (size_t t = 0; t < l_out; t++) {
                double acc = b ? b[o] : 0.0;
                for (size_t ci = 0; ci < d->c_in; ci++)
                    for (size_t k = 0; k < K; k++) {
                        long pos = (long)(t * d->stride + k) - (long)d->padding;
                        if (pos < 0 || pos >= (long)d->l_in) continue;
                        acc += (double)w[(o * d->c_in + ci) * K + k] *
                               in[(s * d->c_in + ci) * d->l_in + (size_t)pos];
                    }
                out[(s * d->c_out + o) * l_out + t] = (float)acc;
            }
}

void ms_nn_conv1d_backward_naive(float *din, float *dw, float *db, const float *dout,
                                 const float *in, const float *w, const ms_nn_conv_dims *d)
{
    const size_t l_out = ms_nn_conv1d_out_len(d), K = d->kernel;
    for (size_t s = 0; s < d->B; s++)
        for (size_t o = 0; o < d->c_out; o++)
            for (size_t t = 0; t < l_out; t++) {
                float g = dout[(s * d->c_out + o) * l_out + t];
                if (db) db[o] += g;
                for (size_t ci = 0; ci < d->c_in; ci++)
                    for (size_t k = 0; k < K; k++) {
                        long pos = (long)(t * d->stride + k) - (long)d->padding;
                        if (pos < 0 || pos >= (long)d->l_in) continue;
                        size_t xi = (s * d->c_in + ci) * d->l_in + (size_t)pos;
                        size_t wi = (o * d->c_in + ci) * K + k;
                        if (dw) dw[wi] += g * in[xi];
                        if (din) din[xi] += g * w[wi];
                    }
            }
}

void ms_nn_conv1x1_forward(float *out, const float *in, const float *w, const float *b,
                           size_t B, size_t c_in, size_t c_out, size_t L)
{
    /* out [B, c_out, L]; in [B, c_in, L]; w [c_out, c_in]; b [c_out] */
    for (size_t s = 0; s < B; s++) {
        float *y = out + s * c_out * L;
        ms_nn_sgemm(0, 0, c_out, L, c_in, 1.0f, w, c_in, in + s * c_in * L, L, 0.0f, y, L);
        if (b) add_bias(y, b, c_out, L);
    }
}

void ms_nn_conv1x1_backward(float *din, float *dw, float *db, const float *dout,
                            const float *in, const float *w, size_t B, size_t c_in,
                            size_t c_out, size_t L)
{
    /* din [B, c_in, L]; dw [c_out, c_in]; db [c_out]; dout [B, c_out, L] */
    for (size_t s = 0; s < B; s++) {
        const float *g = dout + s * c_out * L;
        if (db) sum_bias(db, g, c_out, L);
        if (dw) ms_nn_sgemm(0, 1, c_out, c_in, L, 1.0f, g, L, in + s * c_in * L, L, 1.0f, dw, c_in);
        if (din) ms_nn_sgemm(1, 0, c_in, L, c_out, 1.0f, w, c_in, g, L, 1.0f, din + s * c_in * L, L);
    }
}
