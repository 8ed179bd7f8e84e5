#!/usr/bin/python3
"""bench_fit_torch.py: the PyTorch reference of the emulator-only fit (bench_fit.c).

The same network (The Payne, weights from the C run), the same spectra, the same objective
(chi^2 over the same pixels, the model moved by dv with the same Keys cubic convolution)
and the same start points (the C pre-search); torch.optim.LBFGS (strong Wolfe line search)
per spectrum, stopped at the C fit's evaluation count, on one thread. Gradients come from
autograd (reverse mode), as in Cycle-StarNet's fit_labels.py. The variables get the same
diagonal Gauss-Newton scaling as the C fit (computed outside the timing) so that both
optimisers take comparable steps.

Usage:
    OPENBLAS_NUM_THREADS=1 build-fit/benchmarks/bench_fit --n 64 --batch 1,64 --dump /tmp/fit.txt
    /usr/bin/python3 benchmarks/bench_fit_torch.py /tmp/fit.txt [--n 32]

Prints the median CPU time per spectrum and per evaluation (process time, one thread; the
machine may be shared), and the C/torch ratios at equal evaluation counts (the C CPU times
come from the dump).
"""
import argparse
import math
import sys
import time

import numpy as np
import torch

C_KMS = 299792.458
RV_UNIT = 100.0


def load(path):
    d = {"ctime": [], "range": [], "spec": {}, "ivar": {}, "fit": {}, "start": {}}
    with open(path) as fh:
        for line in fh:
            key, _, rest = line.partition(" ")
            if key == "dims":
                v = rest.split()
                d["D"], d["H"], d["L"], d["n"], d["N"] = (int(x) for x in v[:5])
                d["start0"], d["step"], d["vmax"] = (float(x) for x in v[5:8])
                d["fit_rv"] = int(v[8])
            elif key == "ctime":
                b, ms, ev = rest.split()
                d["ctime"].append((int(b), float(ms), float(ev)))
            elif key == "range":
                d["range"].append(tuple(float(x) for x in rest.split()))
            elif key[0] in "wb" and key[1:].isdigit():
                d[key] = np.array(rest.split(), dtype=np.float32)
            elif key in ("spec", "ivar", "fit", "start"):
                v = rest.split()
                d[key][int(v[0])] = np.array(v[1:], dtype=np.float64)
    return d


def doppler(v):
    b = v / C_KMS
    return math.sqrt((1 + b) / (1 - b))


def pixel_range(n, start, step, vmax):
    """fit_shift_range of src/fit/fit_shift.c"""
    s0 = start / step
    amin, amax = 1 / doppler(abs(vmax)), 1 / doppler(-abs(vmax))
    plo = max(0.0, math.ceil((1 - s0 * (amin - 1)) / amin) + 1)
    phi = min(n - 1.0, math.ceil((n - 2 - s0 * (amax - 1)) / amax) - 2)
    return int(plo), int(phi)


class Payne(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        D, H, L, n = d["D"], d["H"], d["L"], d["n"]
        layers = []
        for l in range(L + 1):
            ni = D if l == 0 else H
            no = n if l == L else H
            lin = torch.nn.Linear(ni, no)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(d["w%d" % l].reshape(no, ni)))
                lin.bias.copy_(torch.from_numpy(d["b%d" % l]))
            layers.append(lin)
            if l < L:
                layers.append(torch.nn.LeakyReLU(0.01))
        self.net = torch.nn.Sequential(*layers)
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        return self.net(x)


def shifted(M, dv, pix, s0):
    """M [n] seen at residual velocity dv (Keys cubic convolution, a = -1/2)"""
    beta = dv / C_KMS
    a = torch.sqrt((1 - beta) / (1 + beta))
    u = pix * a + s0 * (a - 1)
    i = torch.floor(u).detach()
    t = u - i
    i = i.long()
    t2, t3 = t * t, t * t * t
    return 0.5 * ((-t3 + 2 * t2 - t) * M[i - 1] + (3 * t3 - 5 * t2 + 2) * M[i] +
                  (-3 * t3 + 4 * t2 + t) * M[i + 1] + (t3 - t2) * M[i + 2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dump")
    ap.add_argument("--n", type=int, default=32, help="spectra to fit")
    args = ap.parse_args()
    torch.set_num_threads(1)
    d = load(args.dump)
    D, n = d["D"], d["n"]
    net = Payne(d)
    lo, hi = pixel_range(n, d["start0"], d["step"], d["vmax"]) if d["fit_rv"] else (0, n - 1)
    pix = torch.arange(lo, hi + 1, dtype=torch.float64)
    s0 = d["start0"] / d["step"]
    N = min(args.n, d["N"])
    t_fit, t_eval, chi_c, chi_t, evals_t = [], [], [], [], []
    for k in range(N):
        F = torch.from_numpy(d["spec"][k][lo:hi + 1])
        W = torch.from_numpy(d["ivar"][k][lo:hi + 1])
        fit, st = d["fit"][k], d["start"][k]
        n_eval = int(fit[0])
        z0 = torch.tensor(st[:D].tolist() + ([st[D] / RV_UNIT] if d["fit_rv"] else []), dtype=torch.float64)

        def model(z):
            M = net(z[:D].float().unsqueeze(0))[0].double()
            if d["fit_rv"]:
                return shifted(M, z[D] * RV_UNIT, pix, s0)
            return M[lo:hi + 1]

        # diagonal Gauss-Newton scaling at the start (not timed), as the C fit; the Jacobian
        # columns by central differences (only for the scaling)
        with torch.no_grad():
            cols = []
            for j in range(z0.numel()):
                h = torch.zeros_like(z0)
                h[j] = 1e-3
                cols.append((model(z0 + h) - model(z0 - h)) / 2e-3)
            J = torch.stack(cols, 1)
        dsc = torch.sqrt((W[:, None] * J * J).sum(0)).clamp_min(1e-12)
        y = (z0 * dsc).clone().requires_grad_(True)
        opt = torch.optim.LBFGS([y], lr=1, max_iter=10**6, max_eval=n_eval, tolerance_grad=0.0,
                                tolerance_change=0.0, history_size=10, line_search_fn="strong_wolfe")
        count = [0]

        def closure():
            opt.zero_grad()
            r = F - model(y / dsc)
            f = (W * r * r).sum()
            f.backward()
            count[0] += 1
            return f

        t0 = time.process_time()
        opt.step(closure)
        t1 = time.process_time()
        with torch.no_grad():
            r = F - model(y / dsc)
            chi_t.append(float((W * r * r).sum()))
        chi_c.append(float(fit[-1]))
        t_fit.append(t1 - t0)
        t_eval.append((t1 - t0) / count[0])
        evals_t.append(count[0])
    med_fit, med_eval = np.median(t_fit) * 1e3, np.median(t_eval) * 1e3
    ev_c = np.mean([d["fit"][k][0] for k in range(N)])
    print("# PyTorch %s reference, 1 thread: %d spectra, The Payne %d -> %d x %d -> %d, fit_rv %d"
          % (torch.__version__, N, D, d["L"], d["H"], n, d["fit_rv"]))
    print("torch LBFGS   %.3f ms/spectrum (median CPU), %.3f ms/evaluation, %.1f evaluations "
          "(C: %.1f), chi2 torch - C: median %+.3g" % (med_fit, med_eval, np.mean(evals_t), ev_c,
                                                       np.median(np.array(chi_t) - np.array(chi_c))))
    for b, ms, ev in d["ctime"]:
        ms_eq = ms * np.mean(evals_t) / ev  # C time scaled to torch's evaluation count
        print("C batch %-4d  %.3f ms/spectrum CPU (%.1f evaluations; incl. pre-search and errors): "
              "torch / C = %.1f x (at equal evaluation counts %.1f x)"
              % (b, ms, ev, med_fit / ms, med_fit / ms_eq))


if __name__ == "__main__":
    sys.exit(main())
