/* columns.c: the catalog column group "lum" (schema.h) over ms_lum_row (lumclass.h), and the
 * one-row entry point a stage calls (ms_lum_fill_row). The identification columns of a row
 * (id, obsid, store_status) are the driver's. Column names follow L25's catalogue (Table 9):
 * CMD_flag, CMD_pos, M_G_0, bp_rp_0, luminosity_class. */
#include "mstars/lumclass.h"
#include "mstars/native.h"
#include "mstars/schema.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#define C(name, type, field, units, desc)                                                  \
    {MS_CATALOG_GROUP "/" name, type, 0, offsetof(ms_lum_row, field), units, desc}
#define S(name, field, desc)                                                               \
    {MS_CATALOG_GROUP "/" name, MS_H5_STR, sizeof(((ms_lum_row *)0)->field),              \
     offsetof(ms_lum_row, field), "", desc}

static const ms_catalog_column lum_columns[] = {
    C("M_G_0", MS_H5_F64, m_g0, "mag", "extinction-corrected absolute G, L25 Eq. 1: G - 5 lg(d) "
      "+ 5 - A_G (NaN: no photometry or distance)"),
    C("bp_rp_0", MS_H5_F64, bp_rp0, "mag", "(BP-RP)_0 = BP - RP - E(BP-RP)"),
    C("cmd_dist", MS_H5_F64, dist_pc, "pc", "distance used: r_med_geo, else 1000/parallax"),
    C("cmd_a_g", MS_H5_F64, a_g, "mag", "A_G used (0 when no extinction was given)"),
    C("cmd_e_bp_rp", MS_H5_F64, e_bp_rp, "mag", "E(BP-RP) used"),
    C("CMD_flag", MS_H5_I32, cmd_flag, "", "1: parallax_over_error > 5, phot_{g,bp,rp}_mean_"
      "flux_over_error > 20 and ruwe < 1.4 (L25 3.4.1); 0 otherwise or missing"),
    C("cmd_bits", MS_H5_U32, cmd_bits, "", "bits (attribute flag_names): 0 no photometry, 1 no "
      "distance, 2 distance from parallax, 3 no extinction, 4-8 cut failed: parallax, G, BP, RP, "
      "RUWE"),
    S("CMD_pos", cmd_pos, "L25 Fig. 6 region of (bp_rp_0, M_G_0): dM, gM (brighter than M_G = "
      "1.8 (BP-RP)_0 - 2.2), other, none; given whatever CMD_flag says"),
    C("lum_rv_rest", MS_H5_F64, rv_rest, "km/s", "velocity that took the spectrum to the rest "
      "frame for the line indices (LAMOST Z*c; 0 when Z is missing)"),
    C("lum_cah", MS_H5_F64, cah, "", "CaH3 band ratio (L25 Table 3 CaH; vacuum 6962-6992 / "
      "7044-7048 A): dip (small) in dwarfs"),
    C("e_lum_cah", MS_H5_F64, e_cah, "", "its error"),
    C("lum_ki", MS_H5_F64, ki, "A", "K I 7667/7701 pseudo-EW (deep in dwarfs)"),
    C("e_lum_ki", MS_H5_F64, e_ki, "A", "its error"),
    C("lum_nai", MS_H5_F64, nai, "A", "Na I 8185/8197 pseudo-EW (deep in dwarfs)"),
    C("e_lum_nai", MS_H5_F64, e_nai, "A", "its error"),
    C("lum_cat", MS_H5_F64, cat, "A", "Ca II 8500/8544/8665 pseudo-EW sum (deep in giants)"),
    C("e_lum_cat", MS_H5_F64, e_cat, "A", "its error"),
    C("lum_tio5", MS_H5_F64, tio5, "", "TiO5 band ratio on the same spectrum (type; no vote)"),
    C("line_n_giant", MS_H5_I32, line_n_giant, "", "Table 3 features voting giant (of 4)"),
    C("line_n_dwarf", MS_H5_I32, line_n_dwarf, "", "Table 3 features voting dwarf (of 4)"),
    S("line_class", line_class, "verdict of the Table 3 lines: dwarf, giant (>= 3 votes, <= 1 "
      "against), unknown"),
    S("luminosity_class", luminosity_class, "dwarf, giant or unknown: CNN-dMgM, CMD (CMD_flag=1) "
      "and lines; agreement, else the lines decide (docs/lumclass.md)"),
    C("lum_code", MS_H5_I32, lum_code, "", "luminosity_class as 0 unknown, 1 dwarf, 2 giant"),
    S("lum_reason", lum_reason, "which sources agree or disagree (cnn, cmd, lines)"),
    {NULL, 0, 0, 0, NULL, NULL},
};

static const char *const cmd_bit_names[] = {"no_phot", "no_dist", "dist_from_parallax", "no_ext",
                                            "cut_parallax", "cut_g_flux", "cut_bp_flux",
                                            "cut_rp_flux", "cut_ruwe", NULL};
static const ms_flag_bits lum_flags[] = {{"cmd_bits", cmd_bit_names}, {NULL, NULL}};

const ms_column_group ms_group_lum = {
    "lum", "Li et al. 2025 dwarf/giant: Gaia CMD (Eq. 1), Table 3 line indices, luminosity_class",
    lum_columns, sizeof(ms_lum_row), lum_flags};

static void set_str(char *dst, size_t len, const char *src)
{
    memset(dst, 0, len);
    strncpy(dst, src, len - 1);
}

void ms_lum_fill_row(const ms_cmd_input *gaia, const float *flux, const float *ivar,
                     const uint8_t *mask, double rv_kms, double dmgm_prob,
                     const ms_lum_thresholds *t, ms_lum_row *row)
{
    ms_lum_fill_row_lamost(gaia, flux, ivar, mask, rv_kms, dmgm_prob, NULL, t, row);
}

void ms_lum_fill_row_lamost(const ms_cmd_input *gaia, const float *flux, const float *ivar,
                            const uint8_t *mask, double rv_kms, double dmgm_prob,
                            const char *lamost_subclass, const ms_lum_thresholds *t,
                            ms_lum_row *row)
{
    memset(row, 0, sizeof *row);
    ms_cmd_result cmd;
    ms_cmd_input none;
    if (!gaia) {
        ms_cmd_input_init(&none);
        gaia = &none;
    }
    ms_cmd_classify(gaia, &cmd);
    row->m_g0 = cmd.m_g0;
    row->bp_rp0 = cmd.bp_rp0;
    row->dist_pc = cmd.dist_pc;
    row->a_g = cmd.a_g;
    row->e_bp_rp = cmd.e_bp_rp;
    row->cmd_flag = cmd.flag;
    row->cmd_bits = cmd.bits;
    set_str(row->cmd_pos, sizeof row->cmd_pos, ms_cmd_pos_name(cmd.pos));

    ms_lum_indices ix;
    ms_lum_verdict lines;
    row->rv_rest = isfinite(rv_kms) ? rv_kms : 0.0;
    if (flux) {
        ms_lum_measure_native(flux, ivar, mask,
                              MS_NATIVE_ORMASK | MS_NATIVE_ANDMASK | MS_NATIVE_NODATA,
                              row->rv_rest, &ix);
    } else {
        ms_lum_measure(NULL, NULL, NULL, NULL, 0, &ix);
    }
    ms_lum_line_verdict(&ix, t, &lines);
    row->cah = ix.cah;
    row->e_cah = ix.e_cah;
    row->ki = ix.ki;
    row->e_ki = ix.e_ki;
    row->nai = ix.nai;
    row->e_nai = ix.e_nai;
    row->cat = ix.cat;
    row->e_cat = ix.e_cat;
    row->tio5 = ix.tio5;
    row->line_n_giant = lines.n_giant;
    row->line_n_dwarf = lines.n_dwarf;
    set_str(row->line_class, sizeof row->line_class, ms_lum_class_name(lines.cls));

    ms_lum_class c = ms_lum_combine(dmgm_prob, &cmd, &lines,
                                    ms_lum_lamost_vote(lamost_subclass), row->lum_reason,
                                    sizeof row->lum_reason);
    row->lum_code = (int32_t)c;
    set_str(row->luminosity_class, sizeof row->luminosity_class, ms_lum_class_name(c));
}
