#!/usr/bin/env python3
"""rec_labels_proof.py: are the recommended labels at least as good as the best single method?

    rec_labels_proof.py COMBINED.h5 TRUTH_TEST.csv [--calibration CALIBRATION.csv] [--boot 2000]

COMBINED.h5 is a catalog of `mstars fit --methods` or `mstars combine` (every method's columns
and the recommended teff, logg, m_h, alpha_m, rv with *_method and disagree_flags); TRUTH_TEST.csv
the truth of the judged spectra (jobs/demo.sh: truth_test.csv, stars that no method trained on
and that did not set the error scales). For each quantity and method, on the judged rows where
the method is clean (its own flags, as the schema's answer table says) and the recommended value
exists: the paired RMS against the truth of the method and of the recommended labels, and the
bootstrap (rows resampled, fixed seed) mean and standard deviation of RMS_rec - RMS_method. The
recommendation is "at least as good" as a method when RMS_rec - RMS_method <= 2 of its bootstrap
standard deviations... reported as the difference and its error; judge for yourself.

With --calibration (the held-out table the error scales were measured on) the script also
replays, from the catalog's columns, two choice rules with the scales measured on it (as
ms_combine_reference_scales: 1.4826 median |(v - ref) / e| per S/N_r bin, all rows where a bin
has fewer than 10), to compare rules on the judged rows:
  smallest_scaled_error  the first C rule (smallest k e per row);
  best_in_bin            the method with the smallest reference RMS in the row's S/N bin
                         (its all-rows RMS where the bin has fewer than 10 rows);
  like_with_like         the rule before issue 24's Teff-target session: as best_in_bin, but
                         where any candidate has fewer than 10 rows in the bin every
                         candidate is ranked by its all-rows RMS;
  shrunk                 the C rule now (src/combine/error_scales.c, rank_scores): the bin's
                         mean squared difference shrunk in log space toward the all-rows value
                         times the bin's common factor, with the weight of 10 rows.
With --by-snr every table is also given per S/N_r bin (< 10, 10-20, 20-50, > 50): n, the
recommended RMS +- bootstrap sd, and the paired difference to each method there.

The disagreement flag: of the judged rows flagged on q, the fraction where the named pair's
quantity is q and one of the pair is more than 3 of its honest errors (the method's error times
the scale of the catalog's error_scales attribute) from the truth; and the same fraction of a
method being off on the rows not flagged (the base rate).
"""
import argparse
import csv
import math
import sys

import h5py
import numpy as np

Q = ["teff", "logg", "m_h", "alpha_m", "rv"]
# the schema's answer table (src/schema/schema.c), names as in a catalog with recommended labels
METHODS = {
    "z25": dict(v=["z25_teff", "z25_logg", "z25_m_h", "z25_alpha_m", "z25_rv"],
                e=["e_z25_teff", "e_z25_logg", "e_z25_m_h", "e_z25_alpha_m", "e_z25_rv"],
                zero=["fit_flags", "cut_flags"], good=None),
    "slam": dict(v=["slam_teff", "slam_logg", "slam_m_h", "slam_alpha_m", None],
                 e=["e_slam_teff", "e_slam_logg", "e_slam_m_h", "e_slam_alpha_m", None],
                 zero=["slam_flags"], good=None),
    "rv": dict(v=[None, None, None, None, "rv_adopted"], e=[None, None, None, None, "e_rv_adopted"],
               zero=[], good="rv_flag"),
    "laspm": dict(v=["laspm_teff", "laspm_logg", "laspm_m_h", None, None],
                  e=["e_laspm_teff", "e_laspm_logg", "e_laspm_m_h", None, None], zero=[], good=None),
    "cnn": dict(v=["cnn_teff", "cnn_logg", "cnn_m_h", "cnn_alpha_m", None],
                e=["e_cnn_teff", "e_cnn_logg", "e_cnn_m_h", "e_cnn_alpha_m", None],
                zero=[], good="parameter_flag"),
}
EDGES = [-np.inf, 10, 20, 50, np.inf]


def text(a):
    return np.array([x.decode() if isinstance(x, bytes) else str(x) for x in a])


def read_table(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    out = {}
    for r in rows:
        out[r["obsid"]] = {q: float(r[q]) if r.get(q, "") not in ("", None) else math.nan for q in Q}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("catalog")
    ap.add_argument("truth")
    ap.add_argument("--calibration")
    ap.add_argument("--boot", type=int, default=2000)
    ap.add_argument("--by-snr", action="store_true",
                    help="also per S/N_r bin: the recommended RMS against each method's")
    ap.add_argument("--quantities", default="teff",
                    help="the quantities of the --by-snr tables (comma-separated)")
    a = ap.parse_args()
    f = h5py.File(a.catalog, "r")
    c = f["catalog"]
    obsid = text(c["obsid"][:])
    snr = c["snr_r"][:]
    n = len(obsid)
    methods = [m for m in text([f.attrs["methods"]])[0].split(",") if m in METHODS]
    truth = read_table(a.truth)
    t = np.array([[truth.get(o, {}).get(q, math.nan) for q in Q] for o in obsid])
    judged = np.array([o in truth for o in obsid])
    val, err, clean = {}, {}, {}
    for m in methods:
        d = METHODS[m]
        ok = np.ones(n, bool)
        for z in d["zero"]:
            if z in c:
                ok &= c[z][:] == 0
        if d["good"]:
            ok &= c[d["good"]][:] == 1
        clean[m] = ok
        val[m] = np.array([c[v][:] if v and v in c else np.full(n, np.nan) for v in d["v"]]).T
        err[m] = np.array([c[e][:] if e and e in c else np.full(n, np.nan) for e in d["e"]]).T
    rec = np.array([c[q][:] for q in Q]).T
    rec_m = np.array([text(c[q + "_method"][:]) for q in Q]).T
    print(f"# {a.catalog}: {n} rows, methods {','.join(methods)}; judged rows {judged.sum()} "
          f"({a.truth}); error reference: {text([f.attrs.get('error_reference', b'')])[0]!r}")
    rng = np.random.default_rng(12345)

    def paired(rv, mv, tv):
        dr, dm = rv - tv, mv - tv
        rms = lambda x: math.sqrt(np.mean(x * x))
        boot = np.empty(a.boot)
        k = len(dr)
        for b in range(a.boot):
            i = rng.integers(0, k, k)
            boot[b] = rms(dr[i]) - rms(dm[i])
        return rms(dr), rms(dm), boot.mean(), boot.std(ddof=1)

    def table(recv, label):
        print(f"\n## {label}: paired RMS against the truth (rows: judged, method clean, "
              f"recommended finite); diff = RMS_rec - RMS_method, bootstrap mean +- sd "
              f"({a.boot} resamples)\n")
        print("| quantity | method | n | RMS method | RMS recommended | diff | verdict |")
        print("|---|---|---|---|---|---|---|")
        summary = {}
        for qi, q in enumerate(Q):
            for m in methods:
                mv = val[m][:, qi]
                sel = judged & clean[m] & np.isfinite(mv) & np.isfinite(recv[:, qi]) & np.isfinite(t[:, qi])
                if sel.sum() < 5:
                    continue
                r_rms, m_rms, dmean, dsd = paired(recv[sel, qi], mv[sel], t[sel, qi])
                diff = r_rms - m_rms
                verdict = "better" if diff + 2 * dsd < 0 else ("as good" if diff <= 2 * dsd else "WORSE")
                summary.setdefault(q, []).append((m, diff, dsd, verdict))
                fmt = "%.1f" if q in ("teff", "rv") else "%.4f"
                print(f"| {q} | {m} | {sel.sum()} | {fmt % m_rms} | {fmt % r_rms} | "
                      f"{fmt % diff} +- {fmt % dsd} | {verdict} |")
        return summary

    b_of = np.clip(np.searchsorted(EDGES, snr, side="right") - 1, 0, 3)
    bin_names = ["< 10", "10-20", "20-50", "> 50"]

    def by_snr(recv, recm, label):
        """per S/N_r bin: the recommended RMS and the paired difference to every method"""
        if not a.by_snr:
            return
        print(f"\n## {label}, per S/N_r bin (judged rows; rec = the recommended RMS on the "
              f"rows where it exists; diff = RMS_rec - RMS_method on the rows both have, "
              f"bootstrap sd, {a.boot} resamples)\n")
        print("| quantity | S/N_r | n | RMS rec +- sd | chosen from | " +
              " | ".join(f"{m}: RMS (n), diff" for m in methods) + " |")
        print("|---|---|---|---|---|" + "---|" * len(methods))
        for q in a.quantities.split(","):
            qi = Q.index(q)
            fmt = "%.1f" if q in ("teff", "rv") else "%.4f"
            for b in range(4):
                sel = judged & (b_of == b) & np.isfinite(recv[:, qi]) & np.isfinite(t[:, qi])
                if sel.sum() < 2:
                    continue
                dr = recv[sel, qi] - t[sel, qi]
                k = len(dr)
                bs = [math.sqrt(np.mean(dr[i] ** 2)) for i in
                      (rng.integers(0, k, k) for _ in range(a.boot))]
                chosen = {}
                for m in recm[sel, qi]:
                    chosen[m] = chosen.get(m, 0) + 1
                cells = []
                for m in methods:
                    mv = val[m][:, qi]
                    s2 = sel & clean[m] & np.isfinite(mv)
                    if s2.sum() < 2:
                        cells.append("-")
                        continue
                    r_rms, m_rms, _, dsd = paired(recv[s2, qi], mv[s2], t[s2, qi])
                    cells.append(f"{fmt % m_rms} ({s2.sum()}), {fmt % (r_rms - m_rms)} +- {fmt % dsd}")
                print(f"| {q} | {bin_names[b]} | {k} | {fmt % math.sqrt(np.mean(dr ** 2))} +- "
                      f"{fmt % np.std(bs, ddof=1)} | " +
                      ", ".join(f"{m} {c}" for m, c in sorted(chosen.items())) + " | " +
                      " | ".join(cells) + " |")

    table(rec, "the catalog's recommended labels")
    by_snr(rec, rec_m, "the catalog's recommended labels")
    counts = {q: {m: int((rec_m[judged, qi] == m).sum()) for m in methods} for qi, q in enumerate(Q)}
    print("\nrecommended-from counts on the judged rows:", counts)

    # the disagreement flag's precision with honest errors (the catalog's error_scales)
    scales = {}
    for qi, q in enumerate(Q):
        s = text([c["e_" + q].attrs.get("error_scales", b"")])[0]
        for part in s.split(";"):
            if ":" not in part:
                continue
            name, rest = part.split(":", 1)
            nums = rest.split("(")[0].split(",")
            try:
                scales[(name, q)] = [float(x) for x in nums]
            except ValueError:
                pass
    dflag = c["disagree_flags"][:]
    pair = text(c["disagree_pair"][:])
    b_of = np.searchsorted(EDGES, snr, side="right") - 1
    b_of = np.clip(b_of, 0, 3)
    print("\n## disagreement flag (judged rows): precision = of the rows flagged on q, the fraction "
          "where a method of the named pair is > 3 honest errors from the truth; base rate = the "
          "same for any clean method on the rows not flagged\n")
    print("| quantity | flagged | precision (+- binomial) | base rate (n) |")
    print("|---|---|---|---|")
    for qi, q in enumerate(Q):
        def off(m, r):
            if (m, q) not in scales or not clean[m][r]:
                return None
            v, e = val[m][r, qi], err[m][r, qi] * scales[(m, q)][b_of[r]]
            if not (np.isfinite(v) and np.isfinite(e) and e > 0 and np.isfinite(t[r, qi])):
                return None
            return abs(v - t[r, qi]) > 3 * e
        fl = [r for r in range(n) if judged[r] and (dflag[r] >> qi) & 1]
        hit = judged_n = 0
        for r in fl:
            p = pair[r]
            ms = p.split(":")[0].split("/") if p.endswith(":" + q) else [m for m in methods]
            o = [off(m, r) for m in ms]
            o = [x for x in o if x is not None]
            if o:
                judged_n += 1
                hit += any(o)
        base_hit = base_n = 0
        for r in range(n):
            if not judged[r] or (dflag[r] >> qi) & 1:
                continue
            o = [off(m, r) for m in methods]
            o = [x for x in o if x is not None]
            if len(o) >= 2:
                base_n += 1
                base_hit += any(o)
        p = hit / judged_n if judged_n else math.nan
        pe = math.sqrt(p * (1 - p) / judged_n) if judged_n else math.nan
        br = base_hit / base_n if base_n else math.nan
        print(f"| {q} | {len(fl)} | {p:.2f} +- {pe:.2f} ({judged_n}) | {br:.2f} ({base_n}) |")

    if a.calibration:
        cal = read_table(a.calibration)
        ref = np.array([[cal.get(o, {}).get(q, math.nan) for q in Q] for o in obsid])
        assert not np.any(judged & np.isfinite(ref).any(axis=1)), "calibration rows are judged"
        k = {}
        rms_bin = {}
        n_bin, mse_bin, mse_all = {}, {}, {}
        for m in methods:
            for qi, q in enumerate(Q):
                v, e = val[m][:, qi], err[m][:, qi]
                ok = clean[m] & np.isfinite(v) & np.isfinite(e) & (e > 0) & np.isfinite(ref[:, qi])
                if ok.sum() < 10:
                    continue
                z = np.abs((v - ref[:, qi]) / e)
                allk = 1.4826 * np.median(z[ok])
                allr = math.sqrt(np.mean((v[ok] - ref[ok, qi]) ** 2))
                mse_all[(m, q)] = allr ** 2
                for b in range(4):
                    ob = ok & (b_of == b)
                    n_bin[(m, q, b)] = int(ob.sum())
                    mse_bin[(m, q, b)] = float(np.mean((v[ob] - ref[ob, qi]) ** 2)) if ob.any() else 0.0
                    k[(m, q, b)] = 1.4826 * np.median(z[ob]) if ob.sum() >= 10 else allk
                    rms_bin[(m, q, b)] = (math.sqrt(np.mean((v[ob] - ref[ob, qi]) ** 2))
                                          if ob.sum() >= 10 else allr)
        print("\nreference scales (S/N < 10, 10-20, 20-50, > 50):")
        for (m, q, b), x in sorted(k.items()):
            if b == 0:
                print(f"  {q:8s} {m:6s} " + " ".join(f"{k[(m, q, bb)]:.2f}" for bb in range(4)) +
                      "   rms " + " ".join(f"{rms_bin[(m, q, bb)]:.3g}" for bb in range(4)))
        # the shrunk rank (src/combine/error_scales.c, rank_scores; n0 = 10 rows)
        shrunk = {}
        for qi, q in enumerate(Q):
            for b in range(4):
                ms = [m for m in methods if (m, q) in mse_all and n_bin[(m, q, b)] > 0]
                w = sum(n_bin[(m, q, b)] for m in ms)
                log_f = (sum(n_bin[(m, q, b)] * math.log(max(mse_bin[(m, q, b)], 1e-300) / mse_all[(m, q)])
                             for m in ms) / w) if w else 0.0
                for m in methods:
                    if (m, q) not in mse_all:
                        continue
                    kk = n_bin[(m, q, b)]
                    own = math.log(max(mse_bin[(m, q, b)], 1e-300)) if kk else 0.0
                    shrunk[(m, q, b)] = math.exp(0.5 * (kk * own + 10 * (log_f + math.log(mse_all[(m, q)])))
                                                 / (kk + 10))
        if a.by_snr:
            print("\nreference rows per method and S/N bin (< 10, 10-20, 20-50, > 50), "
                  "bin RMS / shrunk rank:")
            for q in a.quantities.split(","):
                for m in methods:
                    if (m, q) in mse_all:
                        print(f"  {q:8s} {m:6s} n " + " ".join(f"{n_bin[(m, q, b)]:3d}" for b in range(4)) +
                              "   rms " + " ".join(f"{math.sqrt(mse_bin[(m, q, b)]):.3g}" for b in range(4)) +
                              f"   all {math.sqrt(mse_all[(m, q)]):.3g}   shrunk " +
                              " ".join(f"{shrunk[(m, q, b)]:.3g}" for b in range(4)))
        for rule in ("smallest_scaled_error", "best_in_bin", "like_with_like", "shrunk"):
            out = np.full((n, len(Q)), np.nan)
            outm = np.full((n, len(Q)), "", dtype=object)
            for qi, q in enumerate(Q):
                for r in range(n):
                    cand = []
                    for m in methods:
                        v, e = val[m][r, qi], err[m][r, qi]
                        if not (clean[m][r] and np.isfinite(v) and np.isfinite(e) and e > 0):
                            continue
                        if (m, q, b_of[r]) not in k:
                            continue  # no reference: left out of this replay
                        cand.append(m)
                    all_own = all(n_bin[(m, q, b_of[r])] >= 10 for m in cand)
                    best, bv = None, math.inf
                    for m in cand:
                        key = (m, q, b_of[r])
                        if rule == "smallest_scaled_error":
                            score = k[key] * err[m][r, qi]
                        elif rule == "best_in_bin":
                            score = rms_bin[key]
                        elif rule == "like_with_like":
                            score = rms_bin[key] if all_own else math.sqrt(mse_all[(m, q)])
                        else:
                            score = shrunk[key]
                        if score < bv:
                            best, bv = m, score
                    if best:
                        out[r, qi] = val[best][r, qi]
                        outm[r, qi] = best
            table(out, f"replayed rule {rule}")
            by_snr(out, outm, f"replayed rule {rule}")
            if rule == "shrunk":
                same = np.all((out == rec) | (np.isnan(out) & np.isnan(rec)), axis=0)
                print("\nreplayed shrunk rule equals the catalog's recommended labels, per quantity:",
                      dict(zip(Q, same.tolist())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
