#!/usr/bin/python3
"""cnn_proof.py: the L25 CNN ensemble on a mock universe (issue 21 proof).

usage: cnn_proof.py split TRUTH.csv OUT_LABELS.csv FRACTION SEED
       cnn_proof.py report TRUTH.csv LABELS.csv CNN_CATALOG.h5 [Z25_CATALOG.h5]

split: a random FRACTION of the STARS (all epochs of a star together, so that no test star's
other spectrum is in the training set) -> OUT_LABELS.csv (obsid, teff, logg, m_h, alpha_m):
the APOGEE role.
report: the spectra of the other stars: bias (median) and scatter (std and robust 1.4826 MAD)
of cnn - truth per S/N_i bin of L25 ((0,20], (20,50], (50,100], >100), the honesty of the
errors on these held-out stars (none of them was used for the error calibration, which uses the
training stars' out-of-fold predictions): pulls (cnn - truth) / e for the calibrated e_cnn and
for the raw ensemble spread e_cnn_<label>_ens (robust std = 1.4826 MAD, and rms), the
parameter_flag fraction, the velocity sources, and the Z25 fit on the same rows when its
catalog is given."""
import csv
import sys

import h5py
import numpy as np

LABELS = ["teff", "logg", "m_h", "alpha_m"]
BINS = [(0, 20), (20, 50), (50, 100), (100, np.inf)]


def read_truth(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def split(truth, out, frac, seed):
    stars = sorted({r["star_id"] for r in truth}, key=int)
    rng = np.random.default_rng(int(seed))
    pick = set(rng.choice(stars, size=int(round(float(frac) * len(stars))), replace=False))
    rows = [r for r in truth if r["star_id"] in pick]
    with open(out, "w") as f:
        f.write("obsid,teff,logg,m_h,alpha_m\n")
        for r in rows:
            f.write(",".join([r["obsid"]] + [r[k] for k in LABELS]) + "\n")
    print(f"{len(pick)} of {len(stars)} stars, {len(rows)} spectra -> {out}")


def rstd(x):
    return 1.4826 * np.median(np.abs(x - np.median(x))) if len(x) else np.nan


def report(truth, labels, cnn, z25=None):
    train = {r["obsid"] for r in csv.DictReader(open(labels))}
    tru = {r["obsid"]: r for r in truth}
    with h5py.File(cnn, "r") as f:
        c = f["catalog"]
        obsid = [o.decode() if isinstance(o, bytes) else o for o in c["obsid"][:]]
        snr = c["snr_i"][:]
        n_models = c["cnn_n_models"][:]
        flag = c["parameter_flag"][:]
        val = {k: c["cnn_" + k][:] for k in LABELS}
        err = {k: c["e_cnn_" + k][:] for k in LABELS}
        ens = {k: c["e_cnn_" + k + "_ens"][:] for k in LABELS}
        rvsrc = c["cnn_rv_source"][:]
    zval = None
    if z25:
        with h5py.File(z25, "r") as f:
            c = f["catalog"]
            zobs = [o.decode() if isinstance(o, bytes) else o for o in c["obsid"][:]]
            assert zobs == obsid, "the Z25 catalog's rows differ from the CNN catalog's"
            zval = {k: c[k][:] for k in LABELS}
            zok = (c["fit_flags"][:] & ((1 << 4) | (1 << 5) | (1 << 6))) == 0
    test = np.array([o in tru and o not in train and n > 0 for o, n in zip(obsid, n_models)])
    print(f"test spectra (stars not trained on, predicted): {test.sum()}; "
          f"trained on {len(train)} spectra; parameter_flag = 1 for {flag[test].mean():.1%}; rest "
          f"frame from the rv catalog for {(rvsrc[test] == 1).sum()}, the pipeline Z*c for "
          f"{(rvsrc[test] == 2).sum()}")
    t = {k: np.array([float(tru[o][k]) if o in tru else np.nan for o in obsid]) for k in LABELS}
    print("\n| label | S/N_i | n | CNN bias | CNN std | CNN robust std | mean e_cnn | "
          "pull rstd | pull rms | mean e_ens | ens pull rstd | ens pull rms |"
          + (" Z25 bias | Z25 std |" if zval else ""))
    print("|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if zval else ""))
    for k in LABELS:
        for lo, hi in BINS + [(0, np.inf)]:
            m = test & (snr > lo) & (snr <= hi)
            if m.sum() < 10:
                continue
            d = val[k][m] - t[k][m]
            e, en = err[k][m], ens[k][m]
            pull, pe = d / e, d / en
            name = f"({lo:g},{hi:g}]" if np.isfinite(hi) else (f">{lo:g}" if lo else "all")
            line = (f"| {k} | {name} | {m.sum()} | {np.median(d):+.3g} | {np.std(d):.3g} | "
                    f"{rstd(d):.3g} | {np.mean(e):.3g} | {rstd(pull):.2f} | "
                    f"{np.sqrt(np.mean(pull**2)):.2f} | {np.mean(en):.3g} | {rstd(pe):.2f} | "
                    f"{np.sqrt(np.mean(pe**2)):.2f} |")
            if zval:
                mz = m & zok
                dz = zval[k][mz] - t[k][mz]
                line += f" {np.median(dz):+.3g} | {np.std(dz):.3g} |"
            print(line)


def main(argv):
    if len(argv) == 6 and argv[1] == "split":
        split(read_truth(argv[2]), argv[3], argv[4], argv[5])
    elif len(argv) in (5, 6) and argv[1] == "report":
        report(read_truth(argv[2]), argv[3], argv[4], argv[5] if len(argv) == 6 else None)
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
