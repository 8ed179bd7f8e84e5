#!/usr/bin/python3
"""check_templates.py OUT TEMPLATE_DIR: an independent numpy reference for `mstars simulate
--from-templates --clean` (no noise, RV, flux-calibration tilt, tellurics, sky or masks).

Each written spectrum must equal its Kesseli template convolved, on the template's own
log-uniform pixels, with the difference kernel between the fibre's LAMOST LSF and the BOSS
resolution (Gaussian in ln lambda, sigma^2 = sigma_LAMOST^2 - sigma_2000^2, at least
0.2 sigma_LAMOST, cut at 4 sigma, weights normalised), R(lambda) = R0 (1 + tilt u - 0.06 u^2),
u = (lambda - 6500)/2600 (docs/simulate.md), sampled at the file's wavelengths, up to one
scale factor (the flux level). The program's path (interpolation onto the 0.25 A hi-res grid,
recurrence-weighted LSF) is not reused. Prints the worst relative difference; exit 1 when it
exceeds the tolerance."""
import csv
import sys

import numpy as np
from astropy.io import fits

TOL = 3e-3


def read_lamost(path):
    with fits.open(path) as h:
        if len(h) > 1 and isinstance(h[1], fits.BinTableHDU):
            d = h[1].data
            return (np.asarray(d["WAVELENGTH"][0], float), np.asarray(d["FLUX"][0], float),
                    np.asarray(d["IVAR"][0], float), h[0].header)
        d = h[0].data
        return np.asarray(d[2], float), np.asarray(d[0], float), np.asarray(d[1], float), h[0].header


def reference(tw, tf, wave, r0, tilt):
    u = (wave - 6500.0) / 2600.0
    R = r0 * (1.0 + tilt * u - 0.06 * u * u)
    c = 2.0 * np.sqrt(2.0 * np.log(2.0))
    sl, st = 1.0 / (c * R), 1.0 / (c * 2000.0)
    s = np.sqrt(np.maximum(sl**2 - st**2, 0.04 * sl**2))
    lt, lw = np.log(tw), np.log(wave)
    out = np.empty_like(wave)
    for i in range(len(wave)):
        a, b = np.searchsorted(lt, [lw[i] - 4 * s[i], lw[i] + 4 * s[i]])
        d = (lt[a:b] - lw[i]) / s[i]
        w = np.exp(-0.5 * d * d)
        out[i] = np.dot(w, tf[a:b]) / w.sum()
    return out


def main():
    out, tdir = sys.argv[1], sys.argv[2]
    rows = list(csv.DictReader(open(out + "/truth.csv")))
    worst = 0.0
    for r in rows:
        with fits.open(f"{tdir}/{r['template']}.fits") as h:
            tw = 10.0 ** np.asarray(h[1].data["LogLam"], float)
            tf = np.asarray(h[1].data["Flux"], float)
        wave, flux, ivar, hdr = read_lamost(out + "/" + r["file"])
        assert len(wave) == int(r["npix"]), "npix"
        assert hdr["CLASS"] == r["class"] and hdr["SUBCLASS"] == r["subclass"], "header class"
        assert np.all(ivar > 0), "clean spectra have no masked pixel"
        ref = reference(tw, tf, wave, float(r["lsf_r6500"]), float(r["lsf_tilt"]))
        good = ref > 0.05 * np.median(ref)
        scale = np.median(flux[good] / ref[good])
        rel = np.abs(flux[good] / (scale * ref[good]) - 1.0)
        print(f"{r['template']:16s} {r['file'].split('/')[-1]:40s} max |rel diff| {rel.max():.2e}")
        worst = max(worst, rel.max())
    print(f"worst {worst:.2e} over {len(rows)} spectra (tolerance {TOL:g})")
    return 0 if worst < TOL else 1


if __name__ == "__main__":
    sys.exit(main())
