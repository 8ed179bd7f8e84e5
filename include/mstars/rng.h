/* rng.h: the one random-number core of mstars: splitmix64 (seeding) and xoshiro256**
 * (Blackman & Vigna). Small, fast, reproducible on every platform; the neural engine's
 * seeded stream (nn.h) and the mock universe's counter-seeded streams (sim.h) build on it. */
#ifndef MSTARS_RNG_H
#define MSTARS_RNG_H

#include <stdint.h>

/* Advance *x and return the next splitmix64 output (for seeding). */
uint64_t ms_rng_splitmix64(uint64_t *x);
/* Next xoshiro256** output from state s[4] (not all zero), advancing it. */
uint64_t ms_rng_xoshiro256ss(uint64_t s[4]);

#endif
