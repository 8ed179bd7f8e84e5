#!/usr/bin/env python3
"""class_mock.py: a minimal multi-class training set for the L25 classifiers (issue 22),
until the mock universe's own generator (branch mockclasses) lands.

Spectra in LAMOST's DR7 image layout (5 rows: flux, inverse variance, wavelength, andmask,
ormask; log-linear lattice COEFF0 3.5682, COEFF1 1e-4, observed frame) and truth.csv with the
columns train-classifier reads: obsid, spt_class (OB, A, F, G, K, M, GALAXY, QSO), is_wd,
lum_class (dwarf, giant, empty), and the source template.

Stars: the real Kesseli et al. 2017 templates (../shared/data/templates-kesseli2017: O8-B8 ->
OB, A, F, G, K0-K7 dwarfs and K5/K7 giants -> K, M0-M9 dwarfs -> M dwarf, M0 giant -> M giant),
augmented as LAMOST sees a star: a radial velocity (N(0, 40) km/s), extra LSF blur (Gaussian,
0-1.5 pixels), a flux-calibration tilt (lambda/6500)^b, b ~ N(0, 0.6), times a random cubic in
lambda (+-10%), a blue-poor S/N profile, Gaussian noise at S/N_r log-uniform in [5, 150], a few
masked pixels. No templates exist for white dwarfs, QSOs and galaxies; toy physics stands in:
  - WD (DA): a blackbody of 8000-40000 K with pressure-broadened Balmer absorption
    (Lorentzian, FWHM 40-160 A, depth 0.3-0.7);
  - QSO: f_lambda ~ lambda^(-a), a in [0.8, 2.0], broad emission lines (Ly-a, C IV, C III],
    Mg II, H-b, [O III], H-a; FWHM 2000-6000 km/s) at z in [0.05, 3.5];
  - GALAXY: a mix of G/K (old) and A (young) templates, broadened by sigma 100-300 km/s, at z
    in [0.01, 0.3], with emission lines ([O II], H-b, [O III], H-a, [N II], [S II]) of random
    strength (0 for half of them).
Toy classes are only as hard as their toy physics: accuracies on them say little about real
WDs, QSOs and galaxies.

Usage: class_mock.py OUTDIR --per-class N [--seed S] [--giants N] [--wd N] [--obsid0 K]
                     [--exclude T1,T2,..] [--only T1,T2,..]
--exclude leaves the named templates (file names without .fits) out, --only keeps just those
(classes left without a template keep theirs): a leave-template-out test trains with --exclude
and tests with --only on the same list.
"""
import argparse
import glob
import os

import numpy as np
from astropy.io import fits

C_KMS = 299792.458
LOGLAM0, DLOGLAM, NPIX = 3.5682, 1e-4, 3909
SHARED = os.environ.get("MSTARS_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
TEMPLATES = os.path.join(SHARED, "data", "templates-kesseli2017")


def read_template(path):
    t = fits.open(path)[1].data
    lam = 10.0 ** t["LogLam"].astype(float)
    f = t["Flux"].astype(float)
    good = np.isfinite(f)
    return lam[good], f[good]


def star_groups(exclude=(), only=()):
    """(spt_class, lum_class, [template paths]) of the Kesseli files."""
    files = sorted(glob.glob(os.path.join(TEMPLATES, "*.fits")))
    groups = {}
    for p in files:
        name = os.path.basename(p)[:-5]
        spt = name.split("_")[0]
        letter = spt[0]
        giant = name.endswith("Giant")
        if letter in "OB":
            key = ("OB", "")
        elif letter in "AFGK":
            key = (letter, "giant" if giant else "")
        elif letter == "M":
            key = ("M", "giant" if giant else "dwarf")
        else:
            continue  # L dwarfs: not one of L25's classes
        groups.setdefault(key, []).append(p)
    for k, ps in groups.items():
        name = lambda p: os.path.basename(p)[:-5]
        kept = [p for p in ps if name(p) not in exclude and (not only or name(p) in only)]
        groups[k] = kept or ps
    return groups


def lattice():
    return 10.0 ** (LOGLAM0 + DLOGLAM * np.arange(NPIX))


def blur(f, sigma_pix, rng):
    if sigma_pix <= 0.05:
        return f
    h = int(np.ceil(4 * sigma_pix))
    k = np.exp(-0.5 * (np.arange(-h, h + 1) / sigma_pix) ** 2)
    k /= k.sum()
    return np.convolve(np.pad(f, h, mode="edge"), k, mode="valid")


def observe(lam_rest, f_rest, shift, lam, rng):
    """A spectrum as LAMOST sees it: Doppler shift (1 + shift), LSF, tilt, noise, masks."""
    f = np.interp(lam, lam_rest * (1.0 + shift), f_rest, left=np.nan, right=np.nan)
    bad = ~np.isfinite(f)
    f[bad] = np.nanmedian(f)
    f = blur(f, rng.uniform(0.0, 1.5), rng)
    x = (lam - 6500.0) / 2500.0
    tilt = (lam / 6500.0) ** rng.normal(0.0, 0.6) * (1 + rng.uniform(-0.1, 0.1) * x
                                                     + rng.uniform(-0.1, 0.1) * x ** 2
                                                     + rng.uniform(-0.1, 0.1) * x ** 3)
    f = f * tilt
    f = f / np.median(f[(lam > 6000) & (lam < 6500)]) * rng.uniform(50, 5000)
    snr_r = float(np.exp(rng.uniform(np.log(5.0), np.log(150.0))))
    prof = np.clip(0.3 + 0.7 * (lam - 3900.0) / 2300.0, 0.3, 1.0)  # blue-poor S/N
    sig = np.abs(np.median(f[(lam > 5500) & (lam < 7000)])) / (snr_r * prof)
    sig = np.sqrt(sig ** 2 + 0.02 * np.abs(f) * sig)
    flux = f + rng.normal(0.0, 1.0, NPIX) * sig
    ivar = 1.0 / sig ** 2
    mask = np.zeros(NPIX)
    nbad = rng.integers(0, 20)
    for _ in range(nbad):
        k = rng.integers(0, NPIX - 5)
        mask[k:k + rng.integers(1, 5)] = 1
    mask[bad] = 1
    ivar[mask > 0] = 0
    snr = [snr_r * 0.3, snr_r * 0.7, snr_r, snr_r * 1.2, snr_r * 1.0]
    return flux.astype(np.float32), ivar.astype(np.float32), mask.astype(np.float32), snr


def planck(lam_a, T):
    lam = lam_a * 1e-8
    return 1.0 / lam ** 5 / (np.exp(1.4388 / (lam * T)) - 1.0)


def lorentz(lam, c, fwhm):
    g = fwhm / 2.0
    return g * g / ((lam - c) ** 2 + g * g)


def gauss(lam, c, fwhm):
    s = fwhm / 2.3548
    return np.exp(-0.5 * ((lam - c) / s) ** 2)


def toy_wd(rng):
    lam = np.linspace(3000, 10500, 15000)
    T = rng.uniform(8000, 40000)
    f = planck(lam, T)
    depth = rng.uniform(0.3, 0.7)
    absorb = np.zeros_like(lam)
    for c in (6564.6, 4862.7, 4341.7, 4102.9, 3971.2, 3890.2):
        absorb = np.maximum(absorb, depth * lorentz(lam, c, rng.uniform(40, 160)))
    return lam, f * (1 - absorb)


def toy_qso(rng):
    z = rng.uniform(0.05, 3.5)
    lam = np.linspace(3000 / (1 + z), 10500 / (1 + z), 15000)
    f = lam ** (-rng.uniform(0.8, 2.0))
    f = f / np.median(f)
    for c, s in ((1215.7, 3.0), (1549.0, 1.2), (1908.7, 0.6), (2798.8, 0.7), (4862.7, 0.6),
                 (5008.2, 0.3), (6564.6, 1.5)):
        fwhm = c * rng.uniform(2000, 6000) / C_KMS
        f = f + s * rng.uniform(0.3, 1.5) * gauss(lam, c, fwhm) * np.interp(c, lam, f)
    return lam, f, z


def toy_galaxy(rng, old, young):
    z = rng.uniform(0.01, 0.3)
    lo, fo = old[rng.integers(len(old))]
    ly, fy = young[rng.integers(len(young))]
    lam = np.exp(np.linspace(np.log(3500), np.log(9800), 12000))
    fo_ = np.interp(lam, lo, fo)
    fy_ = np.interp(lam, ly, fy)
    fo_ /= np.median(fo_)
    fy_ /= np.median(fy_)
    f = fo_ + rng.uniform(0, 0.6) * fy_
    dlog = np.log(lam[1] / lam[0]) * C_KMS
    f = blur(f, rng.uniform(100, 300) / dlog, rng)
    if rng.uniform() < 0.5:
        for c, s in ((3727.1, 1.0), (4862.7, 0.5), (5008.2, 1.0), (6564.6, 2.0), (6585.3, 0.7),
                     (6718.3, 0.4), (6732.7, 0.3)):
            f = f + s * rng.uniform(0, 2) * gauss(lam, c, 6.0)
    return lam, f, z


def write_fits(path, obsid, lam, flux, ivar, mask, snr, cls, sub, z):
    data = np.vstack([flux, ivar, lam.astype(np.float32), mask, mask]).astype(np.float32)
    h = fits.PrimaryHDU(data)
    hd = h.header
    hd["OBSID"] = obsid
    hd["DATA_V"] = "LAMOST DR7"
    hd["EXTEN0"] = "Flux, Inverse, Wavelength, Andmask, Ormask"
    hd["LMJD"] = 57000
    hd["PLANID"] = "CLASSMOCK"
    hd["RA"] = 10.0
    hd["DEC"] = 20.0
    hd["SPID"] = 1
    hd["FIBERID"] = obsid % 250 + 1
    hd["CLASS"] = cls
    hd["SUBCLASS"] = sub
    hd["Z"] = z
    hd["Z_ERR"] = 1e-4
    for k, s in zip(("SNRU", "SNRG", "SNRR", "SNRI", "SNRZ"), snr):
        hd[k] = round(float(s), 2)
    hd["COEFF0"] = LOGLAM0
    hd["COEFF1"] = DLOGLAM
    h.writeto(path, overwrite=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--per-class", type=int, default=100, help="spectra per class (8 SPT classes)")
    ap.add_argument("--giants", type=int, default=None, help="M giants (default per-class)")
    ap.add_argument("--wd", type=int, default=None, help="white dwarfs (default per-class)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--obsid0", type=int, default=900000000)
    ap.add_argument("--exclude", default="", help="templates to leave out (comma-separated)")
    ap.add_argument("--only", default="", help="templates to keep (comma-separated)")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)
    lam = lattice()
    split = lambda v: tuple(x for x in v.split(",") if x)
    groups = star_groups(split(a.exclude), split(a.only))
    cache = {}

    def tmpl(p):
        if p not in cache:
            cache[p] = read_template(p)
        return cache[p]

    old = [tmpl(p) for k, ps in groups.items() if k[0] in "GK" and k[1] == "" for p in ps]
    young = [tmpl(p) for p in groups[("A", "")]]
    jobs = []  # (spt_class, is_wd, lum_class, source, subclass)
    n = a.per_class
    n_giant = n if a.giants is None else a.giants
    n_wd = n if a.wd is None else a.wd
    for spt in ("OB", "A", "F", "G", "K"):
        keys = [k for k in groups if k[0] == spt]
        for i in range(n):
            k = keys[i % len(keys)]
            p = groups[k][rng.integers(len(groups[k]))]
            jobs.append((spt, 0, k[1], p, os.path.basename(p).split("_")[0][:2]))
    for i in range(n):
        p = groups[("M", "dwarf")][rng.integers(len(groups[("M", "dwarf")]))]
        jobs.append(("M", 0, "dwarf", p, "d" + os.path.basename(p)[:2]))
    for i in range(n_giant):
        p = groups[("M", "giant")][rng.integers(len(groups[("M", "giant")]))]
        jobs.append(("M", 0, "giant", p, "g" + os.path.basename(p)[:2]))
    jobs += [("GALAXY", 0, "", "toy", "")] * n + [("QSO", 0, "", "toy", "")] * n
    jobs += [("", 1, "", "toy", "WD")] * n_wd
    rows = []
    for i, (spt, wd, lum, src, sub) in enumerate(jobs):
        obsid = a.obsid0 + i
        z = 0.0
        if src == "toy" and wd:
            lr, fr = toy_wd(rng)
            shift = rng.normal(0, 40) / C_KMS
            cls, sub_ = "WD", "DA"
        elif src == "toy" and spt == "QSO":
            lr, fr, z = toy_qso(rng)
            shift = z
            cls, sub_ = "QSO", "QSO"
        elif src == "toy":
            lr, fr, z = toy_galaxy(rng, old, young)
            shift = z
            cls, sub_ = "GALAXY", "GALAXY"
        else:
            lr, fr = tmpl(src)
            shift = rng.normal(0, 40) / C_KMS
            z = shift
            cls, sub_ = "STAR", sub
        flux, ivar, mask, snr = observe(lr, fr, shift, lam, rng)
        write_fits(os.path.join(a.out, f"spec-cm-{obsid}.fits"), obsid, lam, flux, ivar, mask,
                   snr, cls, sub_, z)
        rows.append((obsid, spt, wd, lum, os.path.basename(src)))
    with open(os.path.join(a.out, "truth.csv"), "w") as f:
        f.write("obsid,spt_class,is_wd,lum_class,source\n")
        for r in rows:
            f.write("%d,%s,%d,%s,%s\n" % r)
    print(f"class_mock: {len(rows)} spectra in {a.out}")


if __name__ == "__main__":
    main()
