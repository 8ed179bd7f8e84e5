#!/usr/bin/env python3
"""slam_real_cv.py: independent statistics of a cv-slam table (numpy): bias and scatter
(sample sd) with bootstrap errors, against the peer ULySS numbers on the same stars; pulls
with the formal errors and with an error floor fitted on the other stars (leave-one-out)."""
import csv
import sys

import numpy as np

rows = list(csv.DictReader(open(sys.argv[1])))
peer = {"teff": (-37, 196), "logg": (-0.13, 0.53), "fe_h": (-0.34, 0.30)}
rng = np.random.default_rng(1)


def floor(d, e):
    """smallest F >= 0 with rms(d / sqrt(e^2 + F^2)) <= 1"""
    if np.sqrt(np.mean((d / e) ** 2)) <= 1:
        return 0.0
    lo, hi = 0.0, np.abs(d).max()
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.sqrt(np.mean(d ** 2 / (e ** 2 + mid ** 2))) > 1 else (lo, mid)
    return hi


print(f"{len(rows)} stars; S/N_i {min(float(r['snr']) for r in rows):.0f}-{max(float(r['snr']) for r in rows):.0f}")
print(f"{'label':6} {'bias':>18} {'scatter (sd)':>18} {'ULySS bias/sd':>14} {'sd ratio':>8} "
      f"{'pull_rms':>8} {'floor':>7} {'pull_rms(LOO floor)':>19}")
for lab in ("teff", "logg", "fe_h"):
    ref = np.array([float(r[lab]) for r in rows])
    est = np.array([float(r["slam_" + lab]) for r in rows])
    err = np.array([float(r["e_slam_" + lab]) for r in rows])
    ok = np.isfinite(est) & np.isfinite(err)
    d, e = (est - ref)[ok], err[ok]
    boot = rng.integers(0, len(d), (5000, len(d)))
    bm, bs = d[boot].mean(1), d[boot].std(1, ddof=1)
    F = floor(d, e)
    loo = np.array([d[i] / np.sqrt(e[i] ** 2 + floor(np.delete(d, i), np.delete(e, i)) ** 2)
                    for i in range(len(d))])
    pb, ps = peer[lab]
    print(f"{lab:6} {d.mean():+9.3f} +/- {bm.std():6.3f} {d.std(ddof=1):9.3f} +/- {bs.std():6.3f} "
          f"{pb:+7.2f}/{ps:5.2f} {ps / d.std(ddof=1):8.2f} {np.sqrt(np.mean((d / e) ** 2)):8.2f} "
          f"{F:7.3f} {np.sqrt(np.mean(loo ** 2)):19.2f}")
