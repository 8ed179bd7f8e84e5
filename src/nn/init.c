/* init.c: the seeded random stream and weight initialisation (see nn.h). */
#include "mstars/nn.h"
#include "mstars/rng.h"

#include <math.h>

void ms_nn_rng_seed(ms_nn_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = ms_rng_splitmix64(&x);
}

uint64_t ms_nn_rng_next(ms_nn_rng *r)
{
    return ms_rng_xoshiro256ss(r->s);
}

double ms_nn_rng_uniform(ms_nn_rng *r) { return (double)(ms_nn_rng_next(r) >> 11) * 0x1.0p-53; }

double ms_nn_rng_normal(ms_nn_rng *r)
{
    double u1 = 1.0 - ms_nn_rng_uniform(r); /* (0, 1] */
    double u2 = ms_nn_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t ms_nn_rng_below(ms_nn_rng *r, uint64_t n)
{
    /* rejection of the incomplete top block */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = ms_nn_rng_next(r);
    while (x >= limit);
    return x % n;
}

void ms_nn_rng_shuffle(ms_nn_rng *r, size_t *idx, size_t n)
{
    for (size_t i = n; i-- > 1;) {
        size_t j = (size_t)ms_nn_rng_below(r, (uint64_t)i + 1);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

void ms_nn_init_uniform(float *w, size_t n, double lo, double hi, ms_nn_rng *rng)
{
    for (size_t i = 0; i < n; i++) w[i] = (float)(lo + (hi - lo) * ms_nn_rng_uniform(rng));
}

void ms_nn_init_normal(float *w, size_t n, double std, ms_nn_rng *rng)
{
    for (size_t i = 0; i < n; i++) w[i] = (float)(std * ms_nn_rng_normal(rng));
}

void ms_nn_init_const(float *w, size_t n, float value)
{
    for (size_t i = 0; i < n; i++) w[i] = value;
}

void ms_nn_init_xavier_uniform(float *w, size_t n, size_t fan_in, size_t fan_out, double gain,
                               ms_nn_rng *rng)
{
    double a = gain * sqrt(6.0 / (double)(fan_in + fan_out));
    ms_nn_init_uniform(w, n, -a, a, rng);
}

void ms_nn_init_xavier_normal(float *w, size_t n, size_t fan_in, size_t fan_out, double gain,
                              ms_nn_rng *rng)
{
    ms_nn_init_normal(w, n, gain * sqrt(2.0 / (double)(fan_in + fan_out)), rng);
}

static double he_gain(double slope) { return sqrt(2.0 / (1.0 + slope * slope)); }

void ms_nn_init_he_uniform(float *w, size_t n, size_t fan_in, double slope, ms_nn_rng *rng)
{
    double b = he_gain(slope) * sqrt(3.0 / (double)fan_in);
    ms_nn_init_uniform(w, n, -b, b, rng);
}

void ms_nn_init_he_normal(float *w, size_t n, size_t fan_in, double slope, ms_nn_rng *rng)
{
    ms_nn_init_normal(w, n, he_gain(slope) / sqrt((double)fan_in), rng);
}

void ms_nn_init_torch_default(float *w, size_t n, size_t fan_in, ms_nn_rng *rng)
{
    double b = 1.0 / sqrt((double)fan_in);
    ms_nn_init_uniform(w, n, -b, b, rng);
}
