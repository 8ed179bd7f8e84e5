/* test_combine.c: the recommended-label rule and the disagreement flag (combine.h) on cases
 * worked by hand. */
#include "mstars/combine.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static void set(ms_rec_input *in, size_t m, int q, double v, double e, int clean)
{
    in[m * MS_REC_N + (size_t)q] = (ms_rec_input){v, e, clean, 0.0};
}

static void blank(ms_rec_input *in, size_t n)
{
    for (size_t i = 0; i < n * MS_REC_N; i++) in[i] = (ms_rec_input){NAN, NAN, 1, 0.0};
}

static void test_smallest_clean_error_wins(void **state)
{
    (void)state;
    ms_rec_input in[3 * MS_REC_N];
    ms_rec_output out;
    blank(in, 3);
    set(in, 0, 0, 3500, 50, 1);  /* z25 */
    set(in, 1, 0, 3520, 30, 1);  /* slam: smaller error */
    set(in, 2, 0, 3400, 10, 0);  /* flagged: never recommended, never compared */
    set(in, 0, 4, 12.0, 2.0, 1); /* rv from z25 only */
    ms_combine_row(in, 3, 3.0, &out);
    assert_int_equal(out.method[0], 1);
    assert_true(out.value[0] == 3520 && out.error[0] == 30);
    assert_int_equal(out.method[4], 0);
    assert_int_equal(out.method[1], -1); /* no method gave log g */
    assert_true(isnan(out.value[1]) && isnan(out.error[1]));
    /* 20 K apart with a combined error of sqrt(50^2 + 30^2) = 58.3 K: agreement */
    assert_int_equal(out.disagree, 0);
    assert_int_equal(out.pair[0], 0);
    assert_int_equal(out.pair[1], 1);
    assert_int_equal(out.pair_quantity, 0);
    assert_true(fabs(out.pair_sigma - 20.0 / sqrt(3400.0)) < 1e-12);
}

/* The rank is the honest error `score` where > 0 (the reference RMS in the row's bin), not
 * the row's own error: a method whose row error is small but whose measured RMS is large loses;
 * a candidate without a score is ranked by its error. */
static void test_rank_by_score(void **state)
{
    (void)state;
    ms_rec_input in[3 * MS_REC_N];
    ms_rec_output out;
    blank(in, 3);
    in[0 * MS_REC_N + 0] = (ms_rec_input){3500, 20, 1, 60.0};
    in[1 * MS_REC_N + 0] = (ms_rec_input){3550, 45, 1, 40.0};
    in[2 * MS_REC_N + 0] = (ms_rec_input){3450, 50, 1, NAN}; /* no score: 50 */
    ms_combine_row(in, 3, 3.0, &out);
    assert_int_equal(out.method[0], 1);
    assert_true(out.value[0] == 3550 && out.error[0] == 45); /* its error, not its score */
    in[1 * MS_REC_N + 0].clean = 0;
    ms_combine_row(in, 3, 3.0, &out);
    assert_int_equal(out.method[0], 2); /* 50 < 60 */
}

static void test_disagreement_and_ties(void **state)
{
    (void)state;
    ms_rec_input in[2 * MS_REC_N];
    ms_rec_output out;
    blank(in, 2);
    set(in, 0, 2, 0.10, 0.03, 1);
    set(in, 1, 2, -0.20, 0.04, 1); /* 0.30 / 0.05 = 6 sigma */
    set(in, 0, 0, 3300, 40, 1);
    set(in, 1, 0, 3300, 40, 1); /* a tie: the earlier method */
    ms_combine_row(in, 2, 3.0, &out);
    assert_int_equal(out.disagree, 1u << 2);
    assert_int_equal(out.pair_quantity, 2);
    assert_true(fabs(out.pair_sigma - 6.0) < 1e-9);
    assert_int_equal(out.method[0], 0);
    assert_int_equal(out.method[2], 0);
    /* a looser threshold: the same pair, no flag */
    ms_combine_row(in, 2, 7.0, &out);
    assert_int_equal(out.disagree, 0);
    /* a zero or non-finite error is not a candidate */
    set(in, 1, 2, -0.20, 0.0, 1);
    set(in, 0, 2, NAN, 0.03, 1);
    ms_combine_row(in, 2, 3.0, &out);
    assert_int_equal(out.method[2], -1);
}

/* Gaussian deviates from a fixed LCG + Box-Muller: the test's data are the same every run. */
static double gauss(uint64_t *st)
{
    double u[2];
    for (int k = 0; k < 2; k++) {
        *st = *st * 6364136223846793005ull + 1442695040888963407ull;
        u[k] = ((double)(*st >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* The three-cornered hat on a case with a known answer: three methods with independent
 * Gaussian errors of sd 10, 12 and 15 that all state an error of 10 get scales ~1, 1.2, 1.5
 * (each s^2 is a difference of pair variances, each good to ~4% from 2000-4000 rows: the
 * scales to within 10%; a much smaller s beside large ones is poorly determined, which is the
 * method's nature); a method with no rows keeps 1; two
 * methods alone share the factor sqrt((10^2 + 12^2) / (10^2 + 10^2)) = 1.10. Binned by a key,
 * each bin gets its own scales (the second half of the rows has twice the errors; over all rows the robust sd of that 1:1 mixture of sd 1 and 2 is
 * 1.4826 x 0.924 = 1.370, 0.924 solving Phi(m) + Phi(m / 2) = 1.5). */
static void test_error_scales_three_cornered_hat(void **state)
{
    (void)state;
    enum { N = 4000, M = 4 };
    static ms_rec_input in[N * M * MS_REC_N];
    static double key[N];
    const double sd[M] = {10, 12, 15, 5};
    uint64_t st = 12345;
    for (size_t r = 0; r < N; r++) {
        double truth = 3500 + 100 * gauss(&st);
        key[r] = r < N / 2 ? 15.0 : 60.0;
        double f = r < N / 2 ? 1.0 : 2.0;
        for (size_t m = 0; m < M; m++)
            for (int q = 0; q < MS_REC_N; q++)
                in[(r * M + m) * MS_REC_N + (size_t)q] =
                    (q == 0 && m < 3) ? (ms_rec_input){truth + f * sd[m] * gauss(&st), 10.0, 1, 0.0}
                    : (q == 4 && m < 2) ? (ms_rec_input){f * sd[m] * gauss(&st), 10.0, 1, 0.0}
                                        : (ms_rec_input){NAN, NAN, 1, 0.0};
    }
    double scale[M * MS_REC_N];
    assert_int_equal(ms_combine_error_scales(in, N, M, NULL, NULL, 0, 20, scale), 0);
    for (size_t m = 0; m < 3; m++) {
        double want = sd[m] / 10.0 * 1.370; /* robust sd of the 1:1 mixture of sd 1 and 2 */
        assert_true(fabs(scale[m * MS_REC_N + 0] / want - 1.0) < 0.1);
    }
    assert_true(scale[3 * MS_REC_N + 0] == 1.0);              /* no rows: not estimated */
    const double two = sqrt((100.0 + 144.0) / 200.0) * 1.370; /* rv: two methods */
    assert_true(fabs(scale[0 * MS_REC_N + 4] / two - 1.0) < 0.1);
    assert_true(scale[0 * MS_REC_N + 4] == scale[1 * MS_REC_N + 4]);
    /* two bins of the key: 1x and 2x the errors */
    const double edges[3] = {-HUGE_VAL, 50.0, HUGE_VAL};
    double sb[M * MS_REC_N * 2];
    assert_int_equal(ms_combine_error_scales(in, N, M, key, edges, 2, 20, sb), 0);
    for (size_t m = 0; m < 3; m++) {
        assert_true(fabs(sb[(m * MS_REC_N + 0) * 2 + 0] / (sd[m] / 10.0) - 1.0) < 0.1);
        assert_true(fabs(sb[(m * MS_REC_N + 0) * 2 + 1] / (2.0 * sd[m] / 10.0) - 1.0) < 0.1);
    }
}


/* Honest errors against reference labels (ms_combine_reference_scales, and through
 * ms_combine_rescale_errors) on a case the hat gets wrong: methods 0 and 1 share an error
 * component of sd 20 (trained on the same reference set) besides their own sd 5, method 2 has
 * an independent error of sd 30; all state 10. Against the truth the scales are the rms
 * errors / 10: sqrt(20^2 + 5^2) / 10 = 2.06 and 3.0 (1.4826 median|z| = sd for a Gaussian;
 * 2,000 reference rows: ~3%); the hat sees the small differences of 0 and 1 and gives them
 * scales far below (< 1.2). With the reference the recommendation is method 0 or 1 on nearly
 * every row (their honest 20.6 < 30); with the hat alone mostly the same; a bias of method 2
 * counts as error (about zero). Bins with fewer than min_rows reference rows take the all-rows
 * value; a quantity without reference keeps the hat's factors, with n_ref 0. */
static void test_reference_scales(void **state)
{
    (void)state;
    enum { N = 4000, M = 3 };
    static ms_rec_input in[N * M * MS_REC_N], keep[N * M * MS_REC_N];
    static double ref[N * MS_REC_N], snr[N];
    uint64_t st = 777;
    for (size_t r = 0; r < N; r++) {
        const double truth = 3500 + 100 * gauss(&st), common = 20 * gauss(&st);
        snr[r] = r % 10 == 0 ? 5.0 : 30.0; /* 400 rows at S/N < 10, all with a reference */
        for (int q = 0; q < MS_REC_N; q++) ref[r * MS_REC_N + (size_t)q] = NAN;
        if (r % 2 == 0) ref[r * MS_REC_N + 0] = truth; /* half the rows: Teff reference only */
        for (size_t m = 0; m < M; m++)
            for (int q = 0; q < MS_REC_N; q++) {
                double v = truth + (m < 2 ? common + 5 * gauss(&st) : 30 * gauss(&st));
                in[(r * M + m) * MS_REC_N + (size_t)q] =
                    q <= 1 ? (ms_rec_input){v, 10.0, 1, 0.0} : (ms_rec_input){NAN, NAN, 1, 0.0};
            }
    }
    double sc[M * MS_REC_N * MS_COMBINE_SCALE_BINS], rms[M * MS_REC_N * MS_COMBINE_SCALE_BINS];
    size_t used[M * MS_REC_N];
    const size_t nb = MS_COMBINE_SCALE_BINS;
    assert_int_equal(ms_combine_reference_scales(in, N, M, ref, snr, ms_combine_scale_edges, nb,
                                                 MS_COMBINE_REF_MIN_ROWS, sc, rms, used), 0);
    const double want[M] = {sqrt(425.0) / 10.0, sqrt(425.0) / 10.0, 3.0};
    for (size_t m = 0; m < M; m++) {
        assert_int_equal(used[m * MS_REC_N + 0], N / 2);
        assert_true(fabs(sc[(m * MS_REC_N + 0) * nb + 2] / want[m] - 1.0) < 0.06);
        /* the RMS of v - truth: 10 x the scale for these Gaussian errors */
        assert_true(fabs(rms[(m * MS_REC_N + 0) * nb + 2] / (10.0 * want[m]) - 1.0) < 0.06);
        /* S/N < 10: 20 reference rows, its own value; 10-20 and > 50: none, the all-rows value */
        /* S/N < 10: 400 reference rows, its own value; 10-20 and > 50: none, the all-rows
         * value */
        assert_true(fabs(sc[(m * MS_REC_N + 0) * nb + 0] / want[m] - 1.0) < 0.15);
        assert_true(sc[(m * MS_REC_N + 0) * nb + 1] == sc[(m * MS_REC_N + 0) * nb + 3]);
        assert_true(fabs(sc[(m * MS_REC_N + 0) * nb + 1] / want[m] - 1.0) < 0.06);
        assert_true(sc[(m * MS_REC_N + 0) * nb + 1] != sc[(m * MS_REC_N + 0) * nb + 2]);
        assert_true(isnan(sc[(m * MS_REC_N + 1) * nb + 0])); /* no log g reference */
        assert_int_equal(used[m * MS_REC_N + 1], 0);
    }
    /* the hat alone is fooled by the shared error */
    double hat[M * MS_REC_N * MS_COMBINE_SCALE_BINS];
    for (size_t i = 0; i < (size_t)N * M * MS_REC_N; i++) keep[i] = in[i];
    assert_int_equal(ms_combine_rescale_errors(keep, N, M, snr, NULL, hat, NULL), 0);
    assert_true(hat[(0 * MS_REC_N + 0) * nb + 2] < 1.2 && hat[(1 * MS_REC_N + 0) * nb + 2] < 1.2);
    /* through the one rescaling function: the reference's factors, the hat's for log g */
    double both[M * MS_REC_N * MS_COMBINE_SCALE_BINS];
    size_t n_ref[M * MS_REC_N];
    assert_int_equal(ms_combine_rescale_errors(in, N, M, snr, ref, both, n_ref), 0);
    for (size_t m = 0; m < M; m++) {
        for (size_t b = 0; b < nb; b++) {
            assert_true(both[(m * MS_REC_N + 0) * nb + b] == sc[(m * MS_REC_N + 0) * nb + b]);
            assert_true(both[(m * MS_REC_N + 1) * nb + b] == hat[(m * MS_REC_N + 1) * nb + b]);
        }
        assert_int_equal(n_ref[m * MS_REC_N + 0], N / 2);
        assert_int_equal(n_ref[m * MS_REC_N + 1], 0);
    }
    /* row 1 (S/N 30): the errors multiplied by the bin's factor */
    assert_true(fabs(in[(1 * M + 2) * MS_REC_N + 0].error - 10.0 * sc[(2 * MS_REC_N + 0) * nb + 2]) < 1e-9);
    /* every row ranks its candidates by the bin's reference RMS (score: 1,800 rows of its own,
     * the shrinkage toward the all-rows prior moves it by well under 1%); log g by its error */
    assert_true(fabs(in[(1 * M + 2) * MS_REC_N + 0].score / rms[(2 * MS_REC_N + 0) * nb + 2] - 1.0) < 0.01);
    assert_true(isnan(in[(1 * M + 2) * MS_REC_N + 1].score));
    /* the rule then prefers the honest smaller error of methods 0/1 */
    size_t pick01 = 0;
    for (size_t r = 0; r < N; r++) {
        ms_rec_output o;
        ms_combine_row(in + r * M * MS_REC_N, M, 3.0, &o);
        pick01 += o.method[0] < 2;
    }
    assert_int_equal(pick01, N);
    /* a bias counts: method 2 shifted by 30 K, z = 3 + 3 g: 1.4826 x 3 x 1.0505 = 4.67 (1.0505
     * the median of |N(1, 1)|), where the robust spread about the mean would stay 3 */
    for (size_t r = 0; r < N; r++) {
        in[(r * M + 2) * MS_REC_N + 0].value += 30.0;
        in[(r * M + 2) * MS_REC_N + 0].error = 10.0;
    }
    assert_int_equal(ms_combine_reference_scales(in, N, M, ref, NULL, NULL, 0,
                                                 MS_COMBINE_REF_MIN_ROWS, sc, NULL, NULL), 0);
    assert_true(fabs(sc[2 * MS_REC_N + 0] / 4.6726 - 1.0) < 0.06);
}

/* The shrunk rank of combine.h (error_scales.c, rank_scores), worked independently: a method
 * with k rows of mean squared difference mse in the bin and mse_all over all rows, log f the
 * k-weighted mean of log(mse / mse_all) over the methods, n0 = MS_COMBINE_REF_MIN_ROWS. */
static double shrunk(double k, double mse, double mse_all, double log_f)
{
    const double n0 = MS_COMBINE_REF_MIN_ROWS;
    return sqrt(exp((k * log(mse) + n0 * (log_f + log(mse_all))) / (k + n0)));
}

/* Like with like (ms_combine_rescale_errors): a method with few reference rows in the row's
 * S/N bin is not compared with another kind of number. Method 1 is truly better everywhere
 * (errors +-50 K at S/N 5, +-5 K at S/N 60) than method 0 (+-100 K, +-10 K), but its flags
 * leave it only 5 reference rows at S/N 60. Bin against all-rows would compare method 0's 10 K
 * at S/N 60 with method 1's all-rows ~49 K and pick method 0; the shrunk bin values (the
 * bin's 5 rows pulled toward method 1's all-rows RMS times the bin's common factor) pick
 * method 1, as all-rows against all-rows (0: ~91 K, 1: ~49 K) would. */
static void test_rank_like_with_like(void **state)
{
    (void)state;
    enum { NLO = 200, NHI = 40, NJ = 20, N = NLO + NHI + NJ, M = 2 };
    static ms_rec_input in[N * M * MS_REC_N];
    static double ref[N * MS_REC_N], snr[N];
    for (size_t r = 0; r < N; r++) {
        const int hi = r >= NLO;
        const double truth = 3500.0, sign = r % 2 ? 1.0 : -1.0;
        snr[r] = hi ? 60.0 : 5.0;
        for (int q = 0; q < MS_REC_N; q++) ref[r * MS_REC_N + (size_t)q] = NAN;
        if (r < NLO + NHI) ref[r * MS_REC_N + 0] = truth; /* the last NJ rows: judged only */
        for (size_t m = 0; m < M; m++) {
            const double sd = (hi ? 10.0 : 100.0) / (m == 1 ? 2.0 : 1.0);
            /* method 1 is clean on 5 of the S/N 60 reference rows and on every judged row */
            const int clean = m == 0 || !hi || r >= NLO + NHI || r < NLO + 5;
            for (int q = 0; q < MS_REC_N; q++)
                in[(r * M + m) * MS_REC_N + (size_t)q] =
                    q == 0 ? (ms_rec_input){truth + sign * sd, sd, clean, 0.0}
                           : (ms_rec_input){NAN, NAN, 1, 0.0};
        }
    }
    double sc[M * MS_REC_N * MS_COMBINE_SCALE_BINS];
    assert_int_equal(ms_combine_rescale_errors(in, N, M, snr, ref, sc, NULL), 0);
    /* by hand: all rows 0: (200 x 100^2 + 40 x 10^2) / 240, 1: (200 x 50^2 + 5 x 5^2) / 205 */
    const double all0 = (200.0 * 1e4 + 40.0 * 100.0) / 240.0, all1 = (200.0 * 2500.0 + 125.0) / 205.0;
    const double lf_hi = (40.0 * log(100.0 / all0) + 5.0 * log(25.0 / all1)) / 45.0;
    const double lf_lo = (200.0 * log(1e4 / all0) + 200.0 * log(2500.0 / all1)) / 400.0;
    for (size_t r = NLO + NHI; r < N; r++) {
        ms_rec_output o;
        ms_combine_row(in + r * M * MS_REC_N, M, 3.0, &o);
        assert_int_equal(o.method[0], 1);
        assert_true(fabs(in[(r * M + 0) * MS_REC_N].score / shrunk(40, 100.0, all0, lf_hi) - 1.0) < 1e-9);
        assert_true(fabs(in[(r * M + 1) * MS_REC_N].score / shrunk(5, 25.0, all1, lf_hi) - 1.0) < 1e-9);
        /* ~10 K against ~5.2 K: method 1's 5 rows and its prior agree */
        assert_true(in[(r * M + 1) * MS_REC_N].score < 6.0);
    }
    /* S/N 5: 200 rows each: ranked by (nearly) the bin's own RMS (100 against 50) */
    assert_true(fabs(in[(0 * M + 0) * MS_REC_N].score / shrunk(200, 1e4, all0, lf_lo) - 1.0) < 1e-9);
    assert_true(fabs(in[(0 * M + 1) * MS_REC_N].score / shrunk(200, 2500.0, all1, lf_lo) - 1.0) < 1e-9);
    assert_true(fabs(in[(0 * M + 0) * MS_REC_N].score - 100.0) < 2.0);
    assert_true(fabs(in[(0 * M + 1) * MS_REC_N].score - 50.0) < 1.0);
}

/* Few rows in a bin still count (the shrunk rank, combine.h): method A is the better one at
 * S/N 60 (+-5 K over its 9 clean reference rows there, against B's +-30 K over 40 rows) but the
 * worse one at S/N 5 (+-100 K against +-60 K, 200 rows each), so its all-rows RMS (~98 K) is
 * far above B's (~56 K). A rule that ranks every candidate by its all-rows RMS whenever one
 * has fewer than 10 rows in the bin (the rule before) gives the S/N 60 rows to B; the shrunk
 * bin values (A ~13.7 K, B ~27.5 K) give them to A, and the S/N 5 rows stay with B. */
static void test_rank_shrinks_small_bins(void **state)
{
    (void)state;
    enum { NLO = 200, NHI = 40, NJ = 10, N = NLO + NHI + NJ, M = 2 };
    static ms_rec_input in[N * M * MS_REC_N];
    static double ref[N * MS_REC_N], snr[N];
    for (size_t r = 0; r < N; r++) {
        const int hi = r >= NLO;
        const double truth = 3500.0, sign = r % 2 ? 1.0 : -1.0;
        snr[r] = hi ? 60.0 : 5.0;
        for (int q = 0; q < MS_REC_N; q++) ref[r * MS_REC_N + (size_t)q] = NAN;
        if (r < NLO + NHI) ref[r * MS_REC_N + 0] = truth;
        for (size_t m = 0; m < M; m++) {
            const double sd = hi ? (m == 0 ? 5.0 : 30.0) : (m == 0 ? 100.0 : 60.0);
            /* A (method 0) is clean on 9 of the 40 S/N 60 reference rows and every judged row */
            const int clean = m == 1 || !hi || r >= NLO + NHI || r < NLO + 9;
            for (int q = 0; q < MS_REC_N; q++)
                in[(r * M + m) * MS_REC_N + (size_t)q] =
                    q == 0 ? (ms_rec_input){truth + sign * sd, sd, clean, 0.0}
                           : (ms_rec_input){NAN, NAN, 1, 0.0};
        }
    }
    double sc[M * MS_REC_N * MS_COMBINE_SCALE_BINS];
    assert_int_equal(ms_combine_rescale_errors(in, N, M, snr, ref, sc, NULL), 0);
    const double all0 = (200.0 * 1e4 + 9.0 * 25.0) / 209.0, all1 = (200.0 * 3600.0 + 40.0 * 900.0) / 240.0;
    const double lf_hi = (9.0 * log(25.0 / all0) + 40.0 * log(900.0 / all1)) / 49.0;
    for (size_t r = NLO + NHI; r < N; r++) {
        ms_rec_output o;
        ms_combine_row(in + r * M * MS_REC_N, M, 3.0, &o);
        assert_int_equal(o.method[0], 0);
        assert_true(fabs(in[(r * M + 0) * MS_REC_N].score / shrunk(9, 25.0, all0, lf_hi) - 1.0) < 1e-9);
        assert_true(fabs(in[(r * M + 1) * MS_REC_N].score / shrunk(40, 900.0, all1, lf_hi) - 1.0) < 1e-9);
    }
    ms_rec_output o;
    ms_combine_row(in, M, 3.0, &o);
    assert_int_equal(o.method[0], 1);
}

/* A candidate without any reference RMS (method 1: clean only on rows the reference does not
 * hold, as the M giants' ensemble on a reference of dwarfs) makes its rows rank EVERY
 * candidate by its honest error (score NaN), not method 0 by its RMS against method 1's
 * error; rows where method 0 is alone keep its RMS. Method 0 is off by 100 K with errors of
 * 10 K: reference RMS 100 K, honest error 10 x 1.4826 x 10 = 148 K; method 1 (15 rows: too few
 * for the hat, its errors unscaled) says 120 K. RMS against error would pick method 0 (100 <
 * 120); error against error picks method 1 (120 < 148). */
static void test_rank_without_reference(void **state)
{
    (void)state;
    enum { NREF = 100, NJ = 15, N = NREF + NJ, M = 2 };
    static ms_rec_input in[N * M * MS_REC_N];
    static double ref[N * MS_REC_N];
    for (size_t r = 0; r < N; r++) {
        const double truth = 3500.0, sign = r % 2 ? 1.0 : -1.0;
        for (int q = 0; q < MS_REC_N; q++) ref[r * MS_REC_N + (size_t)q] = NAN;
        if (r < NREF) ref[r * MS_REC_N + 0] = truth;
        for (size_t m = 0; m < M; m++) {
            const int clean = m == 0 || r >= NREF;
            const double v = truth + sign * (m == 0 ? 100.0 : 50.0), e = m == 0 ? 10.0 : 120.0;
            for (int q = 0; q < MS_REC_N; q++)
                in[(r * M + m) * MS_REC_N + (size_t)q] =
                    q == 0 ? (ms_rec_input){v, e, clean, 0.0} : (ms_rec_input){NAN, NAN, 1, 0.0};
        }
    }
    double sc[M * MS_REC_N * MS_COMBINE_SCALE_BINS];
    assert_int_equal(ms_combine_rescale_errors(in, N, M, NULL, ref, sc, NULL), 0);
    assert_true(fabs(in[0].error - 148.26) < 1e-9); /* method 0 scaled by its reference pulls */
    assert_true(fabs(in[(NREF * M + 1) * MS_REC_N].error - 120.0) < 1e-9);
    assert_true(fabs(in[0].score - 100.0) < 1e-9); /* alone on its row: ranked by its RMS */
    for (size_t r = NREF; r < N; r++) {
        assert_true(isnan(in[(r * M + 0) * MS_REC_N].score));
        assert_true(isnan(in[(r * M + 1) * MS_REC_N].score));
        ms_rec_output o;
        ms_combine_row(in + r * M * MS_REC_N, M, 3.0, &o);
        assert_int_equal(o.method[0], 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smallest_clean_error_wins),
        cmocka_unit_test(test_disagreement_and_ties),
        cmocka_unit_test(test_rank_by_score),
        cmocka_unit_test(test_error_scales_three_cornered_hat),
        cmocka_unit_test(test_reference_scales),
        cmocka_unit_test(test_rank_like_with_like),
        cmocka_unit_test(test_rank_shrinks_small_bins),
        cmocka_unit_test(test_rank_without_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
