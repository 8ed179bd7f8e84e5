#!/usr/bin/env python3
"""demo_overview_compare.py: two runs of the main job (jobs/demo.sh) side by side, from their
report's overview.json: every series' scatter (and n) per S/N bin, as a Markdown table for
benchmarks/RESULTS.md, and the classification of the newer run when it has one.

    python3 benchmarks/demo_overview_compare.py OLD/report/overview.json NEW/report/overview.json
"""
import json
import sys

QUANTITIES = [("teff", "Teff (K)", 0), ("logg", "log g", 3), ("m_h", "[M/H]", 3),
              ("alpha_m", "[alpha/M]", 3), ("rv", "RV (km/s)", 1)]
BINS = ["all", "5-10", "10-20", "20-50", "> 50"]


def cells(series, q, digits):
    """scatter (n) overall and per S/N bin; '-' where absent."""
    x = series.get(q) if series else None
    if not x:
        return ["-"] * 5
    out = []
    for b in [x] + x["by_snr"]:
        s = b.get("scatter")
        out.append("-" if s is None or not b["n"] else f"{s:.{digits}f} ({b['n']})")
    return out


def main():
    old = json.load(open(sys.argv[1]))
    new = json.load(open(sys.argv[2]))
    names = list(new["series"])
    names += [k for k in old["series"] if k not in names]
    print("| quantity | series | " + " | ".join(f"{b}: before / now" for b in BINS) + " |")
    print("|---|---|" + "---|" * len(BINS))
    for q, label, dg in QUANTITIES:
        for name in names:
            a = cells(old["series"].get(name), q, dg)
            b = cells(new["series"].get(name), q, dg)
            if all(v == "-" for v in a + b):
                continue
            print(f"| {label} | {name} | " + " | ".join(f"{x} / {y}" for x, y in zip(a, b)) + " |")
    c = new.get("classification")
    if c:
        print()
        for key in ("route_accuracy", "mdwarf_completeness", "mdwarf_purity", "spt_accuracy",
                    "wdm_accuracy", "dmgm_accuracy"):
            p = c.get(key)
            if p and p["n"]:
                print(f"- {key}: {p['k']}/{p['n']} = {100 * p['fraction']:.1f}% "
                      f"(Wilson 95% {100 * p['wilson95_lo']:.1f}-{100 * p['wilson95_hi']:.1f}%)")
        print("- rows routed:", c["routed"])
        print("- rows per method:", {k: v["ran"] for k, v in c["methods"].items()})
        print("- route confusion (true: dwarf, giant, white dwarf, non-M, unclassified):",
              c.get("confusion_route"))


if __name__ == "__main__":
    main()
