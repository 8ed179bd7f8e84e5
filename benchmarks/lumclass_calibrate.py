#!/usr/bin/python3
"""lumclass_calibrate.py: calibrate and cross-validate the dwarf/giant vote of the Table 3 line
indices (Li et al. 2025; src/lumclass, docs/lumclass.md) on real spectra.

An independent numpy implementation of the indices (not a call into mstars): the same bands,
pixel-cell overlaps and error propagation as src/lumclass/lines.c, written from its comment.

Calibration set (real spectra only):
  - the Kesseli et al. 2017 templates K5-M9 (dwarfs by [Fe/H] bin, the K5/K7/M0 giants):
    ../shared/data/templates-kesseli2017;
  - the 37 LAMOST M dwarfs of ../shared/data/lamost-mdwarfs (rest frame by Z*c, 0 when Z is
    missing; LAMOST's ormask/andmask pixels dropped), all labelled dwarf.
Per feature, the threshold is the middle of the interval of thresholds with the best balanced
accuracy (a decision stump); the verdict is the C rule: a feature abstains within its 1-sigma
error of the threshold, >= 3 votes with <= 1 against decide, else unknown.

Prints: the thresholds (for src/lumclass/verdict.c), leave-one-out and leave-one-source-out
cross-validated accuracies with Wilson 68% intervals, and the in-sample table.
Usage: /usr/bin/python3 benchmarks/lumclass_calibrate.py [--shared ../shared] [--table]
"""
import argparse
import csv
import glob
import math
import os

import numpy as np
from astropy.io import fits

C_KMS = 299792.458
CAH_NUM, CAH_DEN, TIO5_NUM = (6961.9, 6991.9), (7043.9, 7047.9), (7128.0, 7137.0)
EW = {
    "ki": ((7640.0, 7652.0), (7720.0, 7735.0), [(7660.0, 7674.0), (7694.0, 7708.0)]),
    "nai": ((8150.0, 8172.0), (8208.0, 8225.0), [(8177.0, 8203.0)]),
    "cat": ((8475.0, 8486.0), (8700.0, 8725.0), [(8492.0, 8509.0), (8535.0, 8554.0), (8655.0, 8674.0)]),
}
FEATURES = ["cah", "ki", "nai", "cat"]
GIANT_ABOVE = {"cah": True, "ki": False, "nai": False, "cat": True}


def cell_edges(w):
    e = np.empty(len(w) + 1)
    e[1:-1] = 0.5 * (w[1:] + w[:-1])
    e[0] = w[0] - 0.5 * (w[1] - w[0])
    e[-1] = w[-1] + 0.5 * (w[-1] - w[-2])
    return e


def overlap(e, lo, hi):
    return np.clip(np.minimum(e[1:], hi) - np.maximum(e[:-1], lo), 0.0, None)


def band_mean(e, f, var, good, band):
    o = overlap(e, *band) * good
    sw = o.sum()
    if not sw >= 0.5 * (band[1] - band[0]):
        return np.nan, np.nan
    return (o * f).sum() / sw, (o * o * var).sum() / sw**2


def indices(w, f, ivar=None, bad=None):
    """Indices and errors of one rest-frame vacuum spectrum (numpy arrays)."""
    f = np.asarray(f, float)
    good = np.isfinite(f)
    if ivar is not None:
        ivar = np.asarray(ivar, float)
        good &= np.isfinite(ivar) & (ivar > 0)
        var = np.where(good, 1.0 / np.where(good, ivar, 1.0), 0.0)
    else:
        var = np.zeros_like(f)
    if bad is not None:
        good &= ~np.asarray(bad, bool)
    f = np.where(good, f, 0.0)
    g = good.astype(float)
    e = cell_edges(np.asarray(w, float))
    out = {}
    for name, num in (("cah", CAH_NUM), ("tio5", TIO5_NUM)):
        n, vn = band_mean(e, f, var, g, num)
        d, vd = band_mean(e, f, var, g, CAH_DEN)
        r = n / d if d > 0 else np.nan
        out[name] = r
        out["e_" + name] = math.sqrt(vn / d**2 + r * r * vd / d**2) if d > 0 else np.nan
    for name, (blue, red, lines) in EW.items():
        fb, vb = band_mean(e, f, var, g, blue)
        fr, vr = band_mean(e, f, var, g, red)
        xb, xr = 0.5 * sum(blue), 0.5 * sum(red)
        ew, vpix, dfb, dfr, ok = 0.0, 0.0, 0.0, 0.0, np.isfinite(fb) and np.isfinite(fr)
        for lo, hi in lines if ok else []:
            o = overlap(e, lo, hi) * g
            t = (w - xb) / (xr - xb)
            fc = fb * (1 - t) + fr * t
            m = o > 0
            if np.any(fc[m] <= 0) or not o.sum() >= 0.7 * (hi - lo):
                ok = False
                break
            s = (hi - lo) / o.sum()
            ew += s * (o[m] * (1 - f[m] / fc[m])).sum()
            vpix += s * s * ((o[m] / fc[m]) ** 2 * var[m]).sum()
            gg = o[m] * f[m] / fc[m] ** 2
            dfb += s * (gg * (1 - t[m])).sum()
            dfr += s * (gg * t[m]).sum()
        out[name] = ew if ok else np.nan
        out["e_" + name] = math.sqrt(vpix + dfb**2 * vb + dfr**2 * vr) if ok else np.nan
    if ivar is None:
        for k in list(out):
            if k.startswith("e_"):
                out[k] = np.nan
    return out


def read_template(path):
    d = fits.open(path)[1].data
    return 10 ** d["LogLam"].astype(float), d["Flux"].astype(float)


def read_lamost(path):
    """LAMOST DR7 image layout: flux, ivar, wavelength, andmask, ormask (vacuum, observed)."""
    h = fits.open(path)
    d, hd = h[0].data.astype(float), h[0].header
    z = hd["Z"]
    v = z * C_KMS if z > -9000 and abs(z * C_KMS) < 3000 else 0.0
    # the log-linear lattice of the header where the wavelength row is on it (to float32
    # precision); else the row itself (one file starts at 3700.0 A, off the lattice: mstars
    # interpolates it onto the lattice, so its indices differ from these by ~1e-3)
    lat = 10 ** (hd["COEFF0"] + hd["COEFF1"] * np.arange(d.shape[1]))
    w = (lat if np.max(np.abs(lat - d[2])) < 0.01 else d[2]) / (1 + v / C_KMS)
    bad = (d[3] != 0) | (d[4] != 0)
    return w, d[0], d[1], bad


def load(shared):
    rows = []
    tdir = os.path.join(shared, "data", "templates-kesseli2017")
    for p in sorted(glob.glob(os.path.join(tdir, "*.fits"))):
        n = os.path.basename(p)[:-5]
        if n[0] not in "KM" or (n[0] == "K" and n[1] in "01234"):
            continue  # K5-M9: the types the module serves
        w, f = read_template(p)
        r = indices(w, f)
        r.update(name=n, giant="Giant" in n, source="kesseli")
        rows.append(r)
    ddir = os.path.join(shared, "data", "lamost-mdwarfs")
    for p in sorted(glob.glob(os.path.join(ddir, "*.fits"))):
        w, f, iv, bad = read_lamost(p)
        r = indices(w, f, iv, bad)
        r.update(name=os.path.basename(p)[:-5], giant=False, source="lamost")
        rows.append(r)
    return rows


def stump(x, y, giant_above):
    """The middle of the first run of candidate thresholds (midpoints between sorted values)
    that reach the best balanced accuracy."""
    x, y = x[np.isfinite(x)], y[np.isfinite(x)]
    v = np.unique(x)
    cands = (v[1:] + v[:-1]) / 2
    ba = np.array([0.5 * ((x > t if giant_above else x < t)[y].mean()
                          + (~(x > t if giant_above else x < t))[~y].mean()) for t in cands])
    i = int(np.argmax(ba >= ba.max() - 1e-12))
    j = i
    while j + 1 < len(cands) and ba[j + 1] >= ba.max() - 1e-12:
        j += 1
    return 0.5 * (cands[i] + cands[j])


def calibrate(rows):
    y = np.array([r["giant"] for r in rows])
    return {k: stump(np.array([r[k] for r in rows], float), y, GIANT_ABOVE[k]) for k in FEATURES}


def verdict(r, th):
    ng = nd = 0
    for k in FEATURES:
        x, e = r[k], r["e_" + k]
        if not np.isfinite(x):
            continue
        if abs(x - th[k]) <= (e if np.isfinite(e) else 0.0):
            continue
        if (x > th[k]) == GIANT_ABOVE[k]:
            ng += 1
        else:
            nd += 1
    if ng >= 3 and nd <= 1:
        return "giant", ng, nd
    if nd >= 3 and ng <= 1:
        return "dwarf", ng, nd
    return "unknown", ng, nd


def wilson(k, n, z=1.0):
    if n == 0:
        return (np.nan, np.nan, np.nan)
    p = k / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return p, c - h, c + h


def summary(label, rows, preds):
    truth = ["giant" if r["giant"] else "dwarf" for r in rows]
    out = [label]
    for cls in ("dwarf", "giant"):
        idx = [i for i, t in enumerate(truth) if t == cls]
        right = sum(preds[i] == cls for i in idx)
        wrong = sum(preds[i] not in (cls, "unknown") for i in idx)
        unk = sum(preds[i] == "unknown" for i in idx)
        p, lo, hi = wilson(right, len(idx))
        out.append("  %-5s n=%2d  right %2d  wrong %2d  unknown %2d  recall %.3f [%.3f, %.3f]"
                   % (cls, len(idx), right, wrong, unk, p, lo, hi))
    dec = [i for i in range(len(rows)) if preds[i] != "unknown"]
    right = sum(preds[i] == truth[i] for i in dec)
    p, lo, hi = wilson(right, len(dec))
    out.append("  decided %d of %d; accuracy of the decided %.3f [%.3f, %.3f] (Wilson 68%%)"
               % (len(dec), len(rows), p, lo, hi))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    ap.add_argument("--table", action="store_true", help="print every spectrum's indices")
    a = ap.parse_args()
    rows = [r for r in load(a.shared)]
    usable = [r for r in rows if sum(np.isfinite(r[k]) for k in FEATURES) >= 3]
    print("spectra: %d (%d with >= 3 indices): %d giants, %d dwarfs"
          % (len(rows), len(usable), sum(r["giant"] for r in usable), sum(not r["giant"] for r in usable)))
    th = calibrate(usable)
    print("thresholds (all usable spectra): " + ", ".join("%s %.4f" % (k, th[k]) for k in FEATURES))
    # leave-one-out: thresholds without the star
    preds = []
    for i in range(len(usable)):
        t = calibrate(usable[:i] + usable[i + 1:])
        preds.append(verdict(usable[i], t)[0])
    print(summary("leave-one-out:", usable, preds))
    wrong = [(usable[i]["name"], preds[i]) for i in range(len(usable))
             if preds[i] != ("giant" if usable[i]["giant"] else "dwarf")]
    print("  not right: " + ", ".join("%s -> %s" % w for w in wrong))
    # leave one source out for the dwarfs: thresholds from the templates only, tested on LAMOST
    tpl = [r for r in usable if r["source"] == "kesseli"]
    lam = [r for r in usable if r["source"] == "lamost"]
    t = calibrate(tpl)
    print("thresholds (templates only): " + ", ".join("%s %.4f" % (k, t[k]) for k in FEATURES))
    print(summary("templates -> LAMOST dwarfs:", lam, [verdict(r, t)[0] for r in lam]))
    print(summary("in-sample (all-data thresholds):", usable, [verdict(r, th)[0] for r in usable]))
    if a.table:
        for r in rows:
            v = verdict(r, th)
            print("%-48s %-6s cah %.4f ki %7.3f nai %7.3f cat %7.3f tio5 %.4f -> %s (%d g, %d d)"
                  % (r["name"], "giant" if r["giant"] else "dwarf", r["cah"], r["ki"], r["nai"],
                     r["cat"], r["tio5"], v[0], v[1], v[2]))


if __name__ == "__main__":
    main()
