#!/usr/bin/python3
"""laspm_kesseli_library.py: the Kesseli et al. 2017 BOSS templates as an mstars LASPM library.

    /usr/bin/python3 benchmarks/laspm_kesseli_library.py STORE.h5 OUT.h5 [TEMPLATE_DIR]

Writes OUT.h5 in the library layout of include/mstars/laspm.h (the layout `mstars
build-library` writes), on the wavelength grid of STORE.h5 (a store of `mstars ingest`), so
`mstars laspm --spectra STORE.h5 --library OUT.h5` can match against it.

Which templates: the dwarfs K5, K7 and M0-M8 that carry an [Fe/H] bin (file names
SPT_FEH_Dwarf.fits); the giants, M9 and the L dwarfs (no [Fe/H]) are left out.

Labels (the templates carry a spectral type and an [Fe/H] bin, not a Teff):
  * Teff from the spectral type with the dwarf sequence of Pecaut & Mamajek (2013, ApJS
    208, 9; the table "A Modern Mean Dwarf Stellar Color and Effective Temperature
    Sequence", version 2022.04): K5V 4440, K7V 4050, M0V 3850, M1V 3660, M2V 3560,
    M3V 3430, M4V 3210, M5V 3060, M6V 2810, M7V 2680, M8V 2570 K. The types are the
    integer subtypes of the co-adds, whose members span about +-0.5 subtype, so each
    Teff is uncertain by about half the step to the neighbouring type (~50-150 K).
  * log g from the same table's mass and radius (log g = 4.438 + log M - 2 log R):
    K5V 4.57, K7V 4.63, M0V 4.65, M1V 4.74, M2V 4.78, M3V 4.89, M4V 4.92, M5V 5.06,
    M6V 5.17, M7V 5.23, M8V 5.24 (main-sequence values; the templates do not measure it).
  CAVEAT: the Teff, mass and radius values were transcribed from the table without access
  to it in this session (no network); they are the commonly quoted ones but should be
  checked against the table before the numbers are relied on.
  * [Fe/H]: the bin's middle. A file "_X" holds stars with X - 0.5 < [Fe/H] < X (each
    file's COMMENT card), so [Fe/H] = X - 0.25; "_-2.0" holds [Fe/H] < -2.0: -2.25.
Spectra: the template's F_lambda (vacuum wavelengths, 7.15e-6 dex sampling) averaged over
each 1-A pixel of the store's grid (rest frame, vacuum), scaled to median 1 over 6000-8800 A
("calibrated" view: the matcher's quadratic recalibration absorbs the flux-scale difference).
"""
import glob
import os
import re
import sys

import h5py
import numpy as np
from astropy.io import fits

TEFF = {"K5": 4440, "K7": 4050, "M0": 3850, "M1": 3660, "M2": 3560, "M3": 3430, "M4": 3210,
        "M5": 3060, "M6": 2810, "M7": 2680, "M8": 2570}
LOGG = {"K5": 4.57, "K7": 4.63, "M0": 4.65, "M1": 4.74, "M2": 4.78, "M3": 4.89, "M4": 4.92,
        "M5": 5.06, "M6": 5.17, "M7": 5.23, "M8": 5.24}


def main():
    store, out = sys.argv[1], sys.argv[2]
    tdir = sys.argv[3] if len(sys.argv) > 3 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data",
        "templates-kesseli2017")
    with h5py.File(store, "r") as f:
        wave = f["/spectra/wavelength"][:]
    edges = np.concatenate([[wave[0] - 0.5 * (wave[1] - wave[0])], 0.5 * (wave[1:] + wave[:-1]),
                            [wave[-1] + 0.5 * (wave[-1] - wave[-2])]])
    rows = []
    for path in sorted(glob.glob(os.path.join(tdir, "*_Dwarf.fits"))):
        m = re.match(r"([KM]\d)_([+-]\d\.\d)_Dwarf\.fits$", os.path.basename(path))
        if not m or m.group(1) not in TEFF:
            continue
        spt, feh = m.group(1), float(m.group(2))
        d = fits.open(path)[1].data
        lam = 10.0 ** d["LogLam"].astype(np.float64)
        flux = d["Flux"].astype(np.float64)
        good = np.isfinite(flux)
        idx = np.digitize(lam[good], edges) - 1
        ok = (idx >= 0) & (idx < len(wave))
        s = np.bincount(idx[ok], weights=flux[good][ok], minlength=len(wave))
        n = np.bincount(idx[ok], minlength=len(wave))
        spec = np.where(n > 0, s / np.maximum(n, 1), np.nan)
        band = (wave >= 6000) & (wave <= 8800)
        spec /= np.nanmedian(spec[band])
        # gaps (none expected over 6000-8900 A): linear interpolation
        bad = ~np.isfinite(spec)
        if bad.any():
            spec[bad] = np.interp(wave[bad], wave[~bad], spec[~bad])
        rows.append((os.path.basename(path), spt, TEFF[spt], LOGG[spt], feh - 0.25, spec))
    n = len(rows)
    with h5py.File(out + ".partial", "w") as f:
        g = f.create_group("library")
        g["wavelength"] = wave
        g["flux"] = np.array([r[5] for r in rows], dtype=np.float32)
        g["teff"] = np.array([r[2] for r in rows], dtype=np.float64)
        g["logg"] = np.array([r[3] for r in rows], dtype=np.float64)
        g["m_h"] = np.array([r[4] for r in rows], dtype=np.float64)
        g["id"] = np.arange(1000000, 1000000 + n, dtype=np.int64)
        g["snr"] = np.full(n, np.nan)
        g["name"] = np.array([r[0].encode() for r in rows], dtype="S32")
        g["source"] = np.array([b"kesseli2017"] * n, dtype="S32")
        c = f.create_group("curation")
        c["step"] = np.array([b"kesseli2017_dwarf_templates_with_feh"], dtype="S48")
        c["count"] = np.array([n], dtype=np.int64)
        f.attrs["view"] = np.bytes_("calibrated")
        f.attrs["command"] = np.bytes_(" ".join(sys.argv))
        f.attrs["complete"] = np.int64(1)
    os.replace(out + ".partial", out)
    print(f"wrote {out}: {n} templates")
    for r in rows:
        print(f"  {r[0]:24s} Teff {r[2]:5d}  log g {r[3]:.2f}  [Fe/H] {r[4]:+.2f}")


if __name__ == "__main__":
    main()
