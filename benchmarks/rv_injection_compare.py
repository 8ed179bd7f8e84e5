#!/usr/bin/env python3
"""The cheap injection errors (spline of the chi^2 curve) against the literal 1001 refits, on
the same rows of two or three `mstars rv` catalogs (the first rows of the cheap one).

usage: rv_injection_compare.py CHEAP.h5 FULL.h5 [FULL_OBSERVED.h5]"""
import sys

import h5py
import numpy as np


def cat(p):
    with h5py.File(p, "r") as f:
        return {k: f["catalog"][k][:] for k in ("rv_tm", "e_rv_tm", "rv_tm_init", "snr_r")}


a = cat(sys.argv[1])
for p in sys.argv[2:]:
    b = cat(p)
    n = len(b["rv_tm"])
    m = np.isfinite(b["rv_tm"]) & np.isfinite(a["rv_tm"][:n])
    d = a["rv_tm"][:n][m] - b["rv_tm"][m]
    de = a["e_rv_tm"][:n][m] - b["e_rv_tm"][m]
    print("%s: %d rows; rv_tm cheap - literal: median |d| %.3f, max |d| %.3f km/s; "
          "e_rv_tm cheap %.3f vs literal %.3f km/s (medians), max |d e| %.3f; "
          "same rv_tm_init: %s" % (p, m.sum(), np.median(np.abs(d)), np.max(np.abs(d)),
                                   np.median(a["e_rv_tm"][:n][m]), np.median(b["e_rv_tm"][m]),
                                   np.max(np.abs(de)),
                                   np.allclose(a["rv_tm_init"][:n][m], b["rv_tm_init"][m])))
