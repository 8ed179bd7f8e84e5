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
/* Load tests/fixtures/csn/<name>.txt. */
nn_fx *csn_fx_load(const char *name);
/* Copy the fixture's "p.<tensor>" arrays into every tensor of p. */
void csn_fx_load_params(const nn_fx *f, ms_nn_params *p);

#endif
