#!/usr/bin/python3
"""cnn_real_cv.py: k-fold cross-validation of the L25 CNN ensemble on the labelled real M dwarfs
of ../shared/data/lamost-mdwarfs (issue 21). 35 spectra are far too few for a CNN: this is a
report of what the method does with them, not a tuning set.

usage: cnn_real_cv.py WORKDIR [K_OUTER (5)] [SEED (21)]

Ingests the spectra (mstars ingest, keeping every labelled star as slam_real_cv.sh does:
preprocess.min_good_fraction=0.3, no class requirement), measures their RVs (mstars rv: the
CNN's input is the native spectrum in the rest frame of rv_adopted, else the pipeline Z*c),
splits the labelled stars into K_OUTER random folds, and for each fold trains on the other
folds and predicts the held-out stars with
  - a ten-fold dM CNN ensemble (mstars train-cnn --rv, predict-cnn --rv; teff, logg, [Fe/H] as m_h),
  - SLAM (mstars train-slam --search coordinate, fit-slam) on the same training stars,
and the null predictor (the training folds' mean label: what a model that learned nothing
scores). Prints bias and scatter of each against the literature with bootstrap 68% intervals,
and the honesty of the CNN's errors on these held-out stars: the calibrated e_cnn (the model's
error model, fitted on the out-of-fold residuals of its own training stars) and the raw
ensemble spread e_cnn_<label>_ens (rms and robust std of the pulls)."""
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
        run(["ingest", "--spectra", DATA, "--out", store, "--set", "preprocess.min_good_fraction=0.3",
             "--set", "preprocess.required_class="], log)
    rv = os.path.join(work, "rv.h5")
    if not os.path.exists(rv):
        run(["rv", "--spectra", store, "--out", rv, "--templates",
             os.path.join(os.path.dirname(DATA), "templates-kesseli2017"), "--log-level", "warn"], log)
    with h5py.File(store, "r") as f:
        obsid = [o.decode() for o in f["meta/obsid"][:]]
        status = f["meta/status"][:]
    rows = [r for r in csv.DictReader(open(os.path.join(DATA, "labels.csv")))
            if r["teff"] and r["obsid"] in obsid and status[obsid.index(r["obsid"])] == 0]
    print(f"{len(rows)} labelled stars with a usable spectrum; {k_outer} outer folds (seed {seed})")
    rng = np.random.default_rng(seed)
    fold = np.empty(len(rows), int)
    fold[rng.permutation(len(rows))] = np.arange(len(rows)) % k_outer
    pred, err, ens, null, slam = {}, {}, {}, {}, {}
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
                 "--rv", rv, "--resume", "--log-level", "warn"], log)
        if os.path.exists(cat):
            os.remove(cat)
        run(["predict-cnn", "--spectra", store, "--model", model, "--rv", rv, "--out", cat,
             "--log-level", "warn"], log)
        smodel, scat = f"slam{k}.h5", f"slamcat{k}.h5"
        if not os.path.exists(smodel):
            run(["train-slam", "--spectra", store, "--labels", lab, "--label-cols", "teff,logg,fe_h",
                 "--search", "coordinate", "--out", smodel, "--log-level", "warn"], log)
        if os.path.exists(scat):
            os.remove(scat)
        run(["fit-slam", "--spectra", store, "--model", smodel, "--out", scat, "--log-level", "warn"], log)
        with h5py.File(scat, "r") as f:
            c = f["catalog"]
            sid = [o.decode() for o in c["obsid"][:]]
            for r, fo in zip(rows, fold):
                if fo == k:
                    i = sid.index(r["obsid"])
                    slam[r["obsid"]] = [c["slam_" + p][i] for p, _ in LABELS]
        with h5py.File(cat, "r") as f:
            c = f["catalog"]
            cid = [o.decode() for o in c["obsid"][:]]
            for r, fo in zip(rows, fold):
                if fo != k:
                    continue
                i = cid.index(r["obsid"])
                pred[r["obsid"]] = [c["cnn_" + p][i] for p, _ in LABELS]
                err[r["obsid"]] = [c["e_cnn_" + p][i] for p, _ in LABELS]
                ens[r["obsid"]] = [c["e_cnn_" + p + "_ens"][i] for p, _ in LABELS]
                null[r["obsid"]] = [np.mean([float(q[col]) for q, g in zip(rows, fold) if g != k])
                                    for _, col in LABELS]
    def rstd(x):
        return 1.4826 * np.median(np.abs(x - np.median(x)))

    print("\n| label | n | CNN bias | CNN scatter (std) | SLAM bias | SLAM scatter | null scatter |")
    print("|---|---|---|---|---|---|---|")
    honest = []
    for j, (p, col) in enumerate(LABELS):
        t = np.array([float(r[col]) for r in rows])
        d = np.array([pred[r["obsid"]][j] for r in rows]) - t
        ds = np.array([slam[r["obsid"]][j] for r in rows]) - t
        e = np.array([err[r["obsid"]][j] for r in rows])
        en = np.array([ens[r["obsid"]][j] for r in rows])
        dn = np.array([null[r["obsid"]][j] for r in rows]) - t
        iv = lambda x, fn: "[%s, %s]" % tuple(f"{v:+.3g}" if fn is np.mean else f"{v:.3g}" for v in boot(x, fn))
        print(f"| {p} | {len(d)} | {d.mean():+.3g} {iv(d, np.mean)} | {d.std():.3g} {iv(d, np.std)} | "
              f"{ds.mean():+.3g} {iv(ds, np.mean)} | {ds.std():.3g} {iv(ds, np.std)} | "
              f"{dn.std():.3g} {iv(dn, np.std)} |")
        honest.append((p, len(d), e.mean(), np.sqrt(np.mean((d / e) ** 2)), rstd(d / e),
                       en.mean(), np.sqrt(np.mean((d / en) ** 2)), rstd(d / en)))
    print("\nHonesty of the CNN errors on the held-out stars (pulls = (cnn - literature) / error):")
    print("\n| label | n | mean e_cnn (calibrated) | rms pull | robust std pull | mean e_cnn_ens (raw) | "
          "rms pull | robust std pull |")
    print("|---|---|---|---|---|---|---|---|")
    for p, n, em, pr, ps, enm, pr2, ps2 in honest:
        print(f"| {p} | {n} | {em:.3g} | {pr:.2f} | {ps:.2f} | {enm:.3g} | {pr2:.2f} | {ps2:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
