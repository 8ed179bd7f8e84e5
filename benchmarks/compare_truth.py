#!/usr/bin/env python3
"""Compare mstars catalogs with the mock universe's truth (benchmarks for issues 6 and 7).

usage: compare_truth.py TRUTH.csv CATALOG.h5 [CATALOG.h5 ...] [--json OUT] [--calibrated]
                        [--check-fraction F]

For each catalog: bias (mean of fit - truth), scatter (standard deviation) and total error (rms) of Teff,
log g, [M/H], [alpha/M] and RV over the fitted rows (finite labels, no failed-fit bit),
overall and in S/N_r bins 5-10, 10-20, 20-50, 50+, and the mean best-fit residual over the
flux uncertainty (resid_sigma; with --csn also resid_sigma_emu, the emulator-only fit).
Stars with an unresolved companion (truth binary = 1) are left out of the label statistics
(their truth is the primary's; the fit sees the blend) and counted separately.

--calibrated compares <p>_cal (mstars calibrate-errors --zero-point: the labels on the
reference's zero point) instead of <p> where a catalog has it; --check-fraction F keeps only
the stars with u(source_id) >= F (the split of include/mstars/sys_errors.h), i.e. those a
calibration with --reference-fraction F did not use."""
import csv
import json
import sys

import h5py
import numpy as np

from honest_errors import split_u  # the star split of include/mstars/sys_errors.h

PARAMS = ["teff", "logg", "m_h", "alpha_m", "rv"]
BINS = [(5, 10), (10, 20), (20, 50), (50, np.inf)]
FAILED = (1 << 4) | (1 << 5) | (1 << 6)


def read_truth(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    t = {r["obsid"]: r for r in rows}
    return t


def stats(d):
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return {"n": int(len(d)), "bias": None, "scatter": None}
    # rms: the total error against the truth, sqrt(bias^2 + scatter^2) up to n / (n - 1);
    # bias_se: the standard error of the bias
    return {"n": int(len(d)), "bias": float(np.mean(d)), "scatter": float(np.std(d, ddof=1)),
            "mad_scatter": float(1.4826 * np.median(np.abs(d - np.median(d)))),
            "rms": float(np.sqrt(np.mean(d * d))), "bias_se": float(np.std(d, ddof=1) / np.sqrt(len(d)))}


def analyse(truth, path, calibrated=False, check_fraction=None):
    with h5py.File(path, "r") as f:
        c = f["catalog"]
        obsid = [x.decode() if isinstance(x, bytes) else str(x) for x in c["obsid"][:]]
        cols = {k: c[k][:] for k in c.keys() if c[k].dtype.kind in "fiu"}
    used_cal = []
    if calibrated:
        for p in PARAMS:
            if p + "_cal" in cols:
                cols[p] = cols[p + "_cal"]
                used_cal.append(p)
    n = len(obsid)
    tr = {p: np.full(n, np.nan) for p in PARAMS}
    binary = np.zeros(n, bool)
    snr = cols["snr_r"]
    for i, o in enumerate(obsid):
        r = truth.get(o)
        if r is None:
            continue
        for p in PARAMS:
            tr[p][i] = float(r[p])
        binary[i] = r["binary"] == "1"
    ok = np.isfinite(cols["teff"]) & ((cols["fit_flags"] & FAILED) == 0) & ~binary & np.isfinite(tr["teff"])
    if check_fraction is not None:
        ok &= np.array([g >= 0 and split_u(g) >= check_fraction for g in cols["source_id"]])
    out = {"catalog": path, "rows": n, "fitted": int(np.sum(np.isfinite(cols["teff"]))),
           "calibrated": used_cal, "check_fraction": check_fraction,
           "compared": int(ok.sum()), "binaries_left_out": int(np.sum(binary & np.isfinite(cols["teff"])))}
    for key in ("resid_sigma", "resid_sigma_emu"):
        if key in cols:
            v = cols[key][ok]
            out[key] = float(np.nanmean(v))
    rec = {}
    for p in PARAMS:
        if p not in cols:
            continue
        d = cols[p] - tr[p]
        s = stats(d[ok])
        s["by_snr"] = []
        for lo, hi in BINS:
            sel = ok & (snr >= lo) & (snr < hi)
            b = stats(d[sel])
            b.update({"snr_min": lo, "snr_max": None if hi == np.inf else hi})
            s["by_snr"].append(b)
        # the emulator-only labels of a --csn run, for the side-by-side comparison
        if p + "_emu" in cols:
            s["emu"] = stats((cols[p + "_emu"] - tr[p])[ok])
            s["emu_snr50"] = stats((cols[p + "_emu"] - tr[p])[ok & (snr >= 50)])
            s["snr50"] = stats(d[ok & (snr >= 50)])
            # the same spectra fitted both ways: the standard error of the change of the bias
            # is that of the paired differences (much smaller than either bias's own)
            for key, sel in (("paired", ok), ("paired_snr50", ok & (snr >= 50))):
                s[key] = stats((cols[p] - cols[p + "_emu"])[sel])
        rec[p] = s
    out["recovery"] = rec
    return out


def fmt(x, p):
    if x is None:
        return "-"
    return f"{x:.0f}" if p in ("teff",) else f"{x:.3f}" if p != "rv" else f"{x:.2f}"


def main():
    args = sys.argv[1:]
    jpath = None
    if "--json" in args:
        i = args.index("--json")
        jpath = args[i + 1]
        del args[i:i + 2]
    calibrated = "--calibrated" in args
    if calibrated:
        args.remove("--calibrated")
    check_fraction = None
    if "--check-fraction" in args:
        i = args.index("--check-fraction")
        check_fraction = float(args[i + 1])
        del args[i:i + 2]
    truth = read_truth(args[0])
    res = [analyse(truth, p, calibrated, check_fraction) for p in args[1:]]
    for r in res:
        extra = ""
        if r["calibrated"]:
            extra += "; on the reference's zero point: " + ",".join(r["calibrated"])
        if check_fraction is not None:
            extra += f"; stars with u(source_id) >= {check_fraction}"
        print(f"== {r['catalog']}: {r['compared']} compared of {r['fitted']} fitted "
              f"({r['binaries_left_out']} binaries left out{extra})")
        for key in ("resid_sigma", "resid_sigma_emu"):
            if key in r:
                print(f"   mean {key}: {r[key]:.4f}")
        for p, s in r["recovery"].items():
            line = f"   {p:8s} all: bias {fmt(s['bias'], p)} scatter {fmt(s['scatter'], p)}"
            for b in s["by_snr"]:
                line += f" | {b['snr_min']}-{b['snr_max'] or ''}: n {b['n']} bias {fmt(b['bias'], p)} sc {fmt(b['scatter'], p)}"
            print(line)
            if "emu" in s:
                print(f"            emulator-only: bias {fmt(s['emu']['bias'], p)} scatter {fmt(s['emu']['scatter'], p)};"
                      f" S/N>50 bias {fmt(s['emu_snr50']['bias'], p)} scatter {fmt(s['emu_snr50']['scatter'], p)}")
                print(f"            total error (rms) with / without adaptation: all {fmt(s['rms'], p)} / "
                      f"{fmt(s['emu']['rms'], p)}; S/N>50 {fmt(s['snr50']['rms'], p)} / {fmt(s['emu_snr50']['rms'], p)}"
                      f"; bias change (paired) all {fmt(s['paired']['bias'], p)} +- {fmt(s['paired']['bias_se'], p)},"
                      f" S/N>50 {fmt(s['paired_snr50']['bias'], p)} +- {fmt(s['paired_snr50']['bias_se'], p)}")
    if jpath:
        with open(jpath, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
