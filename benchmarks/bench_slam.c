/* bench_slam.c: SLAM training and prediction cost in C, one core (bench_slam.sh runs it next
 * to scikit-learn, bench_slam.py, on the same data and grid).
 *
 *   bench_slam STORE LABELS MODEL NPIX DUMP
 *
 * STORE + LABELS (joined by file name, labels teff,logg,fe_h) is the training set; the
 * hyperparameter search of the first NPIX modelled pixels is timed with the paper's grid
 * (full search) and with the coordinate search; MODEL (a train-slam model of the same
 * store) times the prediction (one model spectrum + Jacobian) and the whole fit of each
 * training spectrum. DUMP receives the pixel list and the per-pixel results and timings. */
#include "bench_util.h"

#include "mstars/mem.h"
#include "mstars/slam.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench_slam STORE LABELS MODEL NPIX DUMP\n");
        return 2;
    }
    ms_slam_ts_opts o = {argv[1], argv[2], "teff,logg,fe_h", "file", NULL, NULL, 0, 0};
    ms_slam_trainset s;
    if (ms_slam_trainset_load(&o, &s) != MS_OK) {
        fprintf(stderr, "bench_slam: %s\n", ms_error_message());
        return 1;
    }
    size_t npix = (size_t)atol(argv[4]);
    FILE *dump = fopen(argv[5], "w");
    if (!dump) return 1;
    ms_slam_train_set t = ms_slam_trainset_view(&s);
    ms_slam_grid g;
    ms_slam_grid_default(&g);
    ms_slam_trainer *full, *coord;
    ms_slam_grid gc = g;
    gc.search = MS_SLAM_SEARCH_COORD;
    if (ms_slam_trainer_alloc(&t, &g, &full) != MS_OK || ms_slam_trainer_alloc(&t, &gc, &coord) != MS_OK) {
        fprintf(stderr, "bench_slam: %s\n", ms_error_message());
        return 1;
    }
    fprintf(dump, "# n_train %zu\n# pixel wave c epsilon gamma cv_mse n_fits cpu_s "
            "coord_c coord_epsilon coord_gamma coord_cv_mse coord_n_fits coord_cpu_s\n", s.n);
    double tf = 0, tc = 0, ratio_mse = 0;
    size_t done = 0;
    for (size_t j = 0; j < s.n_pix && done < npix; j += 37) { /* spread over the range */
        ms_slam_pixel a, b;
        double c0 = cpu_s();
        ms_slam_train_pixel(full, j, &a);
        double c1 = cpu_s();
        if (a.status != 0) continue;
        ms_slam_train_pixel(coord, j, &b);
        double c2 = cpu_s();
        fprintf(dump, "%zu %.3f %g %g %g %.6g %d %.5f %g %g %g %.6g %d %.5f\n", j, s.wavelength[j],
                a.c, a.epsilon, a.gamma, a.cv_mse, a.n_fits, c1 - c0, b.c, b.epsilon, b.gamma,
                b.cv_mse, b.n_fits, c2 - c1);
        tf += c1 - c0;
        tc += c2 - c1;
        ratio_mse += b.cv_mse / a.cv_mse;
        done++;
    }
    printf("C libsvm (kernel reuse), %zu training spectra, %zu pixels: full grid %.4f s/pixel "
           "(1760 fits), coordinate search %.4f s/pixel; coordinate/full CV-MSE %.4f (mean)\n",
           s.n, done, tf / (double)done, tc / (double)done, ratio_mse / (double)done);
    fprintf(dump, "# full_s_per_pixel %.6f coord_s_per_pixel %.6f\n", tf / (double)done, tc / (double)done);
    ms_slam_trainer_free(full);
    ms_slam_trainer_free(coord);

    /* prediction and fit */
    ms_slam_model m;
    if (ms_slam_model_read(argv[3], &m) != MS_OK) {
        fprintf(stderr, "bench_slam: %s\n", ms_error_message());
        return 1;
    }
    ms_slam_ws *ws;
    if (ms_slam_ws_alloc(&m, &ws) != MS_OK) return 1;
    double *flux = ms_malloc_array("b.flux", m.n_pix, sizeof(double));
    double *jac = ms_malloc_array("b.jac", m.n_pix * m.n_labels, sizeof(double));
    double z[MS_SLAM_MAX_LABELS] = {0.1, -0.2, 0.3, 0};
    const int reps = 200;
    double t0 = cpu_s();
    for (int r = 0; r < reps; r++) ms_slam_predict(&m, ws, z, flux, NULL);
    double t1 = cpu_s();
    for (int r = 0; r < reps; r++) ms_slam_predict(&m, ws, z, flux, jac);
    double t2 = cpu_s();
    size_t modelled = 0;
    for (size_t j = 0; j < m.n_pix; j++) modelled += m.status[j] == 0;
    ms_slam_fit_opts fo;
    ms_slam_fit_opts_default(&fo);
    double times[256];
    size_t nt = 0;
    double iters = 0;
    for (size_t i = 0; i < s.n && nt < 256; i++) {
        ms_slam_result r;
        fo.exclude_train = (long)i; /* do not start from itself */
        double a = cpu_s();
        ms_slam_fit(&m, ws, &fo, s.flux + i * s.n_pix, s.ivar + i * s.n_pix, s.mask, &r);
        times[nt++] = cpu_s() - a;
        iters += r.iterations;
    }
    double med = median(times, nt);
    printf("C prediction (%zu pixels, %zu training spectra): %.3f ms per model spectrum, %.3f ms "
           "with the Jacobian; fit %.2f ms per spectrum (median of %zu, %.1f L-BFGS-B iterations)\n",
           modelled, m.n_train, 1e3 * (t1 - t0) / reps, 1e3 * (t2 - t1) / reps, 1e3 * med, nt,
           iters / (double)nt);
    fprintf(dump, "# predict_ms %.5f predict_jac_ms %.5f fit_ms %.4f modelled %zu\n",
            1e3 * (t1 - t0) / reps, 1e3 * (t2 - t1) / reps, 1e3 * med, modelled);
    fclose(dump);
    ms_free(flux);
    ms_free(jac);
    ms_slam_ws_free(ws);
    ms_slam_model_free(&m);
    ms_slam_trainset_free(&s);
    return 0;
}
