/* test_nn_layers.c: engine plumbing: flat parameter buffers, the seeded RNG and the
 * initialisers, OpenBLAS layers against their plain-loop references at larger sizes,
 * optimizer updates computed by hand, dimension checks. */
#include "nn_testlib.h"

#include "mstars/mem.h"
#include "mstars/nn.h"


#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static void test_params(void **state)
{
    (void)state;
    ms_nn_params p;
    ms_nn_params_init(&p);
    size_t iw, ib, ic;
    assert_int_equal(ms_nn_params_add(&p, "w", 2, (size_t[]){3, 5}, &iw), MS_OK);
    assert_int_equal(ms_nn_params_add(&p, "b", 1, (size_t[]){3}, &ib), MS_OK);
    assert_int_equal(ms_nn_params_add(&p, "conv", 3, (size_t[]){2, 3, 7}, &ic), MS_OK);
    assert_int_equal(ms_nn_params_add(&p, "b", 1, (size_t[]){4}, NULL), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "duplicate"));
    assert_int_equal(ms_nn_params_add(&p, "z", 2, (size_t[]){3, 0}, NULL), MS_EINVAL);
    assert_int_equal(p.n_tensors, 3);
    assert_int_equal(p.t[iw].size, 15);
    assert_int_equal(p.t[ic].size, 42);
    assert_int_equal(p.n, 16 + 16 + 48);
    assert_int_equal(ms_nn_params_alloc(&p), MS_OK);
    assert_int_equal(ms_nn_params_add(&p, "late", 1, (size_t[]){1}, NULL), MS_EINVAL);
    for (size_t i = 0; i < p.n_tensors; i++) {
        assert_int_equal((uintptr_t)ms_nn_param(&p, i) % 64, 0);
        assert_int_equal((uintptr_t)ms_nn_grad(&p, i) % 64, 0);
    }
    size_t k;
    assert_int_equal(ms_nn_params_find(&p, "conv", &k), MS_OK);
    assert_int_equal(k, ic);
    assert_int_equal(ms_nn_params_find(&p, "nope", &k), MS_ENOTFOUND);
    ms_nn_grad(&p, ib)[2] = 3.0f;
    ms_nn_params_zero_grad(&p);
    for (size_t i = 0; i < p.n; i++) assert_true(p.grad[i] == 0.0f);
    ms_nn_param(&p, iw)[4] = 1.25f;

    ms_nn_params q;
    ms_nn_params_init(&q);
    assert_int_equal(ms_nn_params_add(&q, "w", 2, (size_t[]){3, 5}, NULL), MS_OK);
    assert_int_equal(ms_nn_params_add(&q, "b", 1, (size_t[]){3}, NULL), MS_OK);
    assert_int_equal(ms_nn_params_add(&q, "conv", 3, (size_t[]){2, 3, 7}, NULL), MS_OK);
    assert_int_equal(ms_nn_params_alloc(&q), MS_OK);
    assert_true(ms_nn_params_same_layout(&p, &q));
    assert_int_equal(ms_nn_params_copy(&q, &p), MS_OK);
    assert_true(ms_nn_param(&q, iw)[4] == 1.25f);
    ms_nn_params_free(&q);
    ms_nn_params_init(&q);
    assert_int_equal(ms_nn_params_add(&q, "w", 2, (size_t[]){5, 3}, NULL), MS_OK);
    assert_int_equal(ms_nn_params_alloc(&q), MS_OK);
    assert_false(ms_nn_params_same_layout(&p, &q));
    assert_int_equal(ms_nn_params_copy(&q, &p), MS_EINVAL);
    ms_nn_params_free(&q);
    ms_nn_params_free(&p);

    /* allocation failure leaves nothing behind */
    ms_nn_params_init(&p);
    assert_int_equal(ms_nn_params_add(&p, "w", 1, (size_t[]){10}, NULL), MS_OK);
    size_t before = ms_mem_current();
    ms_mem_fail_after(1);
    assert_int_equal(ms_nn_params_alloc(&p), MS_ENOMEM);
    ms_mem_fail_after(-1);
    assert_int_equal(ms_mem_current(), before);
    assert_null(p.param);
    ms_nn_params_free(&p);
}

static void test_rng_and_init(void **state)
{
    (void)state;
    ms_nn_rng a, b;
    ms_nn_rng_seed(&a, 42);
    ms_nn_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) assert_true(ms_nn_rng_next(&a) == ms_nn_rng_next(&b));
    ms_nn_rng_seed(&b, 43);
    assert_true(ms_nn_rng_next(&a) != ms_nn_rng_next(&b));
    double s = 0, s2 = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = ms_nn_rng_uniform(&a);
        assert_true(u >= 0.0 && u < 1.0);
        double z = ms_nn_rng_normal(&a);
        s += z;
        s2 += z * z;
    }
    assert_close(s / n, 0.0, 0, 0.01, "normal mean");
    assert_close(s2 / n, 1.0, 0, 0.02, "normal variance");
    size_t idx[50];
    int seen[50] = {0};
    for (size_t i = 0; i < 50; i++) idx[i] = i;
    ms_nn_rng_shuffle(&a, idx, 50);
    for (size_t i = 0; i < 50; i++) seen[idx[i]]++;
    for (size_t i = 0; i < 50; i++) assert_int_equal(seen[i], 1);

    const size_t nw = 30000;
    float *w = nn_zeros(nw);
    ms_nn_init_xavier_uniform(w, nw, 100, 200, 1.0, &a);
    double bound = sqrt(6.0 / 300.0), mx = 0, var = 0;
    for (size_t i = 0; i < nw; i++) {
        if (fabs(w[i]) > mx) mx = fabs(w[i]);
        var += (double)w[i] * w[i];
    }
    assert_true(mx <= bound && mx > 0.99 * bound);
    assert_close(var / nw, bound * bound / 3.0, 0.03, 0, "xavier uniform variance");
    ms_nn_init_he_normal(w, nw, 50, 0.0, &a);
    var = 0;
    for (size_t i = 0; i < nw; i++) var += (double)w[i] * w[i];
    assert_close(var / nw, 2.0 / 50.0, 0.03, 0, "he normal variance");
    ms_nn_init_he_uniform(w, nw, 50, 0.01, &a);
    var = 0;
    for (size_t i = 0; i < nw; i++) var += (double)w[i] * w[i];
    assert_close(var / nw, 2.0 / (1.0 + 1e-4) / 50.0, 0.03, 0, "he uniform variance");
    ms_nn_init_xavier_normal(w, nw, 10, 30, 2.0, &a);
    var = 0;
    for (size_t i = 0; i < nw; i++) var += (double)w[i] * w[i];
    assert_close(var / nw, 4.0 * 2.0 / 40.0, 0.03, 0, "xavier normal variance");
    ms_nn_init_torch_default(w, nw, 16, &a);
    for (size_t i = 0; i < nw; i++) assert_true(fabsf(w[i]) <= 0.25f);
    ms_nn_init_const(w, nw, 0.01f);
    assert_true(w[nw - 1] == 0.01f);
    ms_free(w);
}

static void test_blas_vs_naive(void **state)
{
    (void)state;
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 7);
    /* dense */
    const size_t B = 17, NI = 33, O = 29;
    float *x = nn_zeros(B * NI), *w = nn_zeros(O * NI), *b = nn_zeros(O), *g = nn_zeros(B * O);
    nn_fill(x, B * NI, -1, 1, &rng);
    nn_fill(w, O * NI, -1, 1, &rng);
    nn_fill(b, O, -1, 1, &rng);
    nn_fill(g, B * O, -1, 1, &rng);
    float *y1 = nn_zeros(B * O), *y2 = nn_zeros(B * O);
    float *dx1 = nn_zeros(B * NI), *dx2 = nn_zeros(B * NI), *dw1 = nn_zeros(O * NI),
          *dw2 = nn_zeros(O * NI), *db1 = nn_zeros(O), *db2 = nn_zeros(O);
    ms_nn_dense_forward(y1, x, w, b, B, NI, O);
    ms_nn_dense_forward_naive(y2, x, w, b, B, NI, O);
    nn_check_f(y1, y2, B * O, 1e-5, "dense forward blas vs naive");
    ms_nn_dense_forward(y1, x, w, NULL, B, NI, O);
    ms_nn_dense_forward_naive(y2, x, w, NULL, B, NI, O);
    nn_check_f(y1, y2, B * O, 1e-5, "dense forward without bias");
    ms_nn_dense_backward(dx1, dw1, db1, g, x, w, B, NI, O);
    ms_nn_dense_backward_naive(dx2, dw2, db2, g, x, w, B, NI, O);
    nn_check_f(dx1, dx2, B * NI, 1e-5, "dense din blas vs naive");
    nn_check_f(dw1, dw2, O * NI, 1e-5, "dense dw blas vs naive");
    nn_check_f(db1, db2, O, 1e-5, "dense db blas vs naive");
    float *ptrs[] = {x, w, b, g, y1, y2, dx1, dx2, dw1, dw2, db1, db2};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++) ms_free(ptrs[i]);

    /* convolutions, including the Cycle-StarNet geometry (k7 s4 on 3071 pixels) */
    const ms_nn_conv_dims dims[] = {
        {2, 1, 8, 3071, 7, 4, 0, 0}, {3, 5, 7, 40, 3, 2, 1, 0}, {2, 4, 6, 25, 1, 1, 0, 0},
        {2, 3, 4, 19, 4, 3, 2, 0},
    };
    for (size_t k = 0; k < sizeof dims / sizeof *dims; k++) {
        ms_nn_conv_dims d = dims[k];
        assert_int_equal(ms_nn_conv_check(&d, 0), MS_OK);
        size_t lo = ms_nn_conv1d_out_len(&d);
        size_t nx = d.B * d.c_in * d.l_in, ny = d.B * d.c_out * lo, nw = d.c_out * d.c_in * d.kernel;
        float *cx = nn_zeros(nx), *cw = nn_zeros(nw), *cb = nn_zeros(d.c_out), *cg = nn_zeros(ny);
        float *ws = nn_zeros(ms_nn_conv1d_ws_floats(&d) + 1);
        float *o1 = nn_zeros(ny), *o2 = nn_zeros(ny), *gx1 = nn_zeros(nx), *gx2 = nn_zeros(nx);
        float *gw1 = nn_zeros(nw), *gw2 = nn_zeros(nw), *gb1 = nn_zeros(d.c_out),
              *gb2 = nn_zeros(d.c_out);
        nn_fill(cx, nx, -1, 1, &rng);
        nn_fill(cw, nw, -1, 1, &rng);
        nn_fill(cb, d.c_out, -1, 1, &rng);
        nn_fill(cg, ny, -1, 1, &rng);
        ms_nn_conv1d_forward(o1, ws, cx, cw, cb, &d);
        ms_nn_conv1d_forward_naive(o2, cx, cw, cb, &d);
        nn_check_f(o1, o2, ny, 1e-5, "conv forward blas vs naive");
        ms_nn_conv1d_backward(gx1, gw1, gb1, ws, cg, cx, cw, &d);
        ms_nn_conv1d_backward_naive(gx2, gw2, gb2, cg, cx, cw, &d);
        nn_check_f(gx1, gx2, nx, 1e-5, "conv din blas vs naive");
        nn_check_f(gw1, gw2, nw, 1e-4, "conv dw blas vs naive");
        nn_check_f(gb1, gb2, d.c_out, 1e-5, "conv db blas vs naive");
        /* transposed convolution = adjoint: <convT(g), x> == <g, conv(x)> with shared w
         * (as a transposed conv from c_out to c_in channels over length lo) */
        ms_nn_conv_dims t = {d.B, d.c_out, d.c_in, lo, d.kernel, d.stride, d.padding, 0};
        size_t lt = ms_nn_convt1d_out_len(&t);
        if (lt == d.l_in || lt + 1 <= d.l_in) {
            t.output_padding = d.l_in - lt;
            if (t.output_padding < t.stride && ms_nn_conv_check(&t, 1) == MS_OK) {
                /* weight [c_in_t = c_out, c_out_t = c_in, k] is the conv weight */
                float *tws = nn_zeros(ms_nn_convt1d_ws_floats(&t));
                float *ty = nn_zeros(nx), *ty2 = nn_zeros(nx);
                ms_nn_convt1d_forward(ty, tws, cg, cw, NULL, &t);
                ms_nn_convt1d_forward_naive(ty2, cg, cw, NULL, &t);
                nn_check_f(ty, ty2, nx, 1e-5, "convT forward blas vs naive");
                ms_nn_conv1d_forward(o1, ws, cx, cw, NULL, &d);
                double lhs = 0, rhs = 0;
                for (size_t i = 0; i < nx; i++) lhs += (double)ty[i] * cx[i];
                for (size_t i = 0; i < ny; i++) rhs += (double)cg[i] * o1[i];
                assert_close(lhs, rhs, 1e-5, 1e-6, "convT is the adjoint of conv");
                ms_free(tws);
                ms_free(ty);
                ms_free(ty2);
            }
        }
        float *cp[] = {cx, cw, cb, cg, ws, o1, o2, gx1, gx2, gw1, gw2, gb1, gb2};
        for (size_t i = 0; i < sizeof cp / sizeof *cp; i++) ms_free(cp[i]);
    }
}

/* The one-pass small-M kernel (batch-1 inference) against double loops, for the vector
 * remainders in every dimension, overwrite and accumulate. */
static void test_gemm_small(void **state)
{
    (void)state;
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 99);
    const size_t Ms[] = {1, 2, 3, 4, 5, 6, 9, 12}, Ns[] = {1, 3, 5, 17, 64}, Ks[] = {1, 7, 16, 33, 300};
    for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)
        for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)
            for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++) {
                const size_t M = Ms[a], N = Ns[b], K = Ks[c], lda = K + 3, ldb = K + 1, ldc = N + 2;
                float *A = nn_zeros(M * lda), *Bm = nn_zeros(N * ldb), *C = nn_zeros(M * ldc);
                double *want = calloc(M * ldc, sizeof(double));
                float *got = nn_zeros(M * ldc);
                assert_non_null(want);
                nn_fill(A, M * lda, -1, 1, &rng);
                nn_fill(Bm, N * ldb, -1, 1, &rng);
                nn_fill(C, M * ldc, -1, 1, &rng);
                for (int acc = 0; acc < 2; acc++) {
                    for (size_t i = 0; i < M; i++)
                        for (size_t j = 0; j < ldc; j++) {
                            double s = acc || j >= N ? C[i * ldc + j] : 0.0;
                            for (size_t k = 0; j < N && k < K; k++)
                                s += (double)A[i * lda + k] * Bm[j * ldb + k];
                            want[i * ldc + j] = s;
                        }
                    memcpy(got, C, M * ldc * sizeof(float));
                    ms_nn_gemm_nt_exact(M, N, K, A, lda, Bm, ldb, got, ldc, acc);
                    char what[96];
                    snprintf(what, sizeof what, "gemm_nt_exact M %zu N %zu K %zu acc %d", M, N, K, acc);
                    nn_check(got, want, M * ldc, 1e-4, what); /* padding columns untouched */
                }
                ms_free(A);
                ms_free(Bm);
                ms_free(C);
                ms_free(got);
                free(want);
            }
}

/* ms_nn_gemm_nt_exact: every element bit-identical to the same row of A against the same
 * row of B computed alone (M = N = 1), for any M, N, position and cache blocking; OpenBLAS's
 * sgemm fails this (a row of a [5, 2901] product differs from the same row alone). */
static void test_gemm_exact_rows(void **state)
{
    (void)state;
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 11);
    const size_t Ks[] = {4, 300, 5802}, M = 23, N = 61;
    for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++) {
        const size_t K = Ks[c];
        float *A = nn_zeros(M * K), *Bm = nn_zeros(N * K), *C = nn_zeros(M * N);
        nn_fill(A, M * K, -1, 1, &rng);
        nn_fill(Bm, N * K, -1, 1, &rng);
        ms_nn_gemm_nt_exact(M, N, K, A, K, Bm, K, C, N, 0);
        size_t bad = 0;
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) {
                float one;
                ms_nn_gemm_nt_exact(1, 1, K, A + i * K, K, Bm + j * K, K, &one, 1, 0);
                bad += memcmp(&one, &C[i * N + j], sizeof one) != 0;
            }
        /* rows i0.. of A as a smaller batch, against the columns from j0 */
        const size_t i0 = 7, j0 = 3;
        float *C2 = nn_zeros(M * N);
        ms_nn_gemm_nt_exact(M - i0, N - j0, K, A + i0 * K, K, Bm + j0 * K, K, C2, N, 0);
        for (size_t i = i0; i < M; i++)
            bad += memcmp(C2 + (i - i0) * N, C + i * N + j0, (N - j0) * sizeof(float)) != 0;
        if (bad) fail_msg("gemm_nt_exact K %zu: %zu elements depend on the batch", K, bad);
        ms_free(A);
        ms_free(Bm);
        ms_free(C);
        ms_free(C2);
    }
}

static void test_optim_by_hand(void **state)
{
    (void)state;
    ms_nn_optim o;
    float p[2] = {1.0f, -2.0f};
    const float g[2] = {0.5f, -0.25f};
    /* Adam, first step: m = 0.1 g, v = 0.001 g^2, m_hat = g, v_hat = g^2:
     * p -= lr g / (|g| + eps) = lr sign(g) (up to eps) */
    assert_int_equal(ms_nn_optim_init(&o, MS_NN_ADAM, 2, 0.1), MS_OK);
    ms_nn_optim_step(&o, p, g);
    assert_close(p[0], 0.9, 1e-6, 0, "adam step 1");
    assert_close(p[1], -1.9, 1e-6, 0, "adam step 1");
    assert_close(o.moments[0], 0.05, 1e-6, 0, "adam m");
    assert_close(o.moments[2], 0.00025, 1e-6, 0, "adam v");
    ms_nn_optim_free(&o);
    /* RAdam: rho_1 = 1, rho_2 = 1.9985 <= 5: plain bias-corrected momentum, p -= lr m_hat
     * with m_hat = g for a constant gradient */
    p[0] = 1.0f;
    p[1] = -2.0f;
    assert_int_equal(ms_nn_optim_init(&o, MS_NN_RADAM, 2, 0.1), MS_OK);
    ms_nn_optim_step(&o, p, g);
    ms_nn_optim_step(&o, p, g);
    assert_close(p[0], 0.9, 1e-6, 0, "radam 2 steps");
    assert_close(p[1], -1.95, 1e-6, 0, "radam 2 steps");
    ms_nn_optim_free(&o);
    ms_nn_optim_kind k;
    assert_int_equal(ms_nn_optim_parse("RAdam", &k), MS_OK);
    assert_int_equal(k, MS_NN_RADAM);
    assert_int_equal(ms_nn_optim_parse("sgd", &k), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "sgd"));
    assert_int_equal(ms_nn_optim_init(&o, MS_NN_ADAM, 0, 0.1), MS_EINVAL);
}

static void test_checks(void **state)
{
    (void)state;
    ms_nn_conv_dims d = {1, 1, 1, 5, 7, 1, 0, 0};
    assert_int_equal(ms_nn_conv_check(&d, 0), MS_EINVAL); /* kernel longer than the input */
    assert_non_null(strstr(ms_error_message(), "kernel 7"));
    d.padding = 1;
    assert_int_equal(ms_nn_conv_check(&d, 0), MS_OK); /* 5 + 2 >= 7 */
    assert_int_equal(ms_nn_conv1d_out_len(&d), 1);
    ms_nn_conv_dims t = {1, 2, 2, 8, 7, 4, 0, 4};
    assert_int_equal(ms_nn_conv_check(&t, 1), MS_EINVAL); /* output_padding >= stride */
    t.output_padding = 3;
    assert_int_equal(ms_nn_conv_check(&t, 1), MS_OK);
    assert_int_equal(ms_nn_convt1d_out_len(&t), 7 * 4 + 7 + 3);
    d.stride = 0;
    assert_int_equal(ms_nn_conv_check(&d, 0), MS_EINVAL);
    /* the Cycle-StarNet stack inverts exactly: 3071 -> 767 -> 191 -> ... */
    ms_nn_conv_dims e = {1, 1, 1, 3071, 7, 4, 0, 0};
    assert_int_equal(ms_nn_conv1d_out_len(&e), 767);
    ms_nn_conv_dims f = {1, 1, 1, 767, 7, 4, 0, 0};
    assert_int_equal(ms_nn_convt1d_out_len(&f), 3071);
    assert_int_equal(ms_nn_maxpool1d_out_len(20, 3, 2, 1), 10);
    float w[4];
    const float mask[4] = {1, 0, 1, 1}, err[4] = {0.5f, 1, 0, 2};
    ms_nn_loss_weights(w, mask, err, 4);
    assert_true(w[0] == 2.0f && w[1] == 0.0f && w[2] == 0.0f && w[3] == 0.5f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),        cmocka_unit_test(test_rng_and_init),
        cmocka_unit_test(test_gemm_small), cmocka_unit_test(test_gemm_exact_rows),
        cmocka_unit_test(test_blas_vs_naive), cmocka_unit_test(test_optim_by_hand),
        cmocka_unit_test(test_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
