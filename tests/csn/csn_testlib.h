/* csn_testlib.h: helpers of the Cycle-StarNet tests (tiny configurations, fixtures). */
#ifndef MSTARS_CSN_TESTLIB_H
#define MSTARS_CSN_TESTLIB_H

#include "nn_testlib.h"

#include "mstars/config.h"
#include "mstars/csn.h"

/* The tiny architectures of tests/reference/make_csn_fixtures.py: crop = 0 is the "TINY"
 * configuration in pad mode, crop = 1 its variant (dom strides 2,1, kernel 5) in crop mode. */
ms_cfg_csn csn_test_tiny_cfg(int crop);
void csn_test_set_list(ms_cfg_list *l, int n, const double *v);
/* Random generator weights from rng: xavier (ms_csn_init_weights) with the conv weights times
 * gain, every 1-D tensor (biases) uniform in +-0.1. */
void csn_test_random_gen_weights(ms_csn *net, ms_nn_rng *rng, float gain);
/* sum_i a_i b_i in double. */
double csn_test_dot(const float *a, const float *b, size_t n);
/* Load tests/fixtures/csn/<name>.txt. */
nn_fx *csn_fx_load(const char *name);
/* Copy the fixture's "p.<tensor>" arrays into every tensor of p. */
void csn_fx_load_params(const nn_fx *f, ms_nn_params *p);

#endif
