#!/usr/bin/env python3
"""Compare a catalog (CSV of `mstars export`) with the literature labels of the real M dwarfs
(../shared/data/lamost-mdwarfs/labels.csv), joined by obsid. Prints the fraction of rows
flagged and why (fit_flags bits other than the informational ones, cut_flags bits), the
spread of (fit - literature) / e_teff over the unflagged rows, with a bootstrap 68% interval,
and SpT(TiO5) against the LAMOST SUBCLASS. Standard library only.

usage: real_mdwarfs_compare.py CATALOG.csv LABELS.csv [--total] [--check-half]
  --total       use e_teff_total (calibrate-errors) instead of e_teff
  --check-half  only the stars calibrate-errors --reference-fraction 0.5 did not use
                (u(source_id) >= 0.5, the hash of include/mstars/sys_errors.h)"""
import csv
import math
import random
import statistics
import sys

FIT_BITS = ["not_converged", "linesearch", "at_bound", "presearch_disagree", "few_pixels",
            "bad_input", "nonfinite", "rv_edge", "bad_pixels", "singular", "rv_wide",
            "no_rv_start", "model_mismatch", "grid_failed"]
INFO = {"linesearch", "bad_pixels", "rv_wide", "no_rv_start"}
CUT_BITS = ["teff_hot", "at_boundary", "error_outlier", "chi2_high"]


def num(s):
    try:
        v = float(s)
        return v if math.isfinite(v) else None
    except (TypeError, ValueError):
        return None


def subclass_number(s):
    s = (s or "").strip()
    if not s or s[0] not in "MK":
        return None
    v = num(s[1:])
    if v is None:
        return None
    if s[0] == "M":
        return v
    return -2 + (v - 5) / 2 if 5 <= v <= 7 else None


def spread(z):
    """std of z and a bootstrap 68% interval (1000 resamples)"""
    if len(z) < 3:
        return None, None, None
    s = statistics.pstdev(z) * math.sqrt(len(z) / (len(z) - 1))
    rng = random.Random(17)
    boots = sorted(statistics.stdev([rng.choice(z) for _ in z]) for _ in range(1000))
    return s, boots[160], boots[840]


MASK = (1 << 64) - 1


def split_u(g):
    """ms_sys_split_u: (splitmix64(g) >> 11) / 2^53"""
    z = (g + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    z = z ^ (z >> 31)
    return (z >> 11) / float(1 << 53)


def main(cat_path, lab_path, total=False, half=False):
    rows = list(csv.DictReader(open(cat_path)))
    if half:
        rows = [r for r in rows if int(num(r["source_id"]) or -1) >= 0
                and split_u(int(num(r["source_id"]))) >= 0.5]
        print(f"check half (stars the calibration did not use): {len(rows)} rows")
    ecol = "e_teff_total" if total else "e_teff"
    lit = {r["obsid"].strip(): r for r in csv.DictReader(open(lab_path))}
    n = len(rows)
    reasons = {}
    flagged = []
    for r in rows:
        why = []
        ff = int(num(r.get("fit_flags")) or 0)
        cf = int(num(r.get("cut_flags")) or 0)
        if int(num(r.get("store_status")) or 0) != 0:
            why.append("store_status")
        why += [b for k, b in enumerate(FIT_BITS) if ff >> k & 1 and b not in INFO]
        why += ["cut_" + b for k, b in enumerate(CUT_BITS) if cf >> k & 1]
        for w in why:
            reasons[w] = reasons.get(w, 0) + 1
        flagged.append(bool(why))
    nf = sum(flagged)
    print(f"rows {n}; flagged {nf} ({100.0 * nf / max(n, 1):.0f}%)")
    for w, c in sorted(reasons.items(), key=lambda x: -x[1]):
        print(f"  {w:24s} {c}")
    teffs = [num(r["teff"]) for r in rows if num(r["teff"]) is not None]
    if teffs:
        print(f"fitted Teff: median {statistics.median(teffs):.0f} K, range "
              f"{min(teffs):.0f}-{max(teffs):.0f} K")
    mis = [num(r.get("model_misfit")) for r in rows if num(r.get("model_misfit")) is not None]
    if mis:
        print(f"model_misfit: median {100 * statistics.median(mis):.1f}% of the flux")
    # against the literature
    for sel_name, want in (("all fitted", None), ("unflagged", False), ("flagged", True)):
        z, d = [], []
        for r, fl in zip(rows, flagged):
            L = lit.get(r["obsid"].strip())
            t, e, tl = num(r["teff"]), num(r[ecol]), num(L["teff"]) if L else None
            if None in (t, e, tl) or e <= 0 or (want is not None and fl != want):
                continue
            d.append(t - tl)
            z.append((t - tl) / e)
        if not d:
            print(f"{sel_name}: no row with a literature Teff")
            continue
        s, lo, hi = spread(z)
        bias = statistics.mean(d)
        sc = statistics.stdev(d) if len(d) > 1 else float("nan")
        txt = f"{s:.2f} (68%: {lo:.2f}-{hi:.2f})" if s is not None else "n/a"
        print(f"{sel_name}: n {len(d)}, Teff - lit {bias:+.0f} +- {sc:.0f} K, "
              f"std((fit - lit) / {ecol}) {txt}, median {ecol} "
              f"{statistics.median([abs(x / y) for x, y in zip(d, z) if y]):.0f} K")
    # SpT against SUBCLASS
    pairs = [(num(r["spt"]), subclass_number(r.get("subclass"))) for r in rows]
    pairs = [(a, b) for a, b in pairs if a is not None and a > -100 and b is not None]
    if pairs:
        dd = [a - b for a, b in pairs]
        within = sum(abs(x) <= 1 for x in dd)
        print(f"SpT(TiO5) - SUBCLASS: n {len(dd)}, bias {statistics.mean(dd):+.2f}, scatter "
              f"{statistics.stdev(dd):.2f}, within 1 subtype {within}/{len(dd)}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        sys.exit(__doc__)
    main(args[0], args[1], "--total" in sys.argv, "--check-half" in sys.argv)
