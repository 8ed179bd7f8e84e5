#!/usr/bin/env python3
"""The same template matching as src/rv/tm.c in plain numpy/scipy (the peer implementation of
benchmarks/bench_rv.sh): templates on a uniform log10 grid (1e-5), broadened from R 2000 to
1800, median 1 over 4700-8899 A; per template and trial velocity 60 n (n = -10..10) the
template is interpolated onto the spectrum's native pixels and the 4th-order multiplicative
polynomial is solved by least squares (numpy.linalg.lstsq), chi^2 per pixel (L25 Eq. 2); the
3-point parabola at the minimum; the best template by lowest chi^2; errors from the best
template's chi^2 curve (5 km/s, scipy CubicSpline) remeasured for the 1001 shifts -500..500.

usage: bench_rv_numpy.py STORE.h5 TEMPLATE_DIR N_SPECTRA C_RESULTS.csv"""
import csv
import glob
import os
import sys
import time

import h5py
import numpy as np
from astropy.io import fits
from scipy.interpolate import CubicSpline
from scipy.ndimage import gaussian_filter1d

C = 299792.458
L0, DL, NPIX = 3.5682, 1e-4, 3910
WMIN, WMAX, DLT = 4700.0, 8899.0, 1e-5
STEP, NSTEP, K = 60.0, 10, 4


def doppler(v):
    return np.sqrt((1 + v / C) / (1 - v / C))


def load_templates(d):
    margin = np.log10(1 + 1000.0 / C)
    lo, hi = np.log10(WMIN) - margin, np.log10(WMAX) + margin
    n = int(np.ceil((hi - lo) / DLT)) + 1
    grid = lo + DLT * np.arange(n)
    sig_kms = C * np.sqrt(1 / 1800.0**2 - 1 / 2000.0**2) / 2.3548200450309493
    sig_pix = sig_kms / (C * np.log(10) * DLT)
    out = []
    for p in sorted(glob.glob(os.path.join(d, "*.fits"))):
        t = fits.getdata(p, 1)
        ll, fl = np.asarray(t["LogLam"], float), np.asarray(t["Flux"], float)
        # bin averages where the template is finer than the grid, else interpolation (as C)
        edges = lo + DLT * (np.arange(n + 1) - 0.5)
        idx = np.searchsorted(ll, edges)
        sums = np.add.reduceat(fl, np.minimum(idx[:-1], len(fl) - 1))
        cnt = np.diff(idx)
        f = np.interp(grid, ll, fl)
        ok = cnt >= 2
        f[ok] = (np.cumsum(np.r_[0, fl])[idx[1:]] - np.cumsum(np.r_[0, fl])[idx[:-1]])[ok] / cnt[ok]
        f = gaussian_filter1d(f, sig_pix, mode="nearest", truncate=np.ceil(4 * sig_pix) / sig_pix)
        k0 = int((np.log10(WMIN) - lo) / DLT)
        k1 = int((np.log10(WMAX) - lo) / DLT)
        f /= np.sort(f[k0:k1 + 1])[(k1 - k0) // 2]
        out.append((os.path.basename(p)[:-5], grid, f))
    return out


def chi2_at(tpl, ll_obs, O, x, v):
    _, g, f = tpl
    S = np.interp(ll_obs - np.log10(doppler(v)), g, f)
    A = S[:, None] * x[:, None] ** np.arange(K + 1)
    coef, res, *_ = np.linalg.lstsq(A, O, rcond=None)
    r = O - A @ coef
    return r @ r / len(O)


def parabola(c):
    im = int(np.argmin(c))
    if 0 < im < len(c) - 1 and np.isfinite(c[im - 1]) and np.isfinite(c[im + 1]):
        a = 0.5 * (c[im - 1] + c[im + 1]) - c[im]
        b = 0.5 * (c[im + 1] - c[im - 1])
        if a > 0:
            t = -b / (2 * a)
            return im + t, c[im] + b * t + a * t * t
    return float(im), c[im]


def measure(tpls, flux, ivar, mask):
    k = np.arange(NPIX)
    ll = L0 + DL * k
    win = (ll >= np.log10(WMIN)) & (ll <= np.log10(WMAX))
    kw = k[win]
    x = 2.0 * (kw - kw[0]) / (len(kw) - 1) - 1.0
    good = ((mask[win] & 5) == 0) & (ivar[win] > 0) & np.isfinite(flux[win])
    O = flux[win][good]
    O = O / np.sort(O)[len(O) // 2]
    llg, xg = ll[win][good], x[good]
    vs = STEP * np.arange(-NSTEP, NSTEP + 1)
    best = (np.inf, None, None)
    for ti, t in enumerate(tpls):
        c = np.array([chi2_at(t, llg, O, xg, v) for v in vs])
        xm, cm = parabola(c)
        if cm < best[0]:
            best = (cm, ti, STEP * (xm - NSTEP))
    _, ti, v0 = best
    u = v0 + 5.0 * np.arange(-36, 37)
    cu = np.array([chi2_at(tpls[ti], llg, O, xg, uu) for uu in u])
    sp = CubicSpline(u, cu, bc_type="natural")
    res = []
    for s in range(-500, 501):
        uu = vs + v0 - s
        c = np.where((uu >= u[0]) & (uu <= u[-1]), sp(np.clip(uu, u[0], u[-1])), np.inf)
        xm, _ = parabola(c)
        res.append(STEP * (xm - NSTEP) - s)
    res = np.array(res)
    return v0, v0 + res.mean(), res.std(), tpls[ti][0]


def main():
    store, tdir, n, cres = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    t0 = time.process_time()
    tpls = load_templates(tdir)
    print("numpy: %d templates loaded in %.2f s CPU" % (len(tpls), time.process_time() - t0))
    cref = {int(r["row"]): r for r in csv.DictReader(open(cres))}
    with h5py.File(store, "r") as f:
        rows = [r for r in sorted(cref)][:n]
        times, drv, dinit, same = [], [], [], 0
        for r in rows:
            fl, iv, m = f["native/flux"][r], f["native/ivar"][r], f["native/mask"][r]
            a = time.process_time()
            v0, rv, erv, name = measure(tpls, fl, iv, m)
            times.append(time.process_time() - a)
            drv.append(rv - float(cref[r]["rv"]))
            dinit.append(v0 - float(cref[r]["rv_init"]))
            same += name == cref[r]["template"]
    times = np.array(times)
    print("numpy: %d spectra, TM incl. errors median %.1f ms CPU per spectrum" % (len(rows), 1e3 * np.median(times)))
    print("numpy vs C: same best template %d/%d; |rv_init diff| max %.3f km/s; |rv diff| median %.3f max %.3f km/s"
          % (same, len(rows), np.max(np.abs(dinit)), np.median(np.abs(drv)), np.max(np.abs(drv))))
    print("NUMPY_MS %.3f" % (1e3 * np.median(times)))


main()
