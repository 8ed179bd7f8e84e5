/* rng.c: counter-seeded random streams for the mock universe.
 *
 * Each stream is a xoshiro256** generator whose state comes from splitmix64 applied to a
 * hash of (seed, kind, index). A star's or an observation's draws therefore depend only on
 * the master seed and its own index, never on which rank makes them or in which order. */
#include "mstars/sim.h"
#include "mstars/rng.h"

#include <math.h>

void ms_sim_rng_seed(ms_sim_rng *r, uint64_t seed, uint64_t kind, uint64_t index)
{
    uint64_t x = seed;
    uint64_t h = ms_rng_splitmix64(&x);
    x = h ^ (kind * 0xD1B54A32D192ED03ULL);
    h = ms_rng_splitmix64(&x);
    x = h ^ (index * 0xAEF17502108EF2D9ULL + 0x632BE59BD9B4E019ULL);
    for (int i = 0; i < 4; i++) r->s[i] = ms_rng_splitmix64(&x);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
}

uint64_t ms_sim_rng_u64(ms_sim_rng *r)
{
    return ms_rng_xoshiro256ss(r->s);
}

double ms_sim_rng_uniform(ms_sim_rng *r)
{
    /* 53 random bits, shifted half a unit so the result is never 0 or 1 */
    return ((double)(ms_sim_rng_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double ms_sim_rng_gauss(ms_sim_rng *r)
{
    /* Box-Muller, one deviate per call (no hidden state, so streams stay simple) */
    double u1 = ms_sim_rng_uniform(r), u2 = ms_sim_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double ms_sim_rng_gauss_trunc(ms_sim_rng *r, double lo, double hi)
{
    for (int i = 0; i < 10000; i++) {
        double g = ms_sim_rng_gauss(r);
        if (g >= lo && g <= hi) return g;
    }
    return 0.5 * (lo + hi); /* unreachable for sensible bounds */
}
