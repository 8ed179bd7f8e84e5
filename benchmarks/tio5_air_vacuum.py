#!/usr/bin/env python3
"""TiO5 band limits: air or vacuum? (issue 17 item 7) Evidence from real spectra.

The TiO5 index (Reid et al. 1995: mean flux 7126-7135 A over 7042-7046 A) was defined on
spectra in air wavelengths; LAMOST and BOSS spectra are in vacuum (air -> vacuum adds ~1.96 A
near 7100 A). mstars measures it on its vacuum grid with the limits as written. This script
measures SpT = -10.775 TiO5 + 8.2 (Z25) with the limits (V) as written, on the vacuum grid, and
(A) converted from air to vacuum (Morton 2000), on
  - the Kesseli et al. 2017 BOSS dwarf templates K5-M9 (known spectral types, every [Fe/H] bin),
  - the real LAMOST M dwarfs (../shared/data/lamost-mdwarfs) against their LAMOST SUBCLASS,
the flux first resampled onto mstars' 1 A grid (pixels at whole Angstroms, a band = the pixels
inside its limits, as src/spec/indices.c), and prints the bias and scatter of SpT - reference
(bootstrap 68% intervals). numpy and astropy.

usage: tio5_air_vacuum.py SHARED_DATA_DIR"""
import glob
import os
import re
import sys

import numpy as np
from astropy.io import fits

NUM, DEN = (7126.0, 7135.0), (7042.0, 7046.0)
C_KMS = 299792.458


def air_to_vac(w):
    s2 = (1e4 / w) ** 2
    n = 1 + 8.34254e-5 + 2.406147e-2 / (130 - s2) + 1.5998e-4 / (38.9 - s2)
    return w * n


def tio5(wave, flux, num, den):
    grid = np.arange(7000.0, 7200.0)
    ok = np.isfinite(flux) & np.isfinite(wave)
    f = np.interp(grid, wave[ok], flux[ok], left=np.nan, right=np.nan)

    def band(lo, hi):
        sel = (grid >= lo - 1e-9) & (grid <= hi + 1e-9)
        return np.nanmean(f[sel])

    return band(*num) / band(*den)


def spt(t):
    return -10.775 * t + 8.2


def subtype(s):
    m = re.match(r"^d?([KM])(\d(\.\d)?)", s.strip())
    if not m:
        return None
    v = float(m.group(2))
    if m.group(1) == "M":
        return v
    return {5.0: -2.0, 7.0: -1.0}.get(v)


def stats(d, rng):
    d = np.asarray(d)
    boot = [np.std(rng.choice(d, d.size), ddof=1) for _ in range(1000)]
    bb = [np.mean(rng.choice(d, d.size)) for _ in range(1000)]
    return (f"n {d.size}, bias {d.mean():+.2f} (68%: {np.percentile(bb, 16):+.2f} to "
            f"{np.percentile(bb, 84):+.2f}), scatter {d.std(ddof=1):.2f} (68%: "
            f"{np.percentile(boot, 16):.2f}-{np.percentile(boot, 84):.2f}), within 0.5: "
            f"{np.mean(np.abs(d) <= 0.5):.0%}")


def main(shared):
    rng = np.random.default_rng(17)
    limits = {"V (as written, vacuum grid)": (NUM, DEN),
              "A (air limits -> vacuum)": (tuple(air_to_vac(np.array(NUM))),
                                           tuple(air_to_vac(np.array(DEN))))}
    print(f"air -> vacuum near 7100 A: +{air_to_vac(7100.0) - 7100.0:.2f} A")
    # Kesseli templates: dwarfs K5, K7, M0-M7 (TiO5 saturates and turns over beyond M7)
    rows = []
    for path in sorted(glob.glob(os.path.join(shared, "templates-kesseli2017", "*_Dwarf.fits"))):
        st = subtype(os.path.basename(path).split("_")[0])
        if st is None or st > 7:
            continue
        with fits.open(path) as h:
            d = h[1].data
            w, f = 10 ** d["LogLam"].astype(float), d["Flux"].astype(float)
        rows.append((st, w, f))
    for name, (num, den) in limits.items():
        d = [spt(tio5(w, f, num, den)) - st for st, w, f in rows]
        print(f"Kesseli dwarfs K5-M7, {name}: SpT - true: {stats(d, rng)}")
    # LAMOST M dwarfs (DR7 image layout: flux row 0, ivar 1, wavelength 2, ORMASK 4; vacuum;
    # rest frame by Z)
    rows = []
    for path in sorted(glob.glob(os.path.join(shared, "lamost-mdwarfs", "spec-*.fits"))):
        with fits.open(path) as h:
            hd, data = h[0].header, h[0].data
            st = subtype(str(hd.get("SUBCLASS", "")))
            z = hd.get("Z", -9999)
            if st is None or data is None or not (abs(z) < 0.01):
                continue
            w = data[2].astype(float) / (1 + z)
            f = data[0].astype(float)
            f[(data[1] <= 0) | (data[4] != 0)] = np.nan  # ivar 0 or ORMASK: bad (as ingest)
            rows.append((st, w, f))
    for name, (num, den) in limits.items():
        d = [spt(tio5(w, f, num, den)) - st for st, w, f in rows]
        d = [x for x in d if np.isfinite(x)]
        print(f"LAMOST M dwarfs, {name}: SpT - SUBCLASS: {stats(d, rng)}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
