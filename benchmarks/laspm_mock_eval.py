#!/usr/bin/python3
"""laspm_mock_eval.py: a LASPM catalog of a mock universe against the truth of its test stars.

    /usr/bin/python3 benchmarks/laspm_mock_eval.py TEST.csv CATALOG.h5

TEST.csv from laspm_mock_labels.py (the stars NOT in the library). Per S/N_i bin: N, bias
(mean of LASPM - truth) and scatter (standard deviation) of Teff, log g and [M/H], and the
standard deviation of the pulls (LASPM - truth) / e_laspm."""
import csv
import sys

import h5py
import numpy as np

BINS = [(0, 10), (10, 20), (20, 40), (40, 80), (80, 1e9)]


def main():
    test = {r["obsid"]: r for r in csv.DictReader(open(sys.argv[1]))}
    with h5py.File(sys.argv[2], "r") as f:
        c = f["catalog"]
        obs = c["obsid"][:].astype(str)
        cat = {k: c[k][:] for k in ("laspm_teff", "laspm_logg", "laspm_m_h", "e_laspm_teff",
                                    "e_laspm_logg", "e_laspm_m_h", "snr_i", "laspm_flags")}
    sel = np.array([o in test for o in obs]) & np.isfinite(cat["laspm_teff"])
    truth = {k: np.array([float(test[o][k]) if o in test else np.nan for o in obs])
             for k in ("teff", "logg", "m_h")}
    snr = cat["snr_i"]
    print("| S/N_i | N | Teff bias | Teff scatter | log g bias | log g scatter | [M/H] bias | "
          "[M/H] scatter | pull sd T/g/M |")
    print("|---|---|---|---|---|---|---|---|---|")
    for lo, hi in BINS + [(0, 1e9)]:
        m = sel & (snr >= lo) & (snr < hi)
        if m.sum() < 3:
            continue
        out = []
        pulls = []
        for k in ("teff", "logg", "m_h"):
            d = cat["laspm_" + k][m] - truth[k][m]
            out += [d.mean(), d.std(ddof=1)]
            e = cat["e_laspm_" + k][m]
            g = np.isfinite(e) & (e > 0)
            pulls.append(np.std(d[g] / e[g], ddof=1))
        label = f"{lo:.0f}-{hi:.0f}" if hi < 1e9 else (f">= {lo:.0f}" if lo > 0 else "all")
        print(f"| {label} | {m.sum()} | {out[0]:+.0f} | {out[1]:.0f} | {out[2]:+.3f} | "
              f"{out[3]:.3f} | {out[4]:+.3f} | {out[5]:.3f} | "
              f"{pulls[0]:.2f} / {pulls[1]:.2f} / {pulls[2]:.2f} |")


if __name__ == "__main__":
    main()
