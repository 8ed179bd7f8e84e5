#!/usr/bin/env python3
"""RV against the mock universe's truth, per S/N_r bin: `mstars rv` (rv_tm, the chosen rv,
TML7500, DSAL), the LAMOST-like pipeline RV (Z*c of the mock) and today's emulator RV of
`mstars fit` (its catalog's rv), on the same spectra. Unresolved binaries left out.
Pulls (delta / error) check the errors.

usage: rv_mock_compare.py TRUTH.csv RV.h5 [FIT.h5]"""
import csv
import sys

import h5py
import numpy as np

BINS = [(0, 10), (10, 20), (20, 50), (50, np.inf), (0, np.inf)]


def load(path):
    with h5py.File(path, "r") as f:
        c = f["catalog"]
        out = {k: c[k][:] for k in c.keys()}
    out["obsid"] = np.array([x.decode() for x in out["obsid"]])
    return out


def stat(d):
    d = d[np.isfinite(d)]
    if len(d) < 3:
        return "%4d      -" % len(d)
    mad = 1.4826 * np.median(np.abs(d - np.median(d)))
    return "%4d %+6.2f %6.2f %6.2f %5.1f%%" % (len(d), np.mean(d), np.std(d, ddof=1), mad,
                                              100.0 * np.mean(np.abs(d) > 20))


truth = {r["obsid"]: r for r in csv.DictReader(open(sys.argv[1]))}
rv = load(sys.argv[2])
fit = load(sys.argv[3]) if len(sys.argv) > 3 else None
ids = rv["obsid"]
keep = np.array([o in truth and truth[o]["binary"] == "0" for o in ids])
t = np.array([float(truth[o]["rv"]) if o in truth else np.nan for o in ids])
snr = np.array([float(truth[o]["snr_r"]) if o in truth else np.nan for o in ids])
series = [("rv (chosen, rv_from)", rv["rv_adopted"]), ("rv_tm", rv["rv_tm"]),
          ("rv_tml7500", rv["rv_tml7500"]), ("rv_dsal", rv["rv_dsal"]),
          ("pipeline Z*c", rv["rv_pipeline"])]
if fit is not None:
    fmap = dict(zip(fit["obsid"], fit["rv"]))
    series.append(("emulator fit rv", np.array([fmap.get(o, np.nan) for o in ids])))
print("columns: n, bias (mean), scatter (std), MAD scatter, fraction |d| > 20 km/s")
for name, v in series:
    print("%-22s" % name)
    for lo, hi in BINS:
        m = keep & (snr > lo) & (snr <= hi)
        print("   S/N %3g-%-4g %s" % (lo, hi, stat(v[m] - t[m])))
for name, v, e in [("rv_tm / hypot(e_rv_tm, e_rv_tm_stat)", rv["rv_tm"],
                    np.hypot(rv["e_rv_tm"], rv["e_rv_tm_stat"])),
                   ("rv_tm / e_rv_tm (L25)", rv["rv_tm"], rv["e_rv_tm"]),
                   ("rv_adopted / e_rv_adopted", rv["rv_adopted"], rv["e_rv_adopted"])]:
    p = (v - t) / e
    m = keep & np.isfinite(p)
    q = p[m]
    print("pull %-38s n %d  median |pull| x 1.4826 %.2f  std %.2f" % (
        name, m.sum(), 1.4826 * np.median(np.abs(q - np.median(q))), np.std(q)))
froms, counts = np.unique(rv["rv_from"], return_counts=True)
print("rv_from:", ", ".join("%s %d" % (f.decode() or "(none)", c) for f, c in zip(froms, counts)))

# repeat observations of one star (truth star_id): pair differences over their errors
sid = np.array([truth[o]["star_id"] if o in truth else "" for o in ids])
for name, v, e in [("rv_tm", rv["rv_tm"], np.hypot(rv["e_rv_tm"], rv["e_rv_tm_stat"])),
                   ("rv (chosen)", rv["rv_adopted"], rv["e_rv_adopted"])]:
    z, dd = [], []
    for s in np.unique(sid[keep]):
        idx = np.where(keep & (sid == s) & np.isfinite(v) & np.isfinite(e))[0]
        for i in range(len(idx)):
            for j in range(i + 1, len(idx)):
                a, b = idx[i], idx[j]
                dd.append(v[a] - v[b])
                z.append((v[a] - v[b]) / np.hypot(e[a], e[b]))
    z, dd = np.array(z), np.array(dd)
    if len(z):
        print("repeats %-12s %d pairs: |dv| median %.2f km/s, pull std %.2f, MAD-pull %.2f, "
              "|pull| > 3: %d" % (name, len(z), np.median(np.abs(dd)), np.std(z),
                                 1.4826 * np.median(np.abs(z)), np.sum(np.abs(z) > 3)))
