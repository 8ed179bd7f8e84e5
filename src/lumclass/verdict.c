/* verdict.c: the dwarf/giant verdict of the Table 3 lines and the combined luminosity_class
 * (lumclass.h; docs/lumclass.md gives the rule and its calibration). */
#include "mstars/lumclass.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const char *ms_lum_class_name(ms_lum_class c)
{
    return c == MS_LUM_DWARF ? "dwarf" : c == MS_LUM_GIANT ? "giant" : "unknown";
}

/* Calibrated on 87 real spectra with >= 3 indices (the 52 K5-M9 Kesseli et al. 2017 templates:
 * 44 dwarfs, 8 giants; 35 of the 37 LAMOST M dwarfs) by benchmarks/lumclass_calibrate.py: per
 * feature, the middle of the first run of thresholds with the best balanced accuracy.
 * Leave-one-out: 96.4% [93.7, 97.9] of the decided right, 4 of 87 unknown (docs/lumclass.md). */
void ms_lum_thresholds_default(ms_lum_thresholds *t)
{
    t->t_cah = 0.9633;
    t->t_ki = 1.1431;
    t->t_nai = 0.7599;
    t->t_cat = 6.6377;
}

/* One feature's vote: +1 giant, -1 dwarf, 0 abstain (NaN, or within 1 sigma of t). */
static int vote(double x, double e, double t, int giant_above)
{
    if (!isfinite(x)) return 0;
    double margin = isfinite(e) ? e : 0.0;
    if (fabs(x - t) <= margin) return 0;
    return (x > t) == (giant_above != 0) ? 1 : -1;
}

/* L25 Table 3: CaH dip / flat, K I deep / shallow, Na I deep / shallow, Ca II shallow / deep
 * (dwarf / giant); a majority of at least three votes decides. */
void ms_lum_line_verdict(const ms_lum_indices *ix, const ms_lum_thresholds *t,
                         ms_lum_verdict *out)
{
    ms_lum_thresholds def;
    if (!t) {
        ms_lum_thresholds_default(&def);
        t = &def;
    }
    int v[4] = {vote(ix->cah, ix->e_cah, t->t_cah, 1), vote(ix->ki, ix->e_ki, t->t_ki, 0),
                vote(ix->nai, ix->e_nai, t->t_nai, 0), vote(ix->cat, ix->e_cat, t->t_cat, 1)};
    memset(out, 0, sizeof *out);
    for (int k = 0; k < 4; k++) {
        if (v[k] > 0) {
            out->n_giant++;
            out->giant_votes |= 1u << k;
        } else if (v[k] < 0) {
            out->n_dwarf++;
            out->dwarf_votes |= 1u << k;
        }
    }
    out->cls = out->n_giant >= 3 && out->n_dwarf <= 1   ? MS_LUM_GIANT
               : out->n_dwarf >= 3 && out->n_giant <= 1 ? MS_LUM_DWARF
                                                        : MS_LUM_UNKNOWN;
}

/* ------------------------------------------------------------------ LAMOST's own label */
/* The luminosity in a LAMOST SUBCLASS: the M-star prefixes (dM, sdM, esdM, usdM: dwarf; gM:
 * giant; L25 Module 2 counts "LAMOST-gM") and MK luminosity classes after a spectral type
 * (V, VI: dwarf; I, Ia, Iab, Ib, II, III: giant; IV, a plain type, "Non": no vote). */
ms_lum_class ms_lum_lamost_vote(const char *subclass)
{
    if (!subclass) return MS_LUM_UNKNOWN;
    while (isspace((unsigned char)*subclass)) subclass++;
    const char *p = subclass;
    /* prefixes: g (giant); d, sd, esd, usd (dwarf, subdwarf) */
    if (p[0] == 'g' && p[1] && strchr("OBAFGKM", p[1])) return MS_LUM_GIANT;
    if (p[0] == 'd' && p[1] && strchr("OBAFGKM", p[1])) return MS_LUM_DWARF;
    if (strncmp(p, "sd", 2) == 0 || strncmp(p, "esd", 3) == 0 || strncmp(p, "usd", 3) == 0) {
        p += p[0] == 's' ? 2 : 3;
        return *p && strchr("OBAFGKM", *p) ? MS_LUM_DWARF : MS_LUM_UNKNOWN;
    }
    /* a spectral type, then an MK luminosity class */
    if (!*p || !strchr("OBAFGKM", *p)) return MS_LUM_UNKNOWN;
    p++;
    while (isdigit((unsigned char)*p) || *p == '.') p++;
    while (*p == ' ') p++;
    size_t n = 0;
    while (p[n] == 'I' || p[n] == 'V') n++;
    if (n == 0) return MS_LUM_UNKNOWN;
    if ((n == 1 && p[0] == 'V') || (n == 2 && p[0] == 'V' && p[1] == 'I')) return MS_LUM_DWARF;
    if (n == 2 && p[0] == 'I' && p[1] == 'V') return MS_LUM_UNKNOWN; /* subgiant */
    if (n <= 3 && strspn(p, "I") >= n) return MS_LUM_GIANT;          /* I, II, III (+a, ab, b) */
    return MS_LUM_UNKNOWN;
}

/* The automated form of L25 3.4.2: votes from the CNN, the CMD (CMD_flag = 1), the lines and
 * LAMOST's subclass, weighted 1, 1, 1 and MS_LUM_W_LAMOST; agreement of at least a weight of 1
 * gives the class; a disagreement makes a giant candidate that the lines decide, or, without a
 * line verdict, the side ahead by a weight of at least 1. */
ms_lum_class ms_lum_combine(double dmgm_prob, const ms_cmd_result *cmd,
                            const ms_lum_verdict *lines, ms_lum_class lamost, char *reason,
                            size_t len)
{
    static const char *src[4] = {"cnn", "cmd", "lines", "lamost"};
    static const double weight[4] = {1.0, 1.0, 1.0, MS_LUM_W_LAMOST};
    ms_lum_class v[4] = {MS_LUM_UNKNOWN, MS_LUM_UNKNOWN, MS_LUM_UNKNOWN, lamost};
    if (isfinite(dmgm_prob) && dmgm_prob != 0.5)
        v[0] = dmgm_prob > 0.5 ? MS_LUM_GIANT : MS_LUM_DWARF;
    if (cmd && cmd->flag && (cmd->pos == MS_CMD_DM || cmd->pos == MS_CMD_GM))
        v[1] = cmd->pos == MS_CMD_GM ? MS_LUM_GIANT : MS_LUM_DWARF;
    if (lines) v[2] = lines->cls;

    char dw[40] = "", gi[40] = "";
    int n_d = 0, n_g = 0;
    double w_d = 0.0, w_g = 0.0;
    for (int k = 0; k < 4; k++) {
        char *b = v[k] == MS_LUM_DWARF ? dw : v[k] == MS_LUM_GIANT ? gi : NULL;
        if (!b) continue;
        if (*b) strcat(b, ",");
        strcat(b, src[k]);
        if (v[k] == MS_LUM_DWARF) {
            n_d++;
            w_d += weight[k];
        } else {
            n_g++;
            w_g += weight[k];
        }
    }
    ms_lum_class c;
    if (n_d == 0 && n_g == 0) {
        c = MS_LUM_UNKNOWN;
        const char *cs = !cmd || cmd->pos == MS_CMD_NONE ? "none"
                         : !cmd->flag                    ? "CMD_flag 0"
                                                         : "other";
        snprintf(reason, len, "no vote: cnn %s, cmd %s, lines %s",
                 isfinite(dmgm_prob) ? "0.5" : "absent", cs,
                 lines && (lines->n_giant || lines->n_dwarf) ? "undecided" : "unmeasured");
    } else if (n_g == 0 || n_d == 0) {
        const double w = n_g ? w_g : w_d;
        c = w >= 1.0 ? (n_g ? MS_LUM_GIANT : MS_LUM_DWARF) : MS_LUM_UNKNOWN;
        if (c == MS_LUM_UNKNOWN)
            snprintf(reason, len, "only %s says %s: weight %.1f < 1", n_g ? gi : dw,
                     n_g ? "giant" : "dwarf", w);
        else
            snprintf(reason, len, "agree %s: %s", n_g ? "giant" : "dwarf", n_g ? gi : dw);
    } else if (v[2] != MS_LUM_UNKNOWN) {
        c = v[2];
        snprintf(reason, len, "disagree: dwarf %s, giant %s; lines decide", dw, gi);
    } else {
        c = w_d - w_g >= 1.0 ? MS_LUM_DWARF : w_g - w_d >= 1.0 ? MS_LUM_GIANT : MS_LUM_UNKNOWN;
        snprintf(reason, len, "disagree: dwarf %s, giant %s; %s", dw, gi,
                 c == MS_LUM_UNKNOWN ? "no line verdict" : "weight decides");
    }
    return c;
}
