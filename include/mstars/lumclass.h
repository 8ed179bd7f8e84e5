/* lumclass.h: which M stars are dwarfs and which are giants (Li et al. 2025 3.4.1-3.4.2,
 * reference/seeds_summary.md 1.3 Modules 1 and 2). Pure computation: no MPI, no store I/O
 * (the driver is src/stage/lumclass.c, `mstars lumclass`; a classify stage fills the same row
 * with ms_lum_fill_row). Four sources:
 *
 *  1. The Gaia CMD module (L25 Eq. 1, L21 2.1): M_G = G - 5 lg(d) + 5 - A_G, the five quality
 *     cuts (parallax_over_error > 5, phot_{g,bp,rp}_mean_flux_over_error > 20, ruwe < 1.4)
 *     giving CMD_flag, and the position CMD_pos in ((BP-RP)_0, M_G): "dM" inside the
 *     quadrilateral (0.7,5) (1.4,5) (5,16.5) (4,16.5); "gM" brighter than the line
 *     M_G = 1.8 (BP-RP)_0 - 2.2 (the side above the dashed line of L25 Fig. 6, where M giants
 *     lie: M_G from about -2 to +2 at (BP-RP)_0 2-4; the two regions do not touch for
 *     (BP-RP)_0 > 0); "other" elsewhere; "none" without photometry or distance.
 *  2. The line criteria of L25 Table 3 as measured indices on the rest-frame spectrum
 *     (vacuum wavelengths): the CaH band (CaH3 of Reid et al. 1995, inside 6946-7050 A), the
 *     K I doublet (7667, 7701), the Na I doublet (8185, 8197) and the Ca II triplet (8500,
 *     8544, 8665) as pseudo-equivalent widths, and a dwarf/giant verdict from their votes with
 *     thresholds calibrated on real spectra (docs/lumclass.md).
 *  3. The CNN-dMgM probability of a giant (the classify stage; NaN when absent).
 *  4. LAMOST's own label: the luminosity its SUBCLASS states (gM, dM, sdM, MK III/V), with
 *     half a vote's weight (MS_LUM_W_LAMOST).
 *
 * ms_lum_combine turns the four into luminosity_class (dwarf, giant, unknown) and a reason. */
#ifndef MSTARS_LUMCLASS_H
#define MSTARS_LUMCLASS_H

#include "mstars/schema.h"

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- 1. Gaia CMD */
/* The quality cuts of L25 3.4.1 (L21 2.1). */
#define MS_CMD_PLX_OVER_ERR_MIN 5.0
#define MS_CMD_FLUX_OVER_ERR_MIN 20.0
#define MS_CMD_RUWE_MAX 1.4
/* The gM line M_G = slope (BP-RP)_0 + intercept. */
#define MS_CMD_GM_SLOPE 1.8
#define MS_CMD_GM_INTERCEPT (-2.2)
/* Casagrande & VandenBerg 2018 (the coefficients L25 cites): A_X = R_X E(B-V). */
#define MS_CMD_R_G 2.740
#define MS_CMD_R_BP 3.374
#define MS_CMD_R_RP 2.035

/* One star's Gaia inputs (the store's /input columns, docs/lumclass.md); NaN when absent. */
typedef struct {
    double g, bp, rp;                 /* phot_{g,bp,rp}_mean_mag */
    double parallax, parallax_error;  /* mas */
    double parallax_over_error;       /* NaN: parallax / parallax_error */
    double r_med_geo;                 /* pc (Bailer-Jones 2021); NaN: 1000 / parallax */
    double flux_over_error[3];        /* phot_{g,bp,rp}_mean_flux_over_error */
    double ruwe;
    double a_g, e_bp_rp;              /* extinction and reddening, mag; or else ... */
    double ebv;                       /* ... E(B-V), converted with MS_CMD_R_* */
} ms_cmd_input;

/* An ms_cmd_input with every field NaN. */
void ms_cmd_input_init(ms_cmd_input *in);

typedef enum { MS_CMD_NONE = 0, MS_CMD_DM = 1, MS_CMD_GM = 2, MS_CMD_OTHER = 3 } ms_cmd_pos;

/* Bits of cmd_bits: why CMD_flag is 0, and how M_G_0 was made. */
enum {
    MS_CMD_BIT_NO_PHOT = 1u << 0,    /* G, BP or RP missing */
    MS_CMD_BIT_NO_DIST = 1u << 1,    /* no r_med_geo and no positive parallax */
    MS_CMD_BIT_DIST_PLX = 1u << 2,   /* distance = 1000 / parallax (no r_med_geo) */
    MS_CMD_BIT_NO_EXT = 1u << 3,     /* no extinction given: A_G = E(BP-RP) = 0 */
    MS_CMD_BIT_CUT_PLX = 1u << 4,    /* parallax_over_error <= 5 or missing */
    MS_CMD_BIT_CUT_G = 1u << 5,      /* phot_g_mean_flux_over_error <= 20 or missing */
    MS_CMD_BIT_CUT_BP = 1u << 6,     /* ... bp ... */
    MS_CMD_BIT_CUT_RP = 1u << 7,     /* ... rp ... */
    MS_CMD_BIT_CUT_RUWE = 1u << 8,   /* ruwe >= 1.4 or missing */
};

typedef struct {
    double m_g0, bp_rp0;  /* extinction-corrected absolute G and colour (NaN: not computable) */
    double dist_pc, a_g, e_bp_rp; /* what was used */
    int flag;             /* CMD_flag: 1 = the five cuts pass (and M_G_0, colour computable) */
    ms_cmd_pos pos;
    uint32_t bits;
} ms_cmd_result;

/* L25 Eq. 1 and the cuts; CMD_pos is given whenever M_G_0 and the colour are computable
 * (whatever CMD_flag says: L25 uses it where CMD_flag = 1, and so does ms_lum_combine). */
void ms_cmd_classify(const ms_cmd_input *in, ms_cmd_result *out);
/* The region of a point of the ((BP-RP)_0, M_G) plane (NaN: MS_CMD_NONE). */
ms_cmd_pos ms_cmd_region(double bp_rp0, double m_g0);
const char *ms_cmd_pos_name(ms_cmd_pos p); /* "none", "dM", "gM", "other" */

/* ---------------------------------------------------------------- 2. Table 3 lines */
typedef struct {
    double cah, e_cah;    /* CaH3 band ratio (dip in dwarfs: small) */
    double ki, e_ki;      /* K I doublet pseudo-EW, A (deep in dwarfs: large) */
    double nai, e_nai;    /* Na I doublet pseudo-EW, A (deep in dwarfs) */
    double cat, e_cat;    /* Ca II triplet pseudo-EW (sum of three), A (deep in giants) */
    double tio5, e_tio5;  /* TiO5 band ratio (spectral type; not a vote) */
} ms_lum_indices;

/* Measure the indices on a spectrum given on any increasing rest-frame vacuum wavelength
 * array (A): flux, ivar (NULL: no errors, every finite pixel good) and bad (NULL or nonzero
 * = drop the pixel). An index is NaN when its bands are not covered by good pixels (half of
 * each continuum band, 70% of each line window) or its continuum is not positive. */
void ms_lum_measure(const double *wave, const float *flux, const float *ivar,
                    const uint8_t *bad, size_t n, ms_lum_indices *out);

/* The same on the store's native view (native.h), shifted to the rest frame by rv_kms
 * (observed / (1 + rv/c)); pixels with any of mask's bits in reject_bits are dropped. */
void ms_lum_measure_native(const float *flux, const float *ivar, const uint8_t *mask,
                           unsigned reject_bits, double rv_kms, ms_lum_indices *out);

typedef enum { MS_LUM_UNKNOWN = 0, MS_LUM_DWARF = 1, MS_LUM_GIANT = 2 } ms_lum_class;
const char *ms_lum_class_name(ms_lum_class c); /* "unknown", "dwarf", "giant" */

/* The thresholds of the votes (calibrated on real spectra: benchmarks/lumclass_calibrate.py,
 * docs/lumclass.md). A feature votes giant when cah > t_cah, ki < t_ki, nai < t_nai,
 * cat > t_cat; it abstains when NaN or within its 1-sigma error of the threshold. */
typedef struct {
    double t_cah, t_ki, t_nai, t_cat;
} ms_lum_thresholds;
void ms_lum_thresholds_default(ms_lum_thresholds *t);

typedef struct {
    ms_lum_class cls;
    int n_giant, n_dwarf; /* votes (of 4: cah, ki, nai, cat) */
    uint32_t giant_votes; /* bit k: feature k (cah, ki, nai, cat) voted giant */
    uint32_t dwarf_votes;
} ms_lum_verdict;

/* Giant when >= 3 features vote giant and <= 1 dwarf; dwarf when >= 3 vote dwarf and <= 1
 * giant; else unknown. */
void ms_lum_line_verdict(const ms_lum_indices *ix, const ms_lum_thresholds *t,
                         ms_lum_verdict *out);

/* ---------------------------------------------------------------- 3. LAMOST's own label */
/* The weight of LAMOST's subclass in ms_lum_combine (the other three sources weigh 1): LAMOST
 * labels make giant candidates (L25: the union LAMOST-gM u CNN-gM u CMD-gM) and break a tie
 * only together with another source; alone they decide nothing (docs/lumclass.md: L25 found
 * 279 dwarfs among LAMOST's gM and 1799 giants among its dM). */
#define MS_LUM_W_LAMOST 0.5

/* The luminosity a LAMOST SUBCLASS states: dwarf for dM.., sdM.., esdM.., usdM.. and MK class
 * V or VI (e.g. "K3V"); giant for gM.. and MK I, II, III (e.g. "K3III", "G8II"); unknown (no
 * vote) for a plain type ("M2", "K7"), a subgiant ("G8IV"), "Non", empty or NULL. */
ms_lum_class ms_lum_lamost_vote(const char *subclass);

/* ---------------------------------------------------------------- 4. combination */
/* The automated form of L25's rule (docs/lumclass.md): the votes are CNN-dMgM (giant when
 * dmgm_prob > 0.5, dwarf when < 0.5, none when NaN), the CMD (only with CMD_flag = 1: dM
 * dwarf, gM giant), the line verdict (weight 1 each) and LAMOST's subclass (`lamost`, from
 * ms_lum_lamost_vote; weight MS_LUM_W_LAMOST). No vote: unknown. All votes agree: that class
 * when their weight is at least 1 (LAMOST alone: unknown). Otherwise the star is a giant
 * candidate and the Table 3 lines decide it, as L25's visual inspection did; when the lines
 * give no verdict, the side whose weight leads by at least 1, else unknown. `reason` (len >=
 * 64) names the sources that agree and those that disagree. */
ms_lum_class ms_lum_combine(double dmgm_prob, const ms_cmd_result *cmd,
                            const ms_lum_verdict *lines, ms_lum_class lamost, char *reason,
                            size_t len);

/* ---------------------------------------------------------------- the column group */
#define MS_LUM_REASON_LEN 64

/* The row of the column group "lum" (src/lumclass/columns.c). */
typedef struct {
    double m_g0, bp_rp0, dist_pc, a_g, e_bp_rp;
    int32_t cmd_flag;
    uint32_t cmd_bits;
    char cmd_pos[8];
    double rv_rest;       /* km/s, the velocity that took the spectrum to its rest frame */
    double cah, e_cah, ki, e_ki, nai, e_nai, cat, e_cat, tio5;
    int32_t line_n_giant, line_n_dwarf;
    char line_class[8];
    char luminosity_class[8];
    int32_t lum_code;     /* 0 unknown, 1 dwarf, 2 giant */
    char lum_reason[MS_LUM_REASON_LEN];
} ms_lum_row;

extern const ms_column_group ms_group_lum;

/* One spectrum: what a stage calls per row. Inputs: the store row's Gaia columns, its native
 * view (flux, ivar, mask: MS_NATIVE_NPIX each; flux NULL: no spectrum, no line verdict),
 * the velocity to the rest frame (rv_kms; NaN: observed frame, as 0), the CNN-dMgM
 * probability of a giant (NaN when absent) and the thresholds (NULL: defaults). */
void ms_lum_fill_row(const ms_cmd_input *gaia, const float *flux, const float *ivar,
                     const uint8_t *mask, double rv_kms, double dmgm_prob,
                     const ms_lum_thresholds *t, ms_lum_row *row);
/* The same with LAMOST's SUBCLASS of the row (the store's /meta/subclass; NULL: no vote) as
 * the fourth source of luminosity_class (ms_lum_fill_row passes NULL). */
void ms_lum_fill_row_lamost(const ms_cmd_input *gaia, const float *flux, const float *ivar,
                            const uint8_t *mask, double rv_kms, double dmgm_prob,
                            const char *lamost_subclass, const ms_lum_thresholds *t,
                            ms_lum_row *row);

#endif
