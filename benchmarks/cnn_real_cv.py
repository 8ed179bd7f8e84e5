#!/usr/bin/python3
"""cnn_real_cv.py: k-fold cross-validation of the L25 CNN ensemble on the labelled real M dwarfs
of ../shared/data/lamost-mdwarfs (issue 21). 35 spectra are far too few for a CNN: this is a
report of what the method does with them, not a tuning set.

usage: cnn_real_cv.py WORKDIR [K_OUTER (5)] [SEED (21)]

Ingests the spectra (mstars ingest), splits the labelled stars into K_OUTER random folds, and for
each fold trains a ten-fold dM ensemble (mstars train-cnn; teff, logg, [Fe/H] as m_h) on the
other folds and predicts the held-out stars (mstars predict-cnn). Prints bias and scatter of
cnn - literature with bootstrap 68% intervals, the same for the null predictor (the training
folds' mean label: what a model that learned nothing scores), and the honesty of the ensemble
error (rms error / rms e_cnn)."""
import csv
import os
import subprocess
import sys

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXE = os.environ.get("MSTARS_EXE", os.path.join(ROOT, "build", "src", "mstars"))
DATA = os.path.join(os.environ.get("MSTARS_SHARED", os.path.join(ROOT, "..", "shared")), "data",
                    "lamost-mdwarfs")
LABELS = [("teff", "teff"), ("logg", "logg"), ("m_h", "fe_h")]


def run(args, log):
    with open(log, "a") as f:
        subprocess.run([EXE] + args, check=True, stdout=f, stderr=subprocess.STDOUT)


def boot(d, fn, n=2000, seed=1):
    rng = np.random.default_rng(seed)
    v = [fn(d[rng.integers(0, len(d), len(d))]) for _ in range(n)]
    return np.percentile(v, 16), np.percentile(v, 84)


def main(argv):
    work = argv[1]
    k_outer = int(argv[2]) if len(argv) > 2 else 5
    seed = int(argv[3]) if len(argv) > 3 else 21
    os.makedirs(work, exist_ok=True)
    os.chdir(work)
    log = os.path.join(work, "cv.log")
    store = os.path.join(work, "real.h5")
    if not os.path.exists(store):
        run(["ingest", "--spectra", DATA, "--out", store], log)
    with h5py.File(store, "r") as f:
        obsid = [o.decode() for o in f["meta/obsid"][:]]
        status = f["meta/status"][:]
    rows = [r for r in csv.DictReader(open(os.path.join(DATA, "labels.csv")))
            if r["teff"] and r["obsid"] in obsid and status[obsid.index(r["obsid"])] == 0]
    print(f"{len(rows)} labelled stars with a usable spectrum; {k_outer} outer folds (seed {seed})")
    rng = np.random.default_rng(seed)
    fold = np.empty(len(rows), int)
    fold[rng.permutation(len(rows))] = np.arange(len(rows)) % k_outer
    pred, err, null = {}, {}, {}
    for k in range(k_outer):
        lab = f"train{k}.csv"
        with open(lab, "w") as f:
            f.write("obsid,teff,logg,fe_h\n")
            for r, fo in zip(rows, fold):
                if fo != k:
                    f.write(f"{r['obsid']},{r['teff']},{r['logg']},{r['fe_h']}\n")
        model, cat = f"cnn{k}.h5", f"cat{k}.h5"
        if not os.path.exists(model):
            run(["train-cnn", "--spectra", store, "--labels", lab, "--class", "dM", "--out", model,
                 "--resume", "--log-level", "warn"], log)
        if os.path.exists(cat):
            os.remove(cat)
        run(["predict-cnn", "--spectra", store, "--model", model, "--out", cat, "--log-level", "warn"], log)
        with h5py.File(cat, "r") as f:
            c = f["catalog"]
            cid = [o.decode() for o in c["obsid"][:]]
            for r, fo in zip(rows, fold):
                if fo != k:
                    continue
                i = cid.index(r["obsid"])
                pred[r["obsid"]] = [c["cnn_" + p][i] for p, _ in LABELS]
                err[r["obsid"]] = [c["e_cnn_" + p][i] for p, _ in LABELS]
                null[r["obsid"]] = [np.mean([float(q[col]) for q, g in zip(rows, fold) if g != k])
                                    for _, col in LABELS]
    print("\n| label | n | CNN bias | CNN scatter (std) | null scatter | mean e_cnn | rms err / rms e_cnn |")
    print("|---|---|---|---|---|---|---|")
    for j, (p, col) in enumerate(LABELS):
        t = np.array([float(r[col]) for r in rows])
        d = np.array([pred[r["obsid"]][j] for r in rows]) - t
        e = np.array([err[r["obsid"]][j] for r in rows])
        dn = np.array([null[r["obsid"]][j] for r in rows]) - t
        b_lo, b_hi = boot(d, np.mean)
        s_lo, s_hi = boot(d, np.std)
        n_lo, n_hi = boot(dn, np.std)
        print(f"| {p} | {len(d)} | {d.mean():+.3g} [{b_lo:+.3g}, {b_hi:+.3g}] | {d.std():.3g} "
              f"[{s_lo:.3g}, {s_hi:.3g}] | {dn.std():.3g} [{n_lo:.3g}, {n_hi:.3g}] | {e.mean():.3g} | "
              f"{np.sqrt(np.mean(d**2)) / np.sqrt(np.mean(e**2)):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
