#!/usr/bin/env python3
"""Honest uncertainties (issue 7): the spread of (fit - truth) / e_<p>_total per S/N bin.

usage: honest_errors.py TRUTH.csv LABEL=CATALOG.h5 [LABEL=CATALOG.h5 ...]
                        [--check-fraction F] [--markdown]

Each catalog has been through `mstars calibrate-errors`. Its fitted rows (store_status 0,
no failed-fit bit) are joined to the truth by obsid, and the standard deviation of
z = (fit - truth) / e_<p>_total is printed for rv, teff, logg, m_h, alpha_m, over all rows
and in S/N_r bins <5, 5-10, 10-20, 20-50, 50+ (a bin with fewer than 20 rows is left out);
honest errors give 1 (issue 7: 0.8 to 1.25). The last lines give, per catalog, the worst
factor max(std, 1/std) over the bins of S/N >= 5 (those of issue 7).

Rows: when calibrate-errors estimated a floor from a fraction F < 1 of the stars
(attribute sys_fraction of e_<p>_total), only the other stars are used, those whose
source_id g has u(g) >= F, u the hash of include/mstars/sys_errors.h (reproduced below), so
the check is independent of the floor. --check-fraction F applies the same selection to
catalogs without a floor, so that all catalogs are judged on the same rows."""
import csv
import sys

import h5py
import numpy as np

PARAMS = ["rv", "teff", "logg", "m_h", "alpha_m"]
BINS = [(0, 5), (5, 10), (10, 20), (20, 50), (50, np.inf)]
FAILED = (1 << 4) | (1 << 5) | (1 << 6)
MIN_ROWS = 20
MASK = (1 << 64) - 1


def split_u(g):
    """u(g) = (splitmix64(g) >> 11) / 2^53 (include/mstars/sys_errors.h)."""
    z = (int(g) + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return ((z ^ (z >> 31)) >> 11) * 2.0**-53


def attr(ds, name, default):
    v = ds.attrs.get(name, default)
    if isinstance(v, bytes):
        return v.decode()
    return np.ravel(v)[0] if np.ndim(v) else v


def evaluate(path, truth, check_fraction):
    """Per parameter: (description of the errors, fraction used, {bin: (std, n)})."""
    out = {}
    with h5py.File(path, "r") as f:
        c = f["catalog"]
        obsid = [o.decode().strip() for o in c["obsid"][:]]
        ok = (c["store_status"][:] == 0) & ((c["fit_flags"][:] & FAILED) == 0)
        snr = c["snr_r"][:]
        group = c["source_id"][:]
        u = np.array([split_u(g) for g in group])
        for p in PARAMS:
            name = "e_%s_total" % p
            if name not in c or p not in c:
                continue
            e = c[name]
            frac = float(attr(e, "sys_fraction", 0.0))
            if not (0 < frac < 1):
                frac = check_fraction
            rows = ok & (group >= 0) & (u >= frac) if frac < 1 else ok.copy()
            t = np.array([float(truth[o][p]) if o in truth and truth[o][p] != "" else np.nan
                          for o in obsid])
            z = (c[p][:] - t) / e[:]
            rows &= np.isfinite(z)
            cells = {"all": (np.std(z[rows]), int(rows.sum()))}
            for lo, hi in BINS:
                s = rows & (snr >= lo) & (snr < hi)
                if s.sum() >= MIN_ROWS:
                    cells[(lo, hi)] = (np.std(z[s]), int(s.sum()))
            desc = "combine %s, floor %.4g" % (attr(e, "combine", "z25"),
                                               float(attr(e, "sys_floor", 0.0)))
            if attr(e, "sys_model", "") == "scaled":
                desc += ", k %.3g" % float(attr(e, "sys_scale", 1.0))
            out[p] = (desc, frac, cells)
    return out


def bin_name(b):
    lo, hi = b
    return "S/N < %g" % hi if lo == 0 else ("%g+" % lo if np.isinf(hi) else "%g-%g" % (lo, hi))


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    markdown = "--markdown" in argv
    check_fraction = 1.0
    if "--check-fraction" in argv:
        check_fraction = float(argv[argv.index("--check-fraction") + 1])
        args.remove(argv[argv.index("--check-fraction") + 1])
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0]) as fh:
        truth = {r["obsid"].strip(): r for r in csv.DictReader(fh)}
    cats = [a.split("=", 1) if "=" in a else (a, a) for a in args[1:]]
    results = [(label, evaluate(path, truth, check_fraction)) for label, path in cats]
    cols = ["all"] + BINS
    if markdown:
        print("| parameter | errors | " + " | ".join(
            "all" if b == "all" else bin_name(b) for b in cols) + " |")
        print("|---|---|" + "---|" * len(cols))
    worst = {}
    for p in PARAMS:
        for label, res in results:
            if p not in res:
                continue
            desc, frac, cells = res[p]
            vals = []
            for b in cols:
                if b in cells:
                    sd, n = cells[b]
                    vals.append("%.2f (%d)" % (sd, n))
                    if b != "all" and b[0] >= 5:
                        w = max(sd, 1 / sd)
                        worst[label] = max(worst.get(label, 0), w)
                else:
                    vals.append("-")
            if markdown:
                print("| %s | %s (%s) | %s |" % (p, label, desc, " | ".join(vals)))
            else:
                print("%-8s %-28s %s" % (p, "%s (%s)" % (label, desc),
                                         "  ".join("%s %s" % ("all" if b == "all" else bin_name(b), v)
                                                   for b, v in zip(cols, vals))))
    if markdown:
        print()
    for label, _ in results:
        print("%sworst factor from 1 over the S/N >= 5 bins, %s: %.2f" %
              ("- " if markdown else "", label, worst.get(label, float("nan"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
