/* nn_tool.c: helper program of the emulator shell tests.
 *   nn_tool make-grid PATH N_TEFF N_LOGG N_MH N_ALPHA N_PIX   a synthetic grid store
 *   nn_tool compare A.h5 B.h5 RTOL                              two emulator model files:
 *       same architecture, labels and scaling; predictions at the validation labels and
 *       the best validation losses agree to RTOL (relative to the flux scale) */
#include "nn_testlib.h"

#include "mstars/mem.h"
#include "mstars/payne.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int make_grid(char **argv)
{
    size_t n[4];
    for (int k = 0; k < 4; k++) n[k] = (size_t)atol(argv[3 + k]);
    nn_synth s;
    nn_synth_make(&s, n, (size_t)atol(argv[7]));
    nn_synth_write_store(&s, argv[2], (size_t)-1);
    nn_synth_free(&s);
    return 0;
}

static int compare(char **argv)
{
    ms_emulator a, b;
    if (ms_emulator_read(argv[2], &a) != MS_OK || ms_emulator_read(argv[3], &b) != MS_OK) {
        fprintf(stderr, "nn_tool compare: %s\n", ms_error_message());
        return 1;
    }
    double rtol = atof(argv[4]);
    const size_t D = a.net.n_labels, P = a.net.n_pix;
    if (D != b.net.n_labels || P != b.net.n_pix || a.net.params.n != b.net.params.n ||
        a.n_val != b.n_val) {
        fprintf(stderr, "nn_tool compare: different shapes\n");
        return 1;
    }
    for (size_t j = 0; j < D; j++)
        if (strcmp(a.labels[j], b.labels[j]) != 0 || a.x_min[j] != b.x_min[j] ||
            a.x_max[j] != b.x_max[j]) {
            fprintf(stderr, "nn_tool compare: labels or scaling differ\n");
            return 1;
        }
    double wmax = 0, wdiff = 0;
    for (size_t i = 0; i < a.net.params.n; i++) {
        double d = fabs((double)a.net.params.param[i] - b.net.params.param[i]);
        if (d > wdiff) wdiff = d;
        if (fabs(a.net.params.param[i]) > wmax) wmax = fabs(a.net.params.param[i]);
    }
    ms_payne_ws *wa, *wb;
    if (ms_payne_ws_alloc(&a.net, a.n_val, 0, &wa) != MS_OK ||
        ms_payne_ws_alloc(&b.net, b.n_val, 0, &wb) != MS_OK)
        return 1;
    float *fa = ms_malloc_array("fa", a.n_val * P, sizeof(float));
    float *fb = ms_malloc_array("fb", a.n_val * P, sizeof(float));
    if (!fa || !fb || ms_emulator_predict(&a, wa, a.val_labels, a.n_val, fa, NULL) != MS_OK ||
        ms_emulator_predict(&b, wb, a.val_labels, a.n_val, fb, NULL) != MS_OK)
        return 1;
    double fdiff = 0;
    for (size_t i = 0; i < a.n_val * P; i++)
        if (fabs((double)fa[i] - fb[i]) > fdiff) fdiff = fabs((double)fa[i] - fb[i]);
    double vdiff = fabs(a.best_val_loss - b.best_val_loss) / a.best_val_loss;
    printf("ranks %ld vs %ld: max |dw| %.3g (max |w| %.3g), max |dflux| at the validation labels "
           "%.3g, best validation loss %.6g vs %.6g (relative %.3g), best epoch %ld vs %ld\n",
           a.ranks, b.ranks, wdiff, wmax, fdiff, a.best_val_loss, b.best_val_loss, vdiff,
           a.best_epoch, b.best_epoch);
    int ok = fdiff <= rtol && vdiff <= rtol && a.best_epoch == b.best_epoch;
    ms_free(fa);
    ms_free(fb);
    ms_payne_ws_free(wa);
    ms_payne_ws_free(wb);
    ms_emulator_free(&a);
    ms_emulator_free(&b);
    if (!ok) fprintf(stderr, "nn_tool compare: the two models differ beyond %g\n", rtol);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 8 && strcmp(argv[1], "make-grid") == 0) return make_grid(argv);
    if (argc == 5 && strcmp(argv[1], "compare") == 0) return compare(argv);
    fprintf(stderr, "usage: nn_tool make-grid PATH NT NG NM NA NPIX | compare A B RTOL\n");
    return 2;
}
