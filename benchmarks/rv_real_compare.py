#!/usr/bin/env python3
"""Template RVs of `mstars rv` on real LAMOST spectra against the LAMOST pipeline RV (Z c):
bias, scatter (std and MAD) and a bootstrap error of the median, split at 2012-01-14 (LMJD
55940, the end of the red-channel arc-lamp problem; rv_flag); the largest differences; the
same-exposure pairs (two reductions or layouts of one observation, same obsid) agreeing.

usage: rv_real_compare.py RV.h5 [RV.h5 ...]"""
import sys

import h5py
import numpy as np

rng = np.random.default_rng(19)
for path in sys.argv[1:]:
    with h5py.File(path, "r") as f:
        c = {k: f["catalog"][k][:] for k in f["catalog"].keys()}
    d = c["rv_tm"] - c["rv_pipeline"]
    print("%s: %d spectra, rv_tm measured for %d" % (path, len(d), np.isfinite(c["rv_tm"]).sum()))
    for name, m in [("all", np.ones(len(d), bool)), ("LMJD > 55940 (rv_flag era)", c["lmjd"] > 55940),
                    ("LMJD <= 55940", c["lmjd"] <= 55940)]:
        x = d[m & np.isfinite(d)]
        if len(x) < 3:
            print("  %-28s n %d" % (name, len(x)))
            continue
        boot = [np.median(rng.choice(x, len(x))) for _ in range(2000)]
        print("  %-28s n %2d  rv_tm - Zc: median %+6.2f +- %.2f (bootstrap), mean %+6.2f, std %5.2f, "
              "MAD %5.2f, |d| > 20: %d" % (name, len(x), np.median(x), np.std(boot), np.mean(x),
                                            np.std(x, ddof=1), 1.4826 * np.median(np.abs(x - np.median(x))),
                                            np.sum(np.abs(x - np.median(x)) > 20)))
    order = np.argsort(-np.abs(np.nan_to_num(d)))[:4]
    for i in order:
        print("  largest: obsid %s snr_r %.1f rv_tm %.1f +- %.1f Zc %.1f template %s rv_from %s" % (
            c["obsid"][i].decode(), c["snr_r"][i], c["rv_tm"][i],
            np.hypot(c["e_rv_tm"][i], c["e_rv_tm_stat"][i]), c["rv_pipeline"][i],
            c["rv_template"][i].decode(), c["rv_from"][i].decode()))
    ob = c["obsid"]
    for o in np.unique(ob):
        idx = np.where(ob == o)[0]
        if len(idx) == 2 and o:
            a, b = idx
            e = np.hypot(np.hypot(c["e_rv_tm"][a], c["e_rv_tm_stat"][a]), np.hypot(c["e_rv_tm"][b], c["e_rv_tm_stat"][b]))
            print("  same obsid %s: rv_tm %.2f and %.2f (difference %.2f, combined error %.2f km/s)" % (
                o.decode(), c["rv_tm"][a], c["rv_tm"][b], c["rv_tm"][a] - c["rv_tm"][b], e))
    f, n = np.unique(c["rv_from"], return_counts=True)
    print("  rv_from:", ", ".join("%s %d" % (a.decode() or "(none)", b) for a, b in zip(f, n)),
          "; rv_flag = 1:", int(np.sum(c["rv_flag"] == 1)))
