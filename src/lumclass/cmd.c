/* cmd.c: the Gaia CMD module of Li et al. 2025 (L25 3.4.1 Eq. 1, Fig. 6; L21 2.1): the
 * extinction-corrected absolute magnitude, the five quality cuts and the dM / gM regions. */
#include "mstars/lumclass.h"

#include <math.h>

void ms_cmd_input_init(ms_cmd_input *in)
{
    in->g = in->bp = in->rp = NAN;
    in->parallax = in->parallax_error = in->parallax_over_error = NAN;
    in->r_med_geo = NAN;
    in->flux_over_error[0] = in->flux_over_error[1] = in->flux_over_error[2] = NAN;
    in->ruwe = NAN;
    in->a_g = in->e_bp_rp = in->ebv = NAN;
}

const char *ms_cmd_pos_name(ms_cmd_pos p)
{
    switch (p) {
    case MS_CMD_DM: return "dM";
    case MS_CMD_GM: return "gM";
    case MS_CMD_OTHER: return "other";
    default: return "none";
    }
}

/* The dM quadrilateral of L25 Fig. 6 (from L21 Fig. 1), vertices in order round its edge. */
static const double quad[4][2] = {{0.7, 5.0}, {1.4, 5.0}, {5.0, 16.5}, {4.0, 16.5}};

/* Inside or on the edge of the convex quadrilateral: the point is on the same side of every
 * edge (cross products of one sign; within EDGE_TOL mag^2 of zero counts as on the edge, so
 * that a point computed on an edge is not lost to rounding). */
#define EDGE_TOL 1e-9
static int in_dm_region(double x, double y)
{
    int pos = 0, neg = 0;
    for (int k = 0; k < 4; k++) {
        const double *a = quad[k], *b = quad[(k + 1) % 4];
        double c = (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0]);
        if (c > EDGE_TOL) pos = 1;
        if (c < -EDGE_TOL) neg = 1;
    }
    return !(pos && neg);
}

/* L25 Fig. 6: the dM quadrilateral and the gM side of M_G = 1.8 (BP-RP)_0 - 2.2 (the
 * brighter side: smaller M_G, "above" on the CMD's inverted magnitude axis). */
ms_cmd_pos ms_cmd_region(double bp_rp0, double m_g0)
{
    if (!isfinite(bp_rp0) || !isfinite(m_g0)) return MS_CMD_NONE;
    if (in_dm_region(bp_rp0, m_g0)) return MS_CMD_DM;
    if (m_g0 < MS_CMD_GM_SLOPE * bp_rp0 + MS_CMD_GM_INTERCEPT) return MS_CMD_GM;
    return MS_CMD_OTHER;
}

/* L25 Eq. 1: M_G = G - 5 lg(d) + 5 - A_G, d in pc (r_med_geo, else 1000 / parallax[mas]);
 * (BP-RP)_0 = BP - RP - E(BP-RP). Extinction: a_g and e_bp_rp when given, else E(B-V) times
 * Casagrande & VandenBerg 2018's coefficients, else none (bit NO_EXT). */
void ms_cmd_classify(const ms_cmd_input *in, ms_cmd_result *out)
{
    out->m_g0 = out->bp_rp0 = out->dist_pc = out->a_g = out->e_bp_rp = NAN;
    out->flag = 0;
    out->pos = MS_CMD_NONE;
    uint32_t bits = 0;

    if (!isfinite(in->g) || !isfinite(in->bp) || !isfinite(in->rp)) bits |= MS_CMD_BIT_NO_PHOT;
    double d = NAN;
    if (isfinite(in->r_med_geo) && in->r_med_geo > 0) {
        d = in->r_med_geo;
    } else if (isfinite(in->parallax) && in->parallax > 0) {
        d = 1000.0 / in->parallax;
        bits |= MS_CMD_BIT_DIST_PLX;
    } else {
        bits |= MS_CMD_BIT_NO_DIST;
    }
    double ag = NAN, ebr = NAN;
    if (isfinite(in->a_g) || isfinite(in->e_bp_rp)) {
        /* a direct value wins; a missing half comes from E(B-V) when that is given */
        ag = isfinite(in->a_g) ? in->a_g : MS_CMD_R_G * in->ebv;
        ebr = isfinite(in->e_bp_rp) ? in->e_bp_rp : (MS_CMD_R_BP - MS_CMD_R_RP) * in->ebv;
    } else if (isfinite(in->ebv)) {
        ag = MS_CMD_R_G * in->ebv;
        ebr = (MS_CMD_R_BP - MS_CMD_R_RP) * in->ebv;
    }
    if (!isfinite(ag) || !isfinite(ebr)) {
        ag = ebr = 0.0;
        bits |= MS_CMD_BIT_NO_EXT;
    }
    out->dist_pc = d;
    out->a_g = ag;
    out->e_bp_rp = ebr;
    if (!(bits & (MS_CMD_BIT_NO_PHOT | MS_CMD_BIT_NO_DIST))) {
        out->m_g0 = in->g - 5.0 * log10(d) + 5.0 - ag;
        out->bp_rp0 = in->bp - in->rp - ebr;
    }

    /* the five cuts (L25 3.4.1 items 1-5); a missing value fails its cut */
    double poe = in->parallax_over_error;
    if (!isfinite(poe) && isfinite(in->parallax) && isfinite(in->parallax_error) &&
        in->parallax_error > 0)
        poe = in->parallax / in->parallax_error;
    if (!(poe > MS_CMD_PLX_OVER_ERR_MIN)) bits |= MS_CMD_BIT_CUT_PLX;
    static const uint32_t cut_bits[3] = {MS_CMD_BIT_CUT_G, MS_CMD_BIT_CUT_BP, MS_CMD_BIT_CUT_RP};
    for (int b = 0; b < 3; b++)
        if (!(in->flux_over_error[b] > MS_CMD_FLUX_OVER_ERR_MIN)) bits |= cut_bits[b];
    if (!(in->ruwe < MS_CMD_RUWE_MAX)) bits |= MS_CMD_BIT_CUT_RUWE;

    out->pos = ms_cmd_region(out->bp_rp0, out->m_g0);
    const uint32_t fail = MS_CMD_BIT_NO_PHOT | MS_CMD_BIT_NO_DIST | MS_CMD_BIT_CUT_PLX |
                          MS_CMD_BIT_CUT_G | MS_CMD_BIT_CUT_BP | MS_CMD_BIT_CUT_RP |
                          MS_CMD_BIT_CUT_RUWE;
    out->flag = (bits & fail) == 0;
    out->bits = bits;
}
