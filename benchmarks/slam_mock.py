#!/usr/bin/env python3
"""slam_mock.py: bias and scatter of a fit-slam catalog against the mock truth, for the spectra
NOT in the training table, per S/N (snr_i) bin; pulls (delta / error)."""
import csv
import sys

import h5py
import numpy as np

cat, truth_csv, train_csv = sys.argv[1:4]
with h5py.File(cat, "r") as f:
    c = {k: f["/catalog/" + k][:] for k in ("obsid", "snr_i", "slam_teff", "e_slam_teff", "slam_logg",
                                           "e_slam_logg", "slam_m_h", "e_slam_m_h", "slam_flags")}
obs = [o.decode().rstrip("\0") for o in c["obsid"]]
truth = {r["obsid"]: r for r in csv.DictReader(open(truth_csv))}
train = {r["obsid"] for r in csv.DictReader(open(train_csv))}
rows = [i for i, o in enumerate(obs) if o in truth and o not in train and np.isfinite(c["slam_teff"][i])]
print(f"held-out spectra fitted: {len(rows)} (training set {len(train)}); flagged at_bound "
      f"{sum(1 for i in rows if c['slam_flags'][i] & 4)}")
snr = c["snr_i"][rows]
bins = [0, 20, 50, 100, np.inf]
print(f"{'label':6} {'snr_i':10} {'n':>5} {'bias':>9} {'scatter':>9} {'pull_rms':>8}")
for lab, unit in (("teff", "K"), ("logg", "dex"), ("m_h", "dex")):
    est = c["slam_" + lab][rows]
    err = c["e_slam_" + lab][rows]
    ref = np.array([float(truth[obs[i]][lab]) for i in rows])
    d = est - ref
    for lo, hi in [(0, np.inf)] + list(zip(bins[:-1], bins[1:])):
        s = (snr >= lo) & (snr < hi)
        if s.sum() < 2:
            continue
        name = "all" if hi == np.inf and lo == 0 else f"[{lo},{hi})"
        print(f"{lab:6} {name:10} {s.sum():5d} {d[s].mean():+9.3f} {d[s].std(ddof=1):9.3f} "
              f"{np.sqrt(np.mean((d[s] / err[s]) ** 2)):8.2f}")
