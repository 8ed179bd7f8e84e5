#!/usr/bin/python3
"""class_real_sets.py: training sets and held-out scoring for the L25 classifiers trained on
real shapes (issue 22; benchmarks/class_real_proof.sh runs it).

  class_real_sets.py merge TMPL_DIR MOCK_DIR OUT_DIR [--offset 900000000000]
      One survey from two simulate runs: `simulate --from-templates` (the Kesseli templates
      through the mock instrument) and the mock universe with every population
      (config/mock-classes.cfg). Both number their observations the same way, so the mock's
      OBSIDs are moved by --offset (header keyword OBSID rewritten in place, truth too).
      Writes OUT_DIR/all.lst (absolute paths) and OUT_DIR/truth.csv: obsid, spt_class, is_wd,
      lum_class, kind, template, source (tmpl | mock), star_id, snr_r, subclass.

  class_real_sets.py labels OUT_DIR [--folds 4] [--cap 80] [--mock-share 0.25] [--seed 1]
      Label tables for train-classifier (columns obsid, spt_class, is_wd, lum_class):
      - template folds: every O-M template in exactly one of --folds folds (within each group
        (spt_class, lum_class) sorted by name, template j -> fold j mod K, the group's offset
        rotating so the folds are balanced); mock rows by star_id mod K;
      - spt_f{k}.csv: CNN-SPT training without fold k (templates and mock stars of fold k never
        seen), at most --cap realisations per template; the mock (every class, toy physics) at
        most --mock-share of the set;
      - dmgm_g{g}.csv: CNN-dMgM leave-giant-templates-out: the 8 giant templates in 5 folds
        (M0 III alone, K7 III alone, the six K5 III [Fe/H] bins in pairs j, j+3), the M dwarf
        templates (and the K5/K7 dwarfs) spread over the same folds, mock M dwarfs and M giants
        by star_id mod 5; at most --dmgm-cap realisations per template and --dmgm-mock toy
        spectra per class. The K5/K7 dwarfs and
        giants enter as spt_class M: CNN-dMgM sees every real giant there is (8 templates) and
        dwarfs of the same types, so that type is not the giant signal; the mock's toy M
        giants (M0-M9 giant gravity) and toy M dwarfs, so that "toy physics" is not either;
      - spt_all.csv, wdm_all.csv, dmgm_all.csv: the final models (every template; real data is
        their test);
      - folds.csv: obsid, spt_fold, dmgm_fold (-1 where the row is in no dmgm set).

  class_real_sets.py score OUT_DIR WORK_DIR
      Held-out scores: for each row its CNN-SPT class from the model that did not see its
      template (c_spt_f{k}.h5) and its CNN-dMgM probability from the model of its fold
      (c_dmgm_g{g}.h5): 8x8 confusion (rows: truth), M against not-M, dM/gM, per template, with
      Wilson 95% intervals; templates and mock scored apart.

  class_real_sets.py lum LUMCLASS_CATALOG
      Counts of luminosity_class and lum_reason of an `mstars lumclass` catalog.
"""
import argparse
import csv
import math
import os
import sys

import numpy as np

SPT = ["OB", "A", "F", "G", "K", "M", "GALAXY", "QSO"]
GIANT_TEMPLATES_MIN = 8


def wilson(k, n, z=1.96):
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


def acc(k, n):
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {100 * k / max(n, 1):.1f}% (95% {100 * lo:.1f}-{100 * hi:.1f}%)"


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def write_csv(path, rows, cols):
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            w.writerow([r[c] for c in cols])
    os.replace(path + ".tmp", path)


# ------------------------------------------------------------------ merge
def rekey(path, old, new):
    """OBSID old -> new in the primary header, the 80-byte card rewritten in place (the mock's
    DR9 primary headers keep NAXISn cards that astropy refuses to write back)."""
    with open(path, "r+b") as f:
        head = f.read(2880 * 4)
        for k in range(0, len(head), 80):
            card = head[k:k + 80]
            if card.startswith(b"END" + b" " * 5):
                break
            if card.startswith(b"OBSID   = "):
                val, _, comment = card[10:].decode().partition("/")
                if int(val.strip().strip("'").strip()) not in (old, new):
                    sys.exit(f"merge: {path}: OBSID {val.strip()} is neither {old} nor {new}")
                text = f"OBSID   = {new:>20d} / {comment.strip()}"[:80].ljust(80)
                f.seek(k)
                f.write(text.encode())
                return
    sys.exit(f"merge: {path}: no OBSID card in the primary header")


def merge(a):
    os.makedirs(a.out, exist_ok=True)
    out, files = [], []
    for src, d in (("tmpl", a.tmpl), ("mock", a.mock)):
        d = os.path.abspath(d)
        lst = [l.strip() for l in open(os.path.join(d, "spectra.lst")) if l.strip()]
        truth = read_csv(os.path.join(d, "truth.csv"))
        byfile = {r["file"]: r for r in truth}
        for rel in lst:
            r = byfile.get(rel) or byfile.get(os.path.basename(rel))
            if r is None:
                sys.exit(f"merge: {rel} of {d}/spectra.lst not in its truth.csv")
            path = os.path.join(d, rel)
            obsid = int(r["obsid"])
            if src == "mock":
                new = obsid + a.offset
                rekey(path, obsid, new)
                obsid = new
            files.append(path)
            out.append({"obsid": obsid, "spt_class": r["spt_class"], "is_wd": r["is_wd"],
                        "lum_class": r["lum_class"], "kind": r["kind"],
                        "template": r["template"] if src == "tmpl" else "",
                        "source": src, "star_id": r["star_id"], "snr_r": r["snr_r"],
                        "subclass": r["subclass"], "pathology": r.get("pathology", "")})
    ids = [r["obsid"] for r in out]
    if len(set(ids)) != len(ids):
        sys.exit("merge: OBSIDs still collide; choose another --offset")
    with open(os.path.join(a.out, "all.lst"), "w") as f:
        f.write("\n".join(files) + "\n")
    write_csv(os.path.join(a.out, "truth.csv"), out, list(out[0].keys()))
    print(f"merge: {len(out)} spectra ({sum(r['source'] == 'tmpl' for r in out)} from templates)")


# ------------------------------------------------------------------ labels
def template_folds(rows, K):
    """template name -> fold: within each (spt_class, lum_class) group, sorted, j -> (j + off) mod K."""
    groups = {}
    for r in rows:
        if r["source"] == "tmpl":
            groups.setdefault((r["spt_class"], r["lum_class"]), set()).add(r["template"])
    fold, off = {}, 0
    for g in sorted(groups):
        for j, t in enumerate(sorted(groups[g])):
            fold[t] = (j + off) % K
        off += len(groups[g])
    return fold


def giant_folds(rows):
    """dmgm folds: M0 III and K7 III each alone, the six K5 III ([Fe/H] bins) in pairs of
    non-neighbouring bins (j, j+3); the dwarfs (M and K5/K7) spread over the folds."""
    giants = sorted({r["template"] for r in rows if r["source"] == "tmpl" and r["lum_class"] == "giant"
                     and r["template"][:2] in ("K5", "K7", "M0")})
    dwarfs = sorted({r["template"] for r in rows if r["source"] == "tmpl" and r["lum_class"] == "dwarf"
                     and (r["spt_class"] == "M" or r["template"][:2] in ("K5", "K7"))})
    others = [t for t in giants if not t.startswith("K5")]
    k5 = [t for t in giants if t.startswith("K5")]
    fold = {t: g for g, t in enumerate(others)}
    npair = (len(k5) + 1) // 2
    for j, t in enumerate(k5):
        fold[t] = len(others) + j % npair
    G = len(others) + npair
    for j, t in enumerate(dwarfs):
        fold[t] = j % G
    return fold, G


def in_dmgm(r):
    if r["is_wd"] == "1" or r["pathology"] not in ("", "none", "0"):
        return False
    if r["source"] == "mock":
        return r["kind"] in ("mdwarf", "mgiant")
    return r["spt_class"] == "M" or r["template"][:2] in ("K5", "K7")


def dmgm_row(r):
    return {"obsid": r["obsid"], "spt_class": "M", "is_wd": "0", "lum_class": r["lum_class"]}


def capped(rows, cap, rng):
    """At most cap rows per template (mock rows untouched), chosen at random."""
    by = {}
    for r in rows:
        by.setdefault(r["template"] if r["source"] == "tmpl" else "#" + r["obsid"], []).append(r)
    out = []
    for k in sorted(by):
        v = by[k]
        if k[0] != "#" and len(v) > cap:
            v = [v[i] for i in sorted(rng.choice(len(v), cap, replace=False))]
        out += v
    return out


def mock_limited(rows, share, rng):
    t = [r for r in rows if r["source"] == "tmpl"]
    m = [r for r in rows if r["source"] == "mock"]
    nmax = int(share / (1 - share) * len(t)) if share < 1 else len(m)
    if len(m) > nmax:
        m = [m[i] for i in sorted(rng.choice(len(m), nmax, replace=False))]
    return t + m


def labels(a):
    rows = read_csv(os.path.join(a.out, "truth.csv"))
    rng = np.random.default_rng(a.seed)
    K = a.folds
    tf = template_folds(rows, K)
    gf, G = giant_folds(rows)
    if G < 1:
        sys.exit("labels: no giant template")
    cols = ["obsid", "spt_class", "is_wd", "lum_class"]
    for r in rows:
        r["spt_fold"] = tf[r["template"]] if r["source"] == "tmpl" else int(r["star_id"]) % K
        if in_dmgm(r):
            r["dmgm_fold"] = gf.get(r["template"], -1) if r["source"] == "tmpl" else int(r["star_id"]) % G
        else:
            r["dmgm_fold"] = -1
    spt_pool = capped(rows, a.cap, rng)
    for k in range(K):
        sel = mock_limited([r for r in spt_pool if r["spt_fold"] != k], a.mock_share, rng)
        write_csv(os.path.join(a.out, f"spt_f{k}.csv"), sel, cols)
    write_csv(os.path.join(a.out, "spt_all.csv"), mock_limited(spt_pool, a.mock_share, rng), cols)
    for f in os.listdir(a.out):
        if f.startswith("dmgm_g") and f.endswith(".csv"):
            os.remove(os.path.join(a.out, f))
    dm_pool = capped([r for r in rows if r["dmgm_fold"] >= 0], a.dmgm_cap, rng)
    # the mock's toy M dwarfs and giants: at most --dmgm-mock of each
    for lum in ("dwarf", "giant"):
        m = [i for i, r in enumerate(dm_pool) if r["source"] == "mock" and r["lum_class"] == lum]
        if len(m) > a.dmgm_mock:
            drop = set(m[i] for i in rng.choice(len(m), len(m) - a.dmgm_mock, replace=False))
            dm_pool = [r for i, r in enumerate(dm_pool) if i not in drop]
    for g in range(G):
        write_csv(os.path.join(a.out, f"dmgm_g{g}.csv"),  # noqa: E501
                  [dmgm_row(r) for r in dm_pool if r["dmgm_fold"] != g], cols)
    write_csv(os.path.join(a.out, "dmgm_all.csv"), [dmgm_row(r) for r in dm_pool], cols)
    # CNN-WDM: M (template M dwarfs and M0 III, mock M dwarfs and giants) against the mock's WDs
    wdm = [r for r in spt_pool if (r["spt_class"] == "M" and r["is_wd"] == "0") or r["is_wd"] == "1"]
    wdm += [r for r in rows if r["is_wd"] == "1" and r not in wdm]
    write_csv(os.path.join(a.out, "wdm_all.csv"), wdm, cols)
    write_csv(os.path.join(a.out, "folds.csv"), rows, ["obsid", "spt_fold", "dmgm_fold"])
    n = lambda p: sum(1 for _ in open(os.path.join(a.out, p))) - 1
    print(f"labels: {K} template folds, {G} giant folds; spt_f0 {n('spt_f0.csv')} rows, "
          f"spt_all {n('spt_all.csv')}, dmgm_g0 {n('dmgm_g0.csv')}, dmgm_all {n('dmgm_all.csv')}, "
          f"wdm_all {n('wdm_all.csv')}")
    for g in range(G):
        print(f"  dmgm fold {g}: " + ", ".join(t for t in sorted(gf) if gf[t] == g and "Giant" in t))


# ------------------------------------------------------------------ score
def read_cat(path):
    import h5py

    c = h5py.File(path, "r")["catalog"]
    obs = [x.decode() if isinstance(x, bytes) else str(x) for x in c["obsid"][:]]
    cls = [x.decode() if isinstance(x, bytes) else str(x) for x in c["class"][:]]
    return dict(zip(obs, zip(cls, c["dmgm_prob"][:])))


def confusion(pairs):
    cm = np.zeros((8, 8), int)
    for t, p in pairs:
        if p in SPT:
            cm[SPT.index(t), SPT.index(p)] += 1
    return cm


def print_cm(cm, title, rows=SPT):
    print(f"\n{title}\n")
    print("| true \\ CNN | " + " | ".join(SPT) + " | accuracy |")
    print("|---|" + "---|" * (len(SPT) + 1))
    for i, r in enumerate(rows):
        n = cm[i].sum()
        print(f"| {r} | " + " | ".join(str(int(c)) for c in cm[i]) +
              (f" | {100 * cm[i, i] / n:.1f}% |" if n else " | - |"))


def score(a):
    rows = read_csv(os.path.join(a.out, "truth.csv"))
    folds = {r["obsid"]: r for r in read_csv(os.path.join(a.out, "folds.csv"))}
    K = max(int(f["spt_fold"]) for f in folds.values()) + 1
    G = max(int(f["dmgm_fold"]) for f in folds.values()) + 1
    def cats(pattern, n):
        paths = [os.path.join(a.work, pattern.format(i)) for i in range(n)]
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            print(f"score: {len(missing)} of {n} held-out catalogs missing ({missing[0]}, ...): not scored")
            return None
        return [read_cat(p) for p in paths]

    spt = cats("c_spt_f{}.h5", K) or [{}]
    dmg = cats("c_dmgm_g{}.h5", G) or [{}] * G
    for src in ("tmpl", "mock"):
        pairs, per_t, mlum = [], {}, {}
        for r in rows:
            if r["source"] != src or r["is_wd"] == "1" or r["obsid"] not in spt[0]:
                continue
            p = spt[int(folds[r["obsid"]]["spt_fold"])][r["obsid"]][0]
            if p == "":
                continue
            pairs.append((r["spt_class"], p))
            if r["spt_class"] == "M":
                mlum.setdefault(r["lum_class"], [0, 0])
                mlum[r["lum_class"]][0] += p == "M"
                mlum[r["lum_class"]][1] += 1
            if src == "tmpl":
                per_t.setdefault(r["template"], []).append(p)
        if not pairs:
            continue
        cm = confusion(pairs)
        what = ("templates never seen by the model (template folds)" if src == "tmpl"
                else "mock stars of the held-out fold (toy physics)")
        print_cm(cm, f"CNN-SPT, {what}, rows: truth")
        print(f"\naccuracy: {acc(int(np.trace(cm)), int(cm.sum()))}")
        m_t = cm[5].sum()
        m_ok = int(cm[5, 5])
        nm_ok = int(cm.sum() - cm[5].sum() - (cm[:, 5].sum() - cm[5, 5]))
        print(f"M against not-M: {acc(m_ok + nm_ok, int(cm.sum()))}; M recall {acc(m_ok, int(m_t))}; "
              f"not-M called M {int(cm[:, 5].sum() - cm[5, 5])} of {int(cm.sum() - m_t)}")
        for lum, (k, n) in sorted(mlum.items()):
            print(f"M {lum}s called M: {acc(int(k), int(n))}")
        if per_t:
            print("\nper held-out template (share right, most common wrong class):")
            line = []
            for t in sorted(per_t):
                truth = next(r["spt_class"] for r in rows if r["template"] == t)
                v = per_t[t]
                ok = sum(p == truth for p in v)
                wrong = [p for p in v if p != truth]
                w = max(set(wrong), key=wrong.count) if wrong else ""
                if ok < len(v):
                    line.append(f"{t} {ok}/{len(v)} ({w})")
            print("  wrong at least once: " + (", ".join(line) if line else "none"))
    # CNN-dMgM, leave-one-giant-template-out
    for src in ("tmpl", "mock"):
        per_t, n = {}, np.zeros((2, 2), int)
        for r in rows:
            f = folds[r["obsid"]]
            g = int(f["dmgm_fold"])
            if g < 0 or r["source"] != src or r["obsid"] not in dmg[g]:
                continue
            p = dmg[g][r["obsid"]][1]
            if not np.isfinite(p):
                continue
            tg = r["lum_class"] == "giant"
            n[int(tg), int(p > 0.5)] += 1
            key = r["template"] if src == "tmpl" else r["kind"]
            per_t.setdefault(key, [0, 0, tg])
            per_t[key][0] += int((p > 0.5) == tg)
            per_t[key][1] += 1
        if n.sum() == 0:
            continue
        print(f"\nCNN-dMgM held out ({'templates: leave-giant-templates-out' if src == 'tmpl' else 'mock: stars of the held-out fold'})")
        print("\n| true \\ CNN | dM | gM | recall |\n|---|---|---|---|")
        for i, nm in enumerate(("dwarf", "giant")):
            print(f"| {nm} | {n[i, 0]} | {n[i, 1]} | {acc(int(n[i, i]), int(n[i].sum()))} |")
        print(f"\naccuracy: {acc(int(np.trace(n)), int(n.sum()))}")
        if src == "tmpl":
            print("per giant template: " + ", ".join(f"{t} {v[0]}/{v[1]}" for t, v in sorted(per_t.items()) if v[2]))
            bad = [f"{t} {v[0]}/{v[1]}" for t, v in sorted(per_t.items()) if not v[2] and v[0] < v[1]]
            print("dwarf templates wrong at least once: " + (", ".join(bad) if bad else "none"))


def lum(a):
    import collections

    import h5py

    c = h5py.File(a.catalog, "r")["catalog"]
    for col in ("luminosity_class", "lum_reason"):
        n = collections.Counter(x.decode() for x in c[col][:])
        print(f"{col}: " + ", ".join(f"{k} {v}" for k, v in sorted(n.items())))


def main():
    p = argparse.ArgumentParser()
    sp = p.add_subparsers(dest="cmd", required=True)
    m = sp.add_parser("merge")
    m.add_argument("tmpl")
    m.add_argument("mock")
    m.add_argument("out")
    m.add_argument("--offset", type=int, default=900000000000)
    l = sp.add_parser("labels")
    l.add_argument("out")
    l.add_argument("--folds", type=int, default=4)
    l.add_argument("--cap", type=int, default=80)
    l.add_argument("--mock-share", type=float, default=0.25)
    l.add_argument("--seed", type=int, default=1)
    l.add_argument("--dmgm-cap", type=int, default=30)
    l.add_argument("--dmgm-mock", type=int, default=400)
    s = sp.add_parser("score")
    s.add_argument("out")
    s.add_argument("work")
    u = sp.add_parser("lum")
    u.add_argument("catalog")
    a = p.parse_args()
    {"merge": merge, "labels": labels, "score": score, "lum": lum}[a.cmd](a)


if __name__ == "__main__":
    main()
