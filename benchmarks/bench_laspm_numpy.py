#!/usr/bin/python3
"""bench_laspm_numpy.py: the numpy peer of LASPM matching, and the benchmark's library.

    bench_laspm_numpy.py make-library STORE.h5 OUT.h5 N_LIB      (library of N_LIB store rows)
    bench_laspm_numpy.py match STORE.h5 LIBRARY.h5 N_SPECTRA REPEATS [BEST_OUT.txt]

make-library: N_LIB usable rows of the store drawn with replacement (seeded), in the
"calibrated" view (flux x continuum, median 1 over 6000-8800 A, gaps interpolated), written
in the library layout of include/mstars/laspm.h with random labels (speed and agreement
only).

match: the same algorithm as src/laspm/match.c written the natural numpy way: the chi2 with
a quadratic recalibration per pair in closed form from the same two stacked matrix products
(float64 matmul, numpy's BLAS), the 3x3 normal systems solved batched with
np.linalg.solve, the five best by argpartition, and one scipy.optimize.nnls of the five
recalibrated templates (no shared-polynomial refinement: the numpy side does less work in
that step). Prints the median wall and CPU seconds per run over REPEATS runs. Run with
OPENBLAS_NUM_THREADS=1 (one core)."""
import sys
import time

import h5py
import numpy as np
from scipy.optimize import nnls


def view(flux, ivar, cont, band):
    f = flux * cont
    w = np.where(cont > 0, ivar / np.maximum(cont, 1e-30) ** 2, 0.0)
    w = np.where(np.isfinite(f) & np.isfinite(w) & (w > 0), w, 0.0)
    f = np.where(w > 0, f, 0.0)
    med = np.array([np.median(fi[band & (wi > 0)]) if np.any(band & (wi > 0)) else 1.0
                    for fi, wi in zip(f, w)])
    return f / med[:, None], w * med[:, None] ** 2


def read_store(path, n):
    with h5py.File(path, "r") as f:
        st = f["/meta/status"][:]
        rows = np.flatnonzero(st == 0)[:n]
        wave = f["/spectra/wavelength"][:]
        mask = f["/spectra/fit_mask"][:].astype(bool)
        flux = f["/spectra/flux"][rows, :].astype(np.float64)
        ivar = f["/spectra/ivar"][rows, :].astype(np.float64)
        cont = f["/spectra/continuum"][rows, :].astype(np.float64)
    return wave, mask, rows, flux, ivar, cont


def make_library(store, out, n_lib):
    wave, mask, rows, flux, ivar, cont = read_store(store, 10 ** 9)
    band = (wave >= 6000) & (wave <= 8800)
    pick = np.random.default_rng(7).integers(0, len(rows), n_lib)
    f, w = view(flux[pick], ivar[pick], cont[pick], band)
    for i in range(n_lib):
        bad = w[i] <= 0
        if bad.any() and (~bad).any():
            f[i, bad] = np.interp(wave[bad], wave[~bad], f[i, ~bad])
    with h5py.File(out, "w") as h:
        g = h.create_group("library")
        g["wavelength"] = wave
        g["flux"] = f.astype(np.float32)
        rng = np.random.default_rng(8)
        g["teff"] = rng.uniform(3000, 4000, n_lib)
        g["logg"] = rng.uniform(4.5, 5.2, n_lib)
        g["m_h"] = rng.uniform(-1, 0.5, n_lib)
        g["id"] = np.arange(n_lib, dtype=np.int64)
        g["snr"] = np.zeros(n_lib)
        g["name"] = np.array([b"bench"] * n_lib, dtype="S32")
        g["source"] = np.array([b"bench"] * n_lib, dtype="S32")
        h.attrs["view"] = np.bytes_("calibrated")
        h.attrs["complete"] = np.int64(1)
    print(f"wrote {out}: {n_lib} library spectra")


def match(wave, mask, f, w, t, labels):
    use = (wave >= 6000) & (wave <= 8800) & ~mask
    x = (wave[use] - 7400.0) / 1400.0
    f, w, t = f[:, use], w[:, use], t[:, use].astype(np.float64)
    n, L = len(f), len(t)
    xk = x[None, :] ** np.arange(5)[:, None]                       # [5, P]
    left_b = (w * f)[:, None, :] * xk[None, :3, :]                  # [n, 3, P]
    left_m = w[:, None, :] * xk[None, :, :]                         # [n, 5, P]
    b = (left_b.reshape(n * 3, -1) @ t.T).reshape(n, 3, L)
    s = (left_m.reshape(n * 5, -1) @ (t * t).T).reshape(n, 5, L)
    M = np.stack([s[:, 0:3], s[:, 1:4], s[:, 2:5]], axis=1)         # [n, 3, 3, L]
    M = np.moveaxis(M, 3, 1)                                        # [n, L, 3, 3]
    c = np.linalg.solve(M, np.moveaxis(b, 2, 1)[..., None])[..., 0]  # [n, L, 3]
    chi2 = (w * f * f).sum(1)[:, None] - np.einsum("nlk,nkl->nl", c, b)
    best5 = np.argpartition(chi2, 5, axis=1)[:, :5]
    order = np.take_along_axis(chi2, best5, 1).argsort(1)
    best5 = np.take_along_axis(best5, order, 1)
    out = []
    for i in range(n):
        poly = c[i, best5[i]] @ xk[:3]                              # [5, P]
        A = (poly * t[best5[i]]).T * np.sqrt(w[i])[:, None]
        a, _ = nnls(A, f[i] * np.sqrt(w[i]))
        y = (a @ labels[best5[i]]) / max(a.sum(), 1e-300)
        out.append((best5[i, 0], chi2[i, best5[i, 0]], y[0], y[2]))
    return out


def main():
    if sys.argv[1] == "make-library":
        make_library(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    store, libp, n, reps = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    wave, mask, rows, flux, ivar, cont = read_store(store, n)
    band = (wave >= 6000) & (wave <= 8800)
    f, w = view(flux, ivar, cont, band)
    with h5py.File(libp, "r") as h:
        t = h["/library/flux"][:]
        labels = np.stack([h["/library/" + k][:] for k in ("teff", "logg", "m_h")], 1)
    walls, cpus = [], []
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        res = []
        for i0 in range(0, len(f), 32):   # batches of 32 as mstars (bounded memory)
            res += match(wave, mask, f[i0:i0 + 32], w[i0:i0 + 32], t, labels)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    mw, mc = np.median(walls), np.median(cpus)
    print(f"numpy: {len(f)} spectra x {len(t)} library spectra: match median wall {mw:.3f} s "
          f"({len(f) / mw:.1f} spectra/s), CPU {mc:.3f} s ({len(f) / mc:.1f} spectra/s/core)")
    if len(sys.argv) > 6:
        with open(sys.argv[6], "w") as o:
            for r in res:
                o.write("%d %.6g %.6g %.6g\n" % r)


if __name__ == "__main__":
    main()
