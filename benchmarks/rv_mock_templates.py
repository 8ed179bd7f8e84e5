#!/usr/bin/env python3
"""Turn models of the mock universe's theory grid (BT-Settl .spec.7, `mstars simulate`) into an
ASCII template library for `mstars rv` (docs/rv.md: two columns, vacuum A and flux, and a
"# resolution: R" comment; the grid is the noiseless physics, so R is given as 1e6 and the
loader broadens it to the spectra's R 1800).

usage: rv_mock_templates.py GRID_DIR OUT_DIR [--logg 5.0] [--mh -0.5,0.0] [--teff 2800,4000,200]
"""
import argparse
import os

ap = argparse.ArgumentParser()
ap.add_argument("grid")
ap.add_argument("out")
ap.add_argument("--logg", default="5.0")
ap.add_argument("--mh", default="-1.0,-0.5,0.0,0.5")
ap.add_argument("--teff", default="2800,4000,100")
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)
t0, t1, dt = (float(x) for x in a.teff.split(","))
n = 0
teff = t0
while teff <= t1 + 1e-6:
    for mh in a.mh.split(","):
        m = float(mh)
        mtext = "-0.0" if m == 0.0 else "%+.1f" % m
        path = None
        for alpha in ("+0.0", "+0.2", "+0.4"):  # the grid's [alpha/M] follows [M/H]
            name = "lte%05.1f-%.1f%sa%s.BT-Settl.spec.7" % (teff / 100.0, float(a.logg), mtext, alpha)
            if os.path.exists(os.path.join(a.grid, name)):
                path = os.path.join(a.grid, name)
                break
        if path is None:
            continue
        out = os.path.join(a.out, "mock_T%04d_g%s_m%+.1f.txt" % (teff, a.logg, float(mh)))
        with open(path) as f, open(out, "w") as g:
            g.write("# %s of the mock grid\n# resolution: 1000000\n" % name)
            last = 0.0
            for line in f:
                p = line.split()
                w = float(p[0])
                if w <= last:  # the format repeats and swaps a few rows
                    continue
                last = w
                g.write("%.5f %.6e\n" % (w, 10 ** (float(p[1].replace("D", "E")) - 8.0)))
        n += 1
    teff += dt
print("wrote %d templates to %s" % (n, a.out))
