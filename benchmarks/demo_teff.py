#!/usr/bin/env python3
"""demo_teff.py: where the Teff scatter of a fit catalog comes from, on a mock universe
(issue 24, benchmarks/RESULTS.md "Issue 24: the main job").

usage: demo_teff.py CATALOG.h5 TRUTH.csv [--prefix z25_]

Per S/N_r bin (20-50, > 50), single stars only (truth `binary` = 0): the Teff bias and scatter
against the truth, the scatter of the [alpha/M] and log g errors, the slope of the Teff error on
the [alpha/M] error, the Teff scatter with that linear dependence removed, and the correlations
of the Teff error with the other labels' errors. Also all rows and the binaries alone at S/N > 50.
--prefix reads a combined catalog's method columns (z25_teff, ...).
Then the pulls (value - truth) / error per S/N bin, single stars: rms and median |pull| / 0.674
of each label with the fit's error e_* and, where the catalog has it (after calibrate-errors),
with e_*_total (issue 24 part 3: honest errors before and after the [alpha/M] prior).
"""
import argparse
import csv

import h5py
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("catalog")
ap.add_argument("truth")
ap.add_argument("--prefix", default="")
a = ap.parse_args()
T = {r["obsid"]: r for r in csv.DictReader(open(a.truth))}
with h5py.File(a.catalog, "r") as f:
    g = f["catalog"]
    ob = [x.decode() if isinstance(x, bytes) else str(x) for x in g["obsid"][:]]
    L = {k: g[a.prefix + k][:] for k in ["teff", "logg", "m_h", "alpha_m"]}
    E = {k: g[a.prefix + "e_" + k][:] for k in L if a.prefix + "e_" + k in g}
    ET = {k: g[a.prefix + "e_" + k + "_total"][:] for k in L if a.prefix + "e_" + k + "_total" in g}
    snr = g["snr_r"][:]


def rows(lo, hi, binary=None):
    out = []
    for i, o in enumerate(ob):
        if o not in T or not np.isfinite(L["teff"][i]) or not lo <= snr[i] < hi:
            continue
        if binary is not None and int(T[o]["binary"]) != binary:
            continue
        out.append((i, T[o]))
    return out


print(f"# {a.catalog} against {a.truth}")
print("| S/N | stars | n | Teff bias | Teff std | [alpha/M] err std | log g err std | dTeff/d[alpha/M] (K/dex) | "
      "Teff std, [alpha/M] error removed | corr(dTeff, d[alpha/M]) | corr(dTeff, dlogg) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for lo, hi, label in [(0, 20, "< 20"), (20, 50, "20-50"), (50, np.inf, "> 50")]:
    for binary, who in [(0, "single"), (None, "all"), (1, "binaries")]:
        rr = rows(lo, hi, binary)
        if len(rr) < 3:
            print(f"| {label} | {who} | {len(rr)} | | | | | | | | |")
            continue
        d = {k: np.array([L[k][i] - float(r[k]) for i, r in rr]) for k in L}
        X = np.vstack([d["alpha_m"], np.ones(len(rr))]).T
        c = np.linalg.lstsq(X, d["teff"], rcond=None)[0]
        rest = d["teff"] - X @ c
        print(f"| {label} | {who} | {len(rr)} | {d['teff'].mean():+.1f} | {d['teff'].std(ddof=1):.1f} | "
              f"{d['alpha_m'].std(ddof=1):.3f} | {d['logg'].std(ddof=1):.3f} | {c[0]:.0f} | {rest.std(ddof=1):.1f} | "
              f"{np.corrcoef(d['teff'], d['alpha_m'])[0, 1]:+.2f} | {np.corrcoef(d['teff'], d['logg'])[0, 1]:+.2f} |")
print("\n| S/N | n (single) | error | rms pull Teff | rms pull log g | rms pull [M/H] | rms pull [alpha/M] | "
      "robust pull Teff | robust pull [alpha/M] |")
print("|---|---|---|---|---|---|---|---|---|")
for lo, hi, label in [(0, 20, "< 20"), (20, 50, "20-50"), (50, np.inf, "> 50"), (0, np.inf, "all")]:
    rr = rows(lo, hi, 0)
    for name, err in [("fit", E), ("total", ET)]:
        if len(err) < 4 or len(rr) < 3:
            continue
        P = {k: np.array([(L[k][i] - float(r[k])) / err[k][i] for i, r in rr]) for k in L}
        P = {k: v[np.isfinite(v)] for k, v in P.items()}
        rms = {k: np.sqrt(np.mean(v ** 2)) for k, v in P.items()}
        rob = {k: np.median(np.abs(v)) / 0.6745 for k, v in P.items()}
        print(f"| {label} | {len(rr)} | {name} | {rms['teff']:.2f} | {rms['logg']:.2f} | {rms['m_h']:.2f} | "
              f"{rms['alpha_m']:.2f} | {rob['teff']:.2f} | {rob['alpha_m']:.2f} |")
ta = np.array([float(r["alpha_m"]) for r in T.values()])
print(f"\ntruth [alpha/M] spread (all spectra): {ta.std():.3f} dex")
