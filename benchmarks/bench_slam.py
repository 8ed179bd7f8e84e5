#!/usr/bin/env python3
"""bench_slam.py: the scikit-learn reference of SLAM's per-pixel training (what the public
SLAM code does: sklearn SVR + GridSearchCV per pixel), on the same training set, pixels and
grid as bench_slam.c, one core.

    bench_slam.py STORE LABELS DUMP

STORE / LABELS: the spectra store and the label table (joined by file name); DUMP: the
pixel list and C results written by bench_slam. Prints sklearn's CPU seconds per pixel,
its choices next to C's, and sklearn's prediction cost of one model spectrum."""
import os
import sys
import time

import h5py
import numpy as np
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.svm import SVR

store, labels_csv, dump = sys.argv[1:4]
import csv
with open(labels_csv) as fh:
    rows = list(csv.DictReader(fh))
lab = {r["file"]: r for r in rows}
with h5py.File(store, "r") as f:
    names = [os.path.basename(x.decode().rstrip("\0")) for x in f["/meta/filename"][:]]
    status = f["/meta/status"][:]
    flux = f["/spectra/flux"][:]
    ivar = f["/spectra/ivar"][:]
keep, y = [], []
for i, n in enumerate(names):
    r = lab.get(n)
    if status[i] != 0 or r is None or not r["teff"] or not r["logg"] or not r["fe_h"]:
        continue
    keep.append(i)
    y.append([float(r["teff"]), float(r["logg"]), float(r["fe_h"])])
X = np.array(y)
X = (X - X.mean(0)) / X.std(0)
flux, ivar = flux[keep], ivar[keep]
lines = [l.split() for l in open(dump) if not l.startswith("#")]
pix = [int(l[0]) for l in lines]
c_cpu = np.array([float(l[7]) for l in lines])
grid = {"C": [2.0 ** k for k in range(-5, 6)], "epsilon": [0.01, 0.05, 0.1, 0.15],
        "gamma": ["auto", 0.2, 0.25, 0.3, 0.5]}
cpu, agree, mse_ratio = [], 0, []
for l, j in zip(lines, pix):
    ok = (ivar[:, j] > 0) & np.isfinite(flux[:, j])
    f = flux[ok, j].astype(np.float64)
    fs = (f - f.mean()) / f.std()
    t0 = time.process_time()
    gs = GridSearchCV(SVR(kernel="rbf", tol=1e-3), grid, cv=KFold(8, shuffle=True, random_state=0),
                      scoring="neg_mean_squared_error", n_jobs=1, refit=True)
    gs.fit(X[ok], fs)
    cpu.append(time.process_time() - t0)
    p = gs.best_params_
    g = p["gamma"] if p["gamma"] != "auto" else 1.0 / X.shape[1]
    agree += (p["C"] == float(l[2]) and p["epsilon"] == float(l[3]) and abs(g - float(l[4])) < 1e-12)
    mse_ratio.append(-gs.best_score_ / float(l[5]))
cpu = np.array(cpu)
print(f"sklearn {SVR.__module__} GridSearchCV, {len(X)} training spectra, {len(pix)} pixels: "
      f"{np.mean(cpu):.4f} s/pixel (1760 fits + refit); C full grid {np.mean(c_cpu):.4f} s/pixel: "
      f"C is {np.mean(cpu) / np.mean(c_cpu):.1f}x faster")
print(f"same hyperparameters as C at {agree}/{len(pix)} pixels (the folds differ: sklearn KFold vs "
      f"mstars' seeded folds); sklearn/C best CV-MSE ratio median {np.median(mse_ratio):.3f}")
# prediction: one model spectrum needs one SVR.predict per pixel
models = []
for j in pix:
    ok = (ivar[:, j] > 0) & np.isfinite(flux[:, j])
    f = flux[ok, j].astype(np.float64)
    models.append(SVR(kernel="rbf", C=1.0, epsilon=0.05, gamma="auto").fit(X[ok], (f - f.mean()) / f.std()))
z = np.array([[0.1, -0.2, 0.3]])
t0 = time.process_time()
reps = 20
for _ in range(reps):
    for m in models:
        m.predict(z)
per_pix = (time.process_time() - t0) / reps / len(models)
modelled = [l for l in open(dump) if l.startswith("# predict_ms")]
n_mod = int(modelled[0].split()[-1]) if modelled else 2294
c_ms = float(modelled[0].split()[2]) if modelled else float("nan")
print(f"sklearn prediction: {1e3 * per_pix * n_mod:.1f} ms per model spectrum ({n_mod} SVR.predict "
      f"calls) vs C {c_ms:.3f} ms: C is {1e3 * per_pix * n_mod / c_ms:.0f}x faster")
