#!/usr/bin/python3
"""check_models.py CATALOG MODELS STORE: the best-fit models of `mstars fit --models` are the
ones the catalog's residuals were computed from: for every row, the mean |flux - model| *
sqrt(ivar) over the unmasked good pixels of the store equals resid_sigma (resid_sigma_emu
for /models/flux_emu) to float precision, rows without a fit are NaN, the shapes match.
Prints "ok" or "FAIL"."""
import sys, h5py, numpy as np
cat = h5py.File(sys.argv[1], 'r'); mod = h5py.File(sys.argv[2], 'r'); st = h5py.File(sys.argv[3], 'r')
c = cat['catalog']; n = len(c['teff'])
mask = st['spectra/fit_mask'][:].astype(bool)
flux = st['spectra/flux'][:n]; ivar = st['spectra/ivar'][:n]
worst = 0.0
for key, col in (('flux', 'resid_sigma'), ('flux_emu', 'resid_sigma_emu')):
    if key not in mod['models']: continue
    m = mod['models/' + key][:]
    assert m.shape == (n, flux.shape[1]), m.shape
    good = (~mask)[None, :] & (ivar > 0) & np.isfinite(flux) & np.isfinite(m)
    r = np.where(good, np.abs(flux - m) * np.sqrt(np.where(good, ivar, 0)), 0).sum(1) / np.maximum(good.sum(1), 1)
    r = np.where(good.sum(1) > 0, r, np.nan)
    ref = c[col][:]
    both = np.isfinite(ref)
    assert np.array_equal(np.isfinite(r), both), (np.isfinite(r).sum(), both.sum())
    assert both.sum() > 0.5 * n, 'most rows have a model'
    d = np.max(np.abs(r[both] - ref[both]) / ref[both])
    worst = max(worst, d)
    unfit = ~np.isfinite(c['teff'][:])
    assert np.all(np.isnan(m[unfit])), 'unfitted rows must be NaN'
    print(key, 'rows', n, 'with model', int(both.sum()), 'max rel diff of resid_sigma', d)
print('ok' if worst < 1e-5 else 'FAIL')
