#!/usr/bin/env python3
"""csn_teff_bins.py: the Z25 fit's Teff error with and without Cycle-StarNet, per S/N_r bin and
per true Teff, on the judged stars of a jobs/demo.sh run (issue 24, the Teff target).

usage: csn_teff_bins.py DEMO_OUTDIR [--boot 1000]

DEMO_OUTDIR holds catalog_emu.h5 (the emulator-only fit, the baseline), combined.h5 (fit
--methods: z25_teff is the fit with Cycle-StarNet) and truth_test.csv (the judged 65%).
Rows: judged, and clean by the z25 flags of each catalog (fit_flags = cut_flags = 0), or every
fitted row with --all. Per S/N_r bin (< 10, 10-20, 20-50, > 50): n, bias +- bootstrap sd, sd,
RMS +- bootstrap sd; then per true-Teff bin at S/N_r <= 50 and > 50 (bias / sd (n)), which
separates an S/N effect from the Teff mix of the bin.
"""
import argparse
import csv
import math

import h5py
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("demo")
ap.add_argument("--boot", type=int, default=1000)
ap.add_argument("--all", action="store_true", help="every fitted row, not only the clean ones")
a = ap.parse_args()
truth = {r["obsid"]: float(r["teff"]) for r in csv.DictReader(open(a.demo + "/truth_test.csv"))}
rng = np.random.default_rng(4242)


def load(path, col):
    with h5py.File(path, "r") as f:
        c = f["catalog"]
        ob = [x.decode() if isinstance(x, bytes) else str(x) for x in c["obsid"][:]]
        ok = np.isfinite(c[col][:])
        if not a.all:
            ok &= (c["fit_flags"][:] == 0) & (c["cut_flags"][:] == 0)
        t = np.array([truth.get(o, np.nan) for o in ob])
        return c[col][:] - t, t, c["snr_r"][:], ok & np.isfinite(t)


runs = [("emulator only (catalog_emu.h5 teff)",) + load(a.demo + "/catalog_emu.h5", "teff"),
        ("Cycle-StarNet (combined.h5 z25_teff)",) + load(a.demo + "/combined.h5", "z25_teff")]
edges = [-np.inf, 10, 20, 50, np.inf]
names = ["< 10", "10-20", "20-50", "> 50"]
print(f"# {a.demo}: judged rows, {'all fitted' if a.all else 'clean (fit_flags = cut_flags = 0)'}; "
      f"Teff - truth in K; +- = bootstrap sd ({a.boot} resamples)\n")
print("| fit | S/N_r | n | bias | sd | RMS |")
print("|---|---|---|---|---|---|")
for name, d, t, snr, ok in runs:
    for b in range(4):
        s = ok & (snr >= edges[b]) & (snr < edges[b + 1])
        x = d[s]
        k = len(x)
        if k < 3:
            continue
        idx = [rng.integers(0, k, k) for _ in range(a.boot)]
        bm = np.std([x[i].mean() for i in idx], ddof=1)
        br = np.std([math.sqrt(np.mean(x[i] ** 2)) for i in idx], ddof=1)
        print(f"| {name} | {names[b]} | {k} | {x.mean():+.0f} +- {bm:.0f} | {x.std(ddof=1):.0f} | "
              f"{math.sqrt(np.mean(x * x)):.0f} +- {br:.0f} |")
print("\n| fit | true Teff (K) | S/N_r <= 50: bias / sd (n) | S/N_r > 50: bias / sd (n) |")
print("|---|---|---|---|")
for name, d, t, snr, ok in runs:
    for lo, hi in ((2800, 3200), (3200, 3500), (3500, 3800), (3800, 4100)):
        cells = []
        for s in (ok & (snr <= 50), ok & (snr > 50)):
            s = s & (t >= lo) & (t < hi)
            x = d[s]
            cells.append(f"{x.mean():+.0f} / {x.std(ddof=1):.0f} ({len(x)})" if len(x) > 1 else f"- ({len(x)})")
        print(f"| {name} | {lo}-{hi} | {cells[0]} | {cells[1]} |")
