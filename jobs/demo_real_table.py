#!/usr/bin/python3
"""demo_real_table.py: each method against the literature labels of the real M dwarfs, as one
Markdown table (jobs/demo_real.sh).

usage: demo_real_table.py STORE.h5 "NAME|FILE|TEFF,LOGG,M_H" ...

The literature comes from the store: `mstars ingest --catalog` joined it to the store rows
(/input/lit_teff, lit_logg, lit_m_h; by position in demo_real.sh) with include/mstars/join.h, so
every method's output is matched to it by store row: an HDF5 catalog by its `id` column, a CSV
by its `store_row` column. A column "-" means the method does not give that label: n/a.
Bias = mean(method - literature), scatter = sample standard deviation, errors = standard
deviation of 2000 bootstrap resamples of the stars; only rows with a finite value count."""
import csv
import sys

import h5py
import numpy as np

LABELS = [("Teff", "lit_teff", "K", "%+.0f", "%.0f"), ("log g", "lit_logg", "dex", "%+.3f", "%.3f"),
          ("[M/H]", "lit_m_h", "dex", "%+.3f", "%.3f")]


def method_values(path, cols, n_rows):
    """Per store row, the method's value of each label (NaN where absent)."""
    out = np.full((len(cols), n_rows), np.nan)
    if path.endswith(".h5"):
        with h5py.File(path, "r") as f:
            c = f["catalog"]
            rows = c["id"][:].astype(int)
            for k, col in enumerate(cols):
                if col != "-" and col in c:
                    out[k, rows] = c[col][:]
    else:
        for r in csv.DictReader(open(path)):
            for k, col in enumerate(cols):
                if col != "-" and r.get(col, "") not in ("", "nan"):
                    out[k, int(r["store_row"])] = float(r[col])
    return out


def boot(d, rng, n=2000):
    idx = rng.integers(0, len(d), (n, len(d)))
    s = d[idx]
    return s.mean(axis=1).std(), s.std(axis=1, ddof=1).std()


def main(argv):
    with h5py.File(argv[1], "r") as f:
        lit = np.array([f["input/" + col][:] for _, col, *_ in LABELS], dtype=float)
        joined = f["input/lit_row"][:] >= 0  # integer columns read -1 where nothing joined
    lit[:, ~joined] = np.nan
    n_rows = lit.shape[1]
    rng = np.random.default_rng(24)
    print("| method | label | n | bias | scatter |")
    print("|---|---|---|---|---|")
    for spec in argv[2:]:
        name, path, cols = spec.split("|")
        cols = cols.split(",")
        try:
            val = method_values(path, cols, n_rows)
        except OSError as e:  # a method that did not run (e.g. CNN=0)
            print(f"| {name} | - | 0 | not run ({e.__class__.__name__}) | |")
            continue
        for k, (label, _, unit, fb, fs) in enumerate(LABELS):
            d = val[k] - lit[k]
            d = d[np.isfinite(d)]
            if cols[k] == "-" or len(d) < 3:
                print(f"| {name} | {label} | {len(d)} | n/a | n/a |")
                continue
            eb, es = boot(d, rng)
            print(f"| {name} | {label} ({unit}) | {len(d)} | {fb % d.mean()} +/- {fs % eb} | "
                  f"{fs % d.std(ddof=1)} +/- {fs % es} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
