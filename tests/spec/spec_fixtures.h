/* spec_fixtures.h: helpers shared by the spec module's tests: a seeded normal RNG, the
 * LAMOST log-linear wavelength grid and the default preprocessing configuration. */
#ifndef MSTARS_TEST_SPEC_FIXTURES_H
#define MSTARS_TEST_SPEC_FIXTURES_H

#include "test_util.h"

#include "mstars/config.h"
#include "mstars/spec.h"

#include <math.h>
#include <stdint.h>

/* LAMOST LRS: 3909 pixels, log10(lambda) = 3.5682 + 1e-4 i (anchors_code.md 3b). */
#define LAMOST_N 3909
static inline double lamost_wave(size_t i) { return pow(10.0, 3.5682 + 1e-4 * (double)i); }

/* splitmix64 -> uniform (0, 1) -> Box-Muller normal. Deterministic for a given seed. */
typedef struct {
    uint64_t s;
    int have;
    double spare;
} fx_rng;

static inline double fx_uniform(fx_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

static inline double fx_normal(fx_rng *r)
{
    if (r->have) {
        r->have = 0;
        return r->spare;
    }
    double u = fx_uniform(r), v = fx_uniform(r);
    double rad = sqrt(-2.0 * log(u)), ang = 6.283185307179586 * v;
    r->spare = rad * sin(ang);
    r->have = 1;
    return rad * cos(ang);
}

/* The default [preprocess] section (method.md section 2). */
static inline ms_cfg_preprocess fx_defaults(void)
{
    ms_config cfg;
    assert_int_equal(ms_config_defaults(&cfg), MS_OK);
    return cfg.preprocess;
}

/* An ms_spec_out with its own arrays for n pixels (free with fx_out_free). */
static inline ms_spec_out fx_out_alloc(size_t n)
{
    ms_spec_out o = {test_malloc(n * sizeof(float)), test_malloc(n * sizeof(float)),
                     test_malloc(n * sizeof(float)), 0};
    return o;
}

static inline void fx_out_free(ms_spec_out *o)
{
    test_free(o->flux);
    test_free(o->ivar);
    test_free(o->continuum);
}

#endif
