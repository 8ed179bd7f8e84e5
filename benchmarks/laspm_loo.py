#!/usr/bin/python3
"""laspm_loo.py: LASPM catalogs of the real LAMOST M dwarfs against their literature labels.

    /usr/bin/python3 benchmarks/laspm_loo.py LABELS.csv NAME=CATALOG.h5 [NAME=CATALOG.h5 ...]

For each catalog (of `mstars laspm` on the store of ../shared/data/lamost-mdwarfs, e.g. with
--leave-out-self against a library of the same stars), the rows joined to LABELS.csv by obsid
(rows with a literature Teff): delta = LASPM - literature for Teff, log g and [Fe/H]
(laspm_m_h), its bias (mean) and scatter (standard deviation) with bootstrap 1-sigma errors
(4000 resamples of the stars, seeded), the RMS, the robust scatter 1.4826 MAD, and the pulls delta / e_laspm (their
standard deviation is 1 for honest errors; the median |pull| 0.67). The peer: ULySS with the
MILES interpolator on the same 35 stars (the data folder's README): -37 +/- 196 K,
-0.13 +/- 0.53, -0.34 +/- 0.30 (bias +/- scatter). The baseline that uses no spectrum (each
star given the mean label of the other 34) shows how much of a scatter is information."""
import csv
import sys

import h5py
import numpy as np

LABELS = [("teff", "laspm_teff", "e_laspm_teff", "K", "%.0f"),
          ("logg", "laspm_logg", "e_laspm_logg", "dex", "%.3f"),
          ("fe_h", "laspm_m_h", "e_laspm_m_h", "dex", "%.3f")]
PEER = {"teff": (-37, 196), "logg": (-0.13, 0.53), "fe_h": (-0.34, 0.30)}


def boot(x, fn, n=4000, seed=1):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n, len(x)))
    return np.std([fn(x[i]) for i in idx], ddof=1)


def main():
    lit = {r["obsid"]: r for r in csv.DictReader(open(sys.argv[1])) if r["teff"]}
    print("| library / run | label | N | bias | scatter | RMS | 1.4826 MAD | pull sd | median abs pull |")
    print("|---|---|---|---|---|---|---|---|---|")
    for arg in sys.argv[2:]:
        name, path = arg.split("=", 1)
        with h5py.File(path, "r") as f:
            c = f["catalog"]
            obs = c["obsid"][:].astype(str)
            cols = {k: c[k][:] for k in c.keys() if c[k].ndim == 1 and c[k].dtype.kind in "fiu"}
        keep = np.array([o in lit for o in obs])
        for lab, col, ecol, unit, fmt in LABELS:
            ref = np.array([float(lit[o][lab]) if o in lit else np.nan for o in obs])
            d = cols[col] - ref
            e = cols[ecol]
            ok = keep & np.isfinite(d)
            d, e = d[ok], e[ok]
            bias, sd = d.mean(), d.std(ddof=1)
            eb, es = boot(d, np.mean), boot(d, lambda v: np.std(v, ddof=1))
            good = np.isfinite(e) & (e > 0)
            pull = d[good] / e[good]
            print(f"| {name} | {lab} | {ok.sum()} | {fmt % bias} +/- {fmt % eb} | "
                  f"{fmt % sd} +/- {fmt % es} | {fmt % np.sqrt(np.mean(d * d))} | "
                  f"{fmt % (1.4826 * np.median(np.abs(d - np.median(d))))} | "
                  f"{np.std(pull, ddof=1):.2f} | {np.median(np.abs(pull)):.2f} |")
    # the no-information baseline: each star's label predicted as the mean of the others
    for lab, col, ecol, unit, fmt in LABELS:
        v = np.array([float(r[lab]) for r in lit.values()])
        d = (v.sum() - v) / (len(v) - 1) - v
        print(f"| mean of the other {len(v) - 1} (no spectrum) | {lab} | {len(v)} | "
              f"{fmt % d.mean()} | {fmt % d.std(ddof=1)} +/- "
              f"{fmt % boot(d, lambda x: np.std(x, ddof=1))} | {fmt % np.sqrt(np.mean(d * d))} | | | |")
    print("| ULySS (peer, README) | teff / logg / fe_h | 35 | -37 / -0.13 / -0.34 | "
          "196 / 0.53 / 0.30 | | | | |")


if __name__ == "__main__":
    main()
