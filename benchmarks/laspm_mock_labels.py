#!/usr/bin/python3
"""laspm_mock_labels.py: label catalogues for a library curated from a mock universe.

    /usr/bin/python3 benchmarks/laspm_mock_labels.py MOCK_DIR OUT_DIR [LIBRARY_FRACTION]

From MOCK_DIR/truth.csv (`mstars simulate`), the stars are split (seeded, by star_id) into a
library part (LIBRARY_FRACTION, default 0.6) and a test part. For the library stars it writes
three catalogues keyed by obsid, like Du et al. 2025 3.2's:
  cat_a.csv      40% of the library stars, truth + (+87 K, 0, 0) + N(0; 30 K, 0.04, 0.04)
                 (ASPCAP-like: precise, Teff high by 87 K against the reference)
  cat_b.csv      80% of the library stars, truth + (-40 K, +0.15, -0.12) + N(0; 60 K, 0.08, 0.08)
                 (Ding22/LASPM-like: a log g and [M/H] offset, noisier)
  reference.csv  every library star, truth + N(0; 40 K, 0.05, 0.06) (StarHorse-like)
and test.csv: the truth of the test stars' observations (obsid, star_id, teff, logg, m_h,
snr_i). Noise is drawn per star (the repeats of a star share its catalogue labels)."""
import csv
import os
import sys

import numpy as np


def main():
    mock, out = sys.argv[1], sys.argv[2]
    frac = float(sys.argv[3]) if len(sys.argv) > 3 else 0.6
    os.makedirs(out, exist_ok=True)
    rows = list(csv.DictReader(open(os.path.join(mock, "truth.csv"))))
    rows = [r for r in rows if r["pathology"] == "none" and r["class"] == "STAR"]
    stars = sorted({int(r["star_id"]) for r in rows})
    rng = np.random.default_rng(2025)
    lib = set(s for s in stars if rng.uniform() < frac)
    per_star = {}
    for s in stars:
        per_star[s] = dict(a=rng.uniform() < 0.4, b=rng.uniform() < 0.8,
                           na=rng.normal(size=3), nb=rng.normal(size=3), nr=rng.normal(size=3))
    specs = {"cat_a": ((87.0, 0.0, 0.0), (30.0, 0.04, 0.04), "a", "na"),
             "cat_b": ((-40.0, 0.15, -0.12), (60.0, 0.08, 0.08), "b", "nb"),
             "reference": ((0.0, 0.0, 0.0), (40.0, 0.05, 0.06), None, "nr")}
    for name, (off, sig, member, noise) in specs.items():
        with open(os.path.join(out, name + ".csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["obsid", "teff", "logg", "m_h"])
            for r in rows:
                s = int(r["star_id"])
                if s not in lib or (member and not per_star[s][member]):
                    continue
                t = np.array([float(r["teff"]), float(r["logg"]), float(r["m_h"])])
                v = t + np.array(off) + np.array(sig) * per_star[s][noise]
                w.writerow([r["obsid"], "%.1f" % v[0], "%.4f" % v[1], "%.4f" % v[2]])
    with open(os.path.join(out, "test.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["obsid", "star_id", "teff", "logg", "m_h", "snr_i"])
        for r in rows:
            if int(r["star_id"]) not in lib:
                w.writerow([r["obsid"], r["star_id"], r["teff"], r["logg"], r["m_h"], r["snr_i"]])
    print(f"{len(lib)} library stars, {len(stars) - len(lib)} test stars")


if __name__ == "__main__":
    main()
