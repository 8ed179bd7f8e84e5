#!/usr/bin/python3
"""classify_compare.py: confusion tables of an `mstars classify` catalog (issue 22).

  classify_compare.py mock CATALOG TRUTH_CSV
      against the truth of class_mock.py: CNN-SPT 8x8 (non-WD rows), CNN-WDM (true WD against
      true M, wd_prob > 0.5), CNN-dMgM (true M dwarfs against M giants, dmgm_prob > 0.5);
      accuracy with a Wilson 95% interval.
  classify_compare.py real CATALOG STORE [CATALOG STORE ...]
      against LAMOST's CLASS/SUBCLASS of the store rows (SUBCLASS's letter: O/B -> OB, A, F, G,
      K, M; CLASS Unknown -> Unknown): the 8-way table, M against not-M agreement, the WD and
      giant verdicts (the real stars here are all dwarfs; none is a WD).
"""
import csv
import math
import sys

import h5py
import numpy as np

SPT = ["OB", "A", "F", "G", "K", "M", "GALAXY", "QSO"]


def wilson(k, n, z=1.96):
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


def acc_line(k, n):
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {100 * k / max(n, 1):.1f}% (95% {100 * lo:.1f}-{100 * hi:.1f}%)"


def table(rows, cols, counts, title):
    print(f"\n{title}")
    w = max(7, max(len(r) for r in rows) + 1)
    print("| true \\ CNN | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for i, r in enumerate(rows):
        print(f"| {r} | " + " | ".join(str(int(c)) for c in counts[i]) + " |")


def read_cat(path):
    c = h5py.File(path, "r")["catalog"]
    return {k: c[k][:] for k in ("obsid", "class", "class_prob", "wd_prob", "dmgm_prob", "class_reason")}


def s(a):
    return np.array([x.decode() if isinstance(x, bytes) else str(x) for x in a])


def mock(cat_path, truth_path):
    c = read_cat(cat_path)
    obsid = s(c["obsid"])
    cls = s(c["class"])
    truth = {r["obsid"]: r for r in csv.DictReader(open(truth_path))}
    t = [truth[o] for o in obsid]
    spt_t = np.array([r["spt_class"] for r in t])
    wd_t = np.array([int(r["is_wd"]) for r in t])
    lum_t = np.array([r["lum_class"] for r in t])
    m = wd_t == 0
    cm = np.zeros((8, 8), int)
    for a, b in zip(spt_t[m], cls[m]):
        cm[SPT.index(a), SPT.index(b)] += 1
    table(SPT, SPT, cm, "CNN-SPT on the mock test set (rows: truth)")
    print("accuracy:", acc_line(np.trace(cm), cm.sum()))
    sel = (wd_t == 1) | ((spt_t == "M") & (wd_t == 0))
    tw = wd_t[sel]
    pw = (c["wd_prob"][sel] > 0.5).astype(int)
    cm = np.array([[np.sum((tw == i) & (pw == j)) for j in (0, 1)] for i in (0, 1)])
    table(["M", "WD"], ["M", "WD"], cm, "CNN-WDM on the mock test set")
    print("accuracy:", acc_line(np.trace(cm), cm.sum()))
    sel = (spt_t == "M") & (wd_t == 0) & np.isin(lum_t, ["dwarf", "giant"])
    tg = (lum_t[sel] == "giant").astype(int)
    pg = (c["dmgm_prob"][sel] > 0.5).astype(int)
    cm = np.array([[np.sum((tg == i) & (pg == j)) for j in (0, 1)] for i in (0, 1)])
    table(["dM", "gM"], ["dM", "gM"], cm, "CNN-dMgM on the mock test set")
    print("accuracy:", acc_line(np.trace(cm), cm.sum()))


def lamost_class(cl, sub):
    if cl != "STAR":
        return cl if cl in ("GALAXY", "QSO") else "Unknown"
    x = sub.lstrip("dg")[:1].upper()
    return "OB" if x in "OB" else x if x in "AFGKM" else "Unknown"


def real(pairs):
    rows = ["OB", "A", "F", "G", "K", "M", "Unknown"]
    cm = np.zeros((len(rows), 8), int)
    n_m = agree_m = 0
    wd = giant = n_dm = 0
    detail = []
    for cat_path, store_path in pairs:
        c = read_cat(cat_path)
        st = h5py.File(store_path, "r")
        lcl, lsub = s(st["meta/class"][:]), s(st["meta/subclass"][:])
        files = s(st["meta/filename"][:]) if "meta/filename" in st else [""] * len(lcl)
        cls = s(c["class"])
        u, k = np.unique(cls, return_counts=True)
        print(f"{store_path}: CNN classes " + ", ".join(f"{x or '(no view)'} {n}" for x, n in zip(u, k))
              + f"; giants {int(np.sum(c['dmgm_prob'] > 0.5))}, WDs {int(np.sum(c['wd_prob'] > 0.5))}"
              + f" of {len(cls)}")
        for i in range(len(cls)):
            if cls[i] == "":
                detail.append((files[i], lcl[i], lsub[i], "(no view)", "", "", ""))
                continue
            lam = lamost_class(lcl[i], lsub[i])
            cm[rows.index(lam), SPT.index(cls[i])] += 1
            if lam != "Unknown":
                n_m += 1
                agree_m += (lam == "M") == (cls[i] == "M")
            wd += c["wd_prob"][i] > 0.5
            if cls[i] == "M" or lam == "M":
                n_dm += 1
                giant += c["dmgm_prob"][i] > 0.5
            detail.append((files[i].split("/")[-1], lcl[i], lsub[i], cls[i], f"{c['class_prob'][i]:.3f}",
                           f"{c['wd_prob'][i]:.3f}", f"{c['dmgm_prob'][i]:.3f}"))
    table(rows, SPT, cm, "CNN-SPT on the real LAMOST spectra (rows: LAMOST CLASS/SUBCLASS)")
    print("exact class agreement (LAMOST STAR rows):", acc_line(np.trace(cm[:6, :6]), cm[:6].sum()))
    print("M against not-M agreement:", acc_line(agree_m, n_m))
    print(f"CNN-WDM: {wd} of {cm.sum()} spectra called white dwarfs (none is one)")
    print(f"CNN-dMgM: {giant} of {n_dm} M (LAMOST or CNN) spectra called giants (all are dwarfs)")
    print("\n| file | LAMOST CLASS | SUBCLASS | CNN class | class_prob | wd_prob | dmgm_prob (giant) |")
    print("|---|---|---|---|---|---|---|")
    for d in detail:
        print("| " + " | ".join(d) + " |")


if __name__ == "__main__":
    if sys.argv[1] == "mock":
        mock(sys.argv[2], sys.argv[3])
    else:
        a = sys.argv[2:]
        real(list(zip(a[0::2], a[1::2])))
