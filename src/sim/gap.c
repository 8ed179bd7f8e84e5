/* gap.c: the "synthetic gap" between the theory grid's physics and the observed stars.
 *
 * The observed domain uses the synthetic physics plus six independent ingredients, each
 * scaled by its own g = simulate.gap_strength x simulate.gap_components[i] (m->gap_part[i],
 * numbered as below from 0 and named MS_SIM_GAP_* in sim.h; all vanish at g = 0, where the
 * observed physics is the synthetic one bit for bit):
 *   1. mis-scaled TiO (Teff dependent): observed TiO strength x (1 + 0.12 g S((3400 - Teff)/200))
 *      -- the models' TiO is too weak for mid/late M;
 *   2. mis-scaled CaH 6830-7030 A (Teff dependent): x (1 + 0.35 g S((Teff - 3500)/200)) --
 *      the 6600-7000 A mismatch of ~4000 K dwarfs;
 *   3. missing opacity: a smooth pseudo-continuum absorption rising to the blue (e-folding
 *      700 A from 3550 A) plus a bump near 8950 A, strength 0.35 g S((3600 - Teff)/300);
 *   4. an unmodelled band: head 8345 A, 70 A long, strength 0.30 g S((3500 - Teff)/250)
 *      10^(0.5 [M/H]);
 *   5. shifted features (line-list wavelength errors): VO bands moved by +1.2 g A and the K I
 *      doublet (cores and wings) by +0.5 g A;
 *   6. a different line list in a region: the forest of the TiO 8432 A band drawn from another
 *      seed, mixed in with weight min(g, 1) (same envelope, different lines).
 * S(x) = 1 / (1 + exp(-x)). */
#include "model_internal.h"

#include <math.h>
#include <string.h>

double sim_gap_scale(const ms_sim_model *m, sim_gapscale gs, const ms_sim_labels *lab)
{
    double T = lab->teff;
    switch (gs) {
    case GAPSCALE_TIO:
        return 1.0 + 0.12 * m->gap_part[MS_SIM_GAP_TIO_SCALE] * sim_sigmoid((3400.0 - T) / 200.0);
    case GAPSCALE_CAH_RED:
        return 1.0 + 0.35 * m->gap_part[MS_SIM_GAP_CAH_SCALE] * sim_sigmoid((T - 3500.0) / 200.0);
    case GAPSCALE_NONE: break;
    }
    return 1.0;
}

ms_status sim_gap_build(ms_sim_model *m)
{
    if (m->gap == 0.0) return MS_OK;

    /* 5. shifted features: the originals become synthetic-only, shifted copies observed-only */
    double g = m->gap_part[MS_SIM_GAP_SHIFTS];
    if (g > 0.0) {
        int n0 = m->ncomp;
        for (int i = 0; i < n0; i++) {
            const char *nm = m->comp[i].name;
            if (strcmp(nm, "VO") == 0 || strcmp(nm, "K I") == 0 || strcmp(nm, "K I wings") == 0)
                m->comp[i].domains = DOM_SYNTH;
        }
        MS_TRY(sim_model_add_vo(m, 1.2 * g, DOM_OBS));
        MS_TRY(sim_model_add_ki(m, 0.5 * g, DOM_OBS));
    }

    /* 6. another line list for the TiO 8432 A band: tau_obs = (1 - w) tau + w tau_alt */
    sim_component *c;
    g = m->gap_part[MS_SIM_GAP_LINE_LIST];
    if (g > 0.0) {
        double w = g < 1.0 ? g : 1.0;
        c = sim_model_add(m, "TiO 8432 line list", STR_TIO, GAPSCALE_TIO, DOM_OBS, 8425.0, 8815.0);
        if (!c) return MS_ENOMEM;
        sim_model_tio_band(m, c, SIM_TIO8432, 7109, w);
        sim_model_tio_band(m, c, SIM_TIO8432, SIM_TIO8432_SEED, -w);
    }

    /* 3. missing pseudo-continuum opacity (strength m->gap_part[MS_SIM_GAP_OPACITY], model.c) */
    c = sim_model_add(m, "missing opacity", STR_GAP_MISSING, GAPSCALE_NONE, DOM_OBS, 3550.0,
                      9350.0);
    if (!c) return MS_ENOMEM;
    for (size_t j = c->j0; j < c->j1; j++) {
        double lam = m->wave[j];
        double d = (lam - 8950.0) / 250.0;
        c->tau[j - c->j0] = exp(-(lam - 3550.0) / 700.0) + 0.5 * exp(-d * d);
    }

    /* 4. the unmodelled band (strength m->gap_part[MS_SIM_GAP_XBAND], model.c) */
    static const sim_band xband = {8345.0, 70.0, 40.0, 1.0, 0.40, 2.0, 0.30};
    c = sim_model_add(m, "unmodelled band 8345", STR_GAP_XBAND, GAPSCALE_NONE, DOM_OBS, 8340.0,
                      8416.0);
    if (!c) return MS_ENOMEM;
    sim_add_band(m, c, &xband, 700, 0.0, 1.0);
    return MS_OK;
}
