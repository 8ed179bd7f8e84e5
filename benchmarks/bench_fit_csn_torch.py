#!/usr/bin/python3
"""bench_fit_csn_torch.py: the PyTorch CPU reference of the observed-domain CSN fit
(benchmarks/bench_fit_csn.c, `mstars fit --csn` step 2).

The same networks (The Payne and Cycle-StarNet, weights read with h5py from the model files
named in the dump: src/io/emulator_h5.c and src/io/csn_h5.c layouts; the architecture is
benchmarks/bench_csn_torch.py's), the same spectra, the same objective: chi^2 over the same
pixels with the same weights (ivar on good pixels outside the fit mask and inside the
velocity margin), the model CSN_synth->obs(Payne(x); z_sp) moved by dv with the same Keys
cubic convolution (bench_fit_torch.shifted), z_sp = E_sp(E_obs(F_obs)) of the star computed
once and held fixed, labels in the C fit's scaled units (x in the box, u = dv / 100 km/s),
each variable scaled by sqrt of its Gauss-Newton curvature at the start as the C fit does.
torch.optim.LBFGS (strong Wolfe line search, history 10 = fit.lbfgs_memory, as O'Briain's
fit_labels.py) per spectrum from the C fit's start point, stopped at the C fit's
evaluation count; float32 networks, float64 chi^2, one thread.

A fit is timed as the C one is made: z_sp, the start Jacobian, L-BFGS, and the Jacobian at
the optimum (the errors). Here the Jacobians are central differences of the whole chain
(step 1e-3, the 2 D + 1 rows in one batched call), as the C fit made them before commit
5622ed4; the C fit now carries the Payne Jacobian through the CSN in forward mode (exact,
2-2.5x faster). The per-evaluation ratio does not involve the Jacobians. Reported: CPU time per spectrum (median), closure
calls, time per evaluation (L-BFGS part / closure calls), and the C / torch ratios per
evaluation and per fit (C times from the dump); also torch's forward + backward of the
chain at each C batch size (per row), the model check (torch model vs the C model at the
same labels: max |difference|), z_sp agreement, and the labels against C's.

    OPENBLAS_NUM_THREADS=1 build/benchmarks/bench_fit_csn --emulator E --csn C \
        --spectra S --n 32 --batch 1,8,32 --dump /tmp/fitcsn.txt
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 benchmarks/bench_fit_csn_torch.py /tmp/fitcsn.txt
"""
import argparse
import math
import os
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_csn_torch import CSN  # noqa: E402  the architecture twin
from bench_fit_torch import pixel_range, shifted  # noqa: E402  margin and Keys shift as C

RV_UNIT = 100.0
FD_STEP = 1e-3  # fit_model_csn.c CSN_FD_STEP


def load(path):
    d = {"ctime": [], "range": [], "flux": {}, "ivar": {}, "zsp": {}, "model": {}, "fit": {},
         "start": {}}
    with open(path) as fh:
        for line in fh:
            key, _, rest = line.partition(" ")
            if key == "files":
                d["emu_path"], d["csn_path"] = rest.split()
            elif key == "dims":
                v = rest.split()
                d["D"], d["n"], d["N"] = (int(x) for x in v[:3])
                d["start0"], d["step"], d["vmax"] = (float(x) for x in v[3:6])
                d["fit_rv"] = int(v[6])
                d["rv_window"], d["rv_scan"] = float(v[7]), float(v[8])
                d["memory"] = int(v[9])
                d["dloglam"], d["error_scaling"] = float(v[12]), v[13]
            elif key == "ctime":
                v = rest.split()
                d["ctime"].append(dict(zip(
                    ("B", "cpu_ms", "wall_ms", "ev_med", "ev_mean", "fg_row_ms", "jac_row_ms",
                     "fg_rows", "jac_rows", "payne_f", "payne_vjp", "s2o_f", "s2o_vjp",
                     "eval_vjp", "jac_row", "encode"), [float(x) for x in v])))
            elif key == "range":
                d["range"].append(tuple(float(x) for x in rest.split()))
            elif key == "mask":
                d["mask"] = np.array(rest.split(), dtype=np.int64).astype(bool)
            elif key in d and isinstance(d[key], dict):
                v = rest.split()
                d[key][int(v[0])] = np.array(v[1:], dtype=np.float64)
    return d


class Payne(nn.Module):
    def __init__(self, path):
        super().__init__()
        with h5py.File(path, "r") as f:
            shape = np.ravel(f.attrs["shape"])
            slope = float(np.ravel(f.attrs["leaky_slope"])[0])
            L = int(shape[2])
            layers = []
            for l in range(L + 1):
                w = np.array(f["network/w_array_%d" % l], dtype=np.float32)
                b = np.array(f["network/b_array_%d" % l], dtype=np.float32)
                lin = nn.Linear(w.shape[1], w.shape[0])
                with torch.no_grad():
                    lin.weight.copy_(torch.from_numpy(w))
                    lin.bias.copy_(torch.from_numpy(b))
                layers.append(lin)
                if l < L:
                    layers.append(nn.LeakyReLU(slope))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


DEFAULTS = {"csn.dom_filters": "32,64", "csn.dom_strides": "4,4", "csn.sh_filters": "128,256,512",
            "csn.sh_strides": "4,2,2", "csn.sp_filters": "32,32,32", "csn.sp_strides": "4,2,2",
            "csn.kernel": "7", "csn.z_shared": "25", "csn.z_split": "4",
            "csn.length_mode": "pad"}


class Transfer(nn.Module):
    """CSN_synth->obs with z_sp held fixed, and the z_sp encoder, on normalised flux [B, n]."""

    def __init__(self, path, n_pix):
        super().__init__()
        with h5py.File(path, "r") as f:
            txt = f.attrs["csn_settings"]
            txt = txt.decode() if isinstance(txt, bytes) else str(txt)
            settings = dict(l.strip().split("=", 1) for l in txt.splitlines() if "=" in l)
            for k, v in DEFAULTS.items():
                if settings.get(k) != v:
                    raise SystemExit("%s: %s = %s, the torch twin has O'Briain's %s" % (path, k, settings.get(k), v))
            if abs(float(settings["csn.leaky_slope"]) - 0.1) > 1e-12:
                raise SystemExit("%s: leaky slope %s, the twin has 0.1" % (path, settings["csn.leaky_slope"]))
            np_file = int(np.ravel(f.attrs["n_pix"])[0])
            if np_file != n_pix:
                raise SystemExit("%s: n_pix %d, the dump has %d" % (path, np_file, n_pix))
            self.mean, self.std = (float(x) for x in f.attrs["flux_mean_std"])
            # N(L) = 256 L + 1023 for these strides: the smallest >= n_pix (pad mode)
            L = max(1, math.ceil((n_pix - 1023) / 256))
            self.n_len = 256 * L + 1023
            self.off = (self.n_len - n_pix) // 2
            self.n = n_pix
            self.csn = CSN(self.n_len, L)
            for blk in ("esyn", "eobs", "esh", "esp", "dsh", "dsp", "gsyn", "gobs"):
                convs = [m for m in getattr(self.csn, blk) if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d))]
                for i, m in enumerate(convs):
                    for t, p in (("w", m.weight), ("b", m.bias)):
                        ds = f["generator/%s.%d.%s" % (blk, i, t)]
                        a = np.array(ds, dtype=np.float32).reshape(tuple(ds.attrs["shape"]) if "shape" in ds.attrs else p.shape)
                        if a.shape != tuple(p.shape):
                            raise SystemExit("%s.%d.%s: shape %s, the twin has %s" % (blk, i, t, a.shape, tuple(p.shape)))
                        with torch.no_grad():
                            p.copy_(torch.from_numpy(a))
        for p in self.parameters():
            p.requires_grad_(False)

    def internal(self, flux):
        x = torch.zeros(flux.shape[0], 1, self.n_len, dtype=torch.float32)
        v = (flux.double() - self.mean) / self.std
        x[:, 0, self.off:self.off + self.n] = torch.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0).float()
        return x

    def encode(self, flux):
        c = self.csn
        return c.esp(c.eobs(self.internal(flux)))

    def forward(self, p, zsp):
        c = self.csn
        x = torch.zeros(p.shape[0], 1, self.n_len, dtype=torch.float32)
        x[:, 0, self.off:self.off + self.n] = (p - self.mean) / self.std
        d = c.dsh(c.esh(c.esyn(x)))
        out = c.gobs(torch.cat([d, c.dsp(zsp)], 1))
        return out[:, 0, self.off:self.off + self.n] * self.std + self.mean


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dump")
    ap.add_argument("--n", type=int, default=0, help="spectra to fit (0: all in the dump)")
    ap.add_argument("--eval-reps", type=int, default=5, help="timings of the batched evaluation")
    args = ap.parse_args()
    torch.set_num_threads(1)
    d = load(args.dump)
    D, n = d["D"], d["n"]
    payne, tr = Payne(d["emu_path"]), Transfer(d["csn_path"], n)
    lo, hi = pixel_range(n, d["start0"], d["step"], d["vmax"]) if d["fit_rv"] else (0, n - 1)
    pix = torch.arange(lo, hi + 1, dtype=torch.float64)
    s0 = d["start0"] / d["step"]
    fit_rv = d["fit_rv"]
    lam = d["start0"] + d["step"] * pix
    corr = torch.clamp(0.5 * math.pi * lam * (10.0 ** d["dloglam"] - 1.0) / d["step"], min=1.0) \
        if d["dloglam"] > 0 else torch.ones_like(pix)

    def model(x, zsp):
        """[B, D] scaled labels (float64) -> unshifted model [B, n] (float32 networks)"""
        return tr(payne(x.float()), zsp)

    def seen(M, u):
        """M [n] (any dtype) at u = dv / 100 over [lo, hi] (float64)"""
        M = M.double()
        if fit_rv:
            return shifted(M, u * RV_UNIT, pix, s0)
        return M[lo:hi + 1]

    # the model check: the same labels through both codes
    dmax, zmax = 0.0, 0.0
    with torch.no_grad():
        for k, Mc in d["model"].items():
            zsp = tr.encode(torch.from_numpy(d["flux"][k]).unsqueeze(0))
            zc = torch.from_numpy(d["zsp"][k]).float().reshape(zsp.shape)
            zmax = max(zmax, float((zsp - zc).abs().max()))
            Mt = model(torch.from_numpy(d["start"][k][2:2 + D]).unsqueeze(0), zsp)[0]
            dmax = max(dmax, float((Mt.double() - torch.from_numpy(Mc)).abs().max()))

    N = d["N"] if args.n <= 0 else min(args.n, d["N"])
    rows = []
    for k in range(N):
        fl = d["flux"][k]
        iv = d["ivar"][k]
        ok = np.isfinite(iv) & (iv > 0) & np.isfinite(fl) & ~d["mask"]
        ok[:lo] = False
        ok[hi + 1:] = False
        W = torch.from_numpy(np.where(ok, iv, 0.0)[lo:hi + 1])
        F = torch.from_numpy(np.where(ok, fl, 0.0)[lo:hi + 1])
        st, fit = d["start"][k], d["fit"][k]
        n_eval = int(fit[0])
        if n_eval <= 0 or not np.isfinite(fit[4:4 + D]).all():
            continue
        z0 = torch.tensor(st[2:2 + D].tolist() + ([st[2 + D]] if fit_rv else []), dtype=torch.float64)
        flux_t = torch.from_numpy(fl).unsqueeze(0)

        def jacobian(z, zsp):
            """central differences of the chain over the labels (one batched call), the
            velocity column from the shift (as C: analytic there, here a tiny difference of
            the shift alone); returns the shifted model and Jt [P, n_fit]"""
            with torch.no_grad():
                X = z[:D].repeat(2 * D + 1, 1)
                for j in range(D):
                    X[2 * j, j] += FD_STEP
                    X[2 * j + 1, j] -= FD_STEP
                M = model(X, zsp.expand(2 * D + 1, -1, -1))
                u = z[D] if fit_rv else None
                m = seen(M[2 * D], u)
                cols = [(seen(M[2 * j], u) - seen(M[2 * j + 1], u)) / (2 * FD_STEP) for j in range(D)]
                if fit_rv:
                    du = 1e-4
                    cols.append((seen(M[2 * D], u + du) - seen(M[2 * D], u - du)) / (2 * du))
            return m, torch.stack(cols)

        t0 = time.process_time()
        with torch.no_grad():
            zsp = tr.encode(flux_t)
        t1 = time.process_time()
        _, J = jacobian(z0, zsp)
        dsc = torch.sqrt((W * J * J).sum(1)).clamp_min(1e-12)
        t2 = time.process_time()
        y = (z0 * dsc).clone().requires_grad_(True)
        opt = torch.optim.LBFGS([y], lr=1, max_iter=10 ** 6, max_eval=n_eval, tolerance_grad=0.0,
                                tolerance_change=0.0, history_size=d["memory"],
                                line_search_fn="strong_wolfe")
        count = [0]

        def closure():
            opt.zero_grad()
            z = y / dsc
            r = F - seen(model(z[:D].unsqueeze(0), zsp)[0], z[D] if fit_rv else None)
            f = (W * r * r).sum()
            f.backward()
            count[0] += 1
            return f

        opt.step(closure)
        t3 = time.process_time()
        zf = (y / dsc).detach()
        m, J = jacobian(zf, zsp)
        # Gauss-Newton covariance as fit_batch.c: the sandwich A^-1 (J^T W C J) A^-1 with the
        # pixel-correlation factors C_p (fit.native_dloglam; fit.error_scaling none)
        A = (W * J) @ J.T
        try:
            Ai = torch.linalg.inv(A)
            err = torch.sqrt(torch.diag(Ai @ ((W * corr * J) @ J.T) @ Ai)).numpy()
        except RuntimeError:
            err = np.full(A.shape[0], np.nan)
        t4 = time.process_time()
        chi2 = float((W * (F - m) ** 2).sum())
        rows.append(dict(k=k, t_enc=t1 - t0, t_j0=t2 - t1, t_lbfgs=t3 - t2, t_j1=t4 - t3,
                         t_fit=t4 - t0, evals=count[0], c_evals=n_eval,
                         dx=np.abs(zf[:D].numpy() - fit[4:4 + D]),
                         dsig=np.abs(zf[:D].numpy() - fit[4:4 + D]) / fit[6 + D:6 + 2 * D],
                         du=abs(float(zf[D]) - fit[4 + D]) if fit_rv else 0.0,
                         chi2_t=chi2, chi2_c=fit[5 + D], err_t=err[:D], err_c=fit[6 + D:6 + 2 * D]))

    # the chain's forward + backward at the C batch sizes (one chi^2 gradient per row)
    eval_rows = []
    k0 = rows[0]["k"] if rows else 0
    with torch.no_grad():
        z1 = tr.encode(torch.from_numpy(d["flux"][k0]).unsqueeze(0))
    for c in d["ctime"]:
        B = int(c["B"])
        x = torch.from_numpy(np.tile(d["start"][k0][2:2 + D], (B, 1))).requires_grad_(True)
        zs = z1.expand(B, -1, -1).contiguous()
        v = torch.randn(B, n, dtype=torch.float32)
        ts = []
        for _ in range(args.eval_reps + 1):
            a = time.process_time()
            out = model(x, zs)
            (out * v).sum().backward()
            ts.append((time.process_time() - a) / B)
            x.grad = None
        eval_rows.append((B, 1e3 * float(np.median(ts[1:]))))

    if not rows:
        print("no spectrum fitted")
        return 1
    med = lambda key: float(np.median([r[key] for r in rows]))
    t_fit, t_lb = 1e3 * med("t_fit"), 1e3 * med("t_lbfgs")
    ev_t = float(np.mean([r["evals"] for r in rows]))
    ev_c = float(np.mean([r["c_evals"] for r in rows]))
    per_eval = 1e3 * float(np.median([r["t_lbfgs"] / r["evals"] for r in rows]))
    lab = np.array([r["dx"] for r in rows])
    sig = np.array([r["dsig"] for r in rows])
    scale = np.array([hi_ - lo_ for lo_, hi_ in d["range"]])
    print("# PyTorch %s CPU reference, 1 thread: %d real spectra, The Payne -> CSN_synth->obs, "
          "fit_rv %d, %d pixels [%d, %d]" % (torch.__version__, len(rows), fit_rv, n, lo, hi))
    print("model check: torch vs C model at the same labels, max |diff| %.2e (flux units), "
          "z_sp max |diff| %.2e, over %d spectra" % (dmax, zmax, len(d["model"])))
    print("torch fit   %.1f ms/spectrum CPU (median): z_sp %.2f, start Jacobian %.1f, L-BFGS %.1f "
          "(%.1f closure calls, C %.1f evaluations), end Jacobian %.1f; %.2f ms per evaluation"
          % (t_fit, 1e3 * med("t_enc"), 1e3 * med("t_j0"), t_lb, ev_t, ev_c, 1e3 * med("t_j1"), per_eval))
    print("labels torch - C: median |dx| %s (physical: %s), in C sigma: median %s, max %.2f; "
          "%d of %d spectra beyond 1 sigma; median |du| %.2e (km/s: %.3f); chi2 torch - C median %+.3g"
          % (" ".join("%.2e" % v for v in np.median(lab, 0)),
             " ".join("%.3g" % v for v in np.median(lab, 0) * scale),
             " ".join("%.3f" % v for v in np.median(sig, 0)), float(np.nanmax(sig)),
             int((np.nanmax(sig, 1) > 1).sum()), len(rows), med("du"), RV_UNIT * med("du"), float(np.median([r["chi2_t"] - r["chi2_c"] for r in rows]))))
    print("errors torch / C (Gauss-Newton sandwich at each code's optimum; fit.error_scaling %s): "
          "median %s" % (d["error_scaling"],
                         " ".join("%.3f" % v for v in np.median([r["err_t"] / r["err_c"] for r in rows], 0))))
    ev_tmed = float(np.median([r["evals"] for r in rows]))
    for B, ms in eval_rows:
        print("torch eval  batch %-3d %.2f ms per row (Payne + CSN s2o forward + backward)" % (B, ms))
    print("# table: batch | C ms/spectrum CPU, evaluations median mean, ms per model evaluation "
          "(Payne + CSN forward + VJP at this batch) | torch ms/spectrum, closure calls median "
          "mean, ms per closure, ms per model evaluation at this batch | torch / C per fit, at "
          "equal evaluation counts, per model evaluation | model check max |diff|, median "
          "|label diff| / sigma")
    teval = dict(eval_rows)
    for c in d["ctime"]:
        B = int(c["B"])
        eq = c["cpu_ms"] * ev_t / c["ev_mean"]  # C per fit scaled to torch's evaluation count
        print("C batch %-3d %.1f ms/spectrum CPU (%.1f evaluations), %.2f ms per model evaluation: "
              "torch / C per fit %.2f x, at equal evaluation counts %.2f x, per model evaluation "
              "%.2f x" % (B, c["cpu_ms"], c["ev_mean"], c["eval_vjp"], t_fit / c["cpu_ms"],
                          t_fit / eq, teval[B] / c["eval_vjp"]))
        print("table %d %.3f %.1f %.2f %.4f %.3f %.1f %.2f %.4f %.4f %.3f %.3f %.3f %.3e %.4f"
              % (B, c["cpu_ms"], c["ev_med"], c["ev_mean"], c["eval_vjp"], t_fit, ev_tmed, ev_t,
                 per_eval, teval[B], t_fit / c["cpu_ms"], t_fit / eq, teval[B] / c["eval_vjp"],
                 dmax, float(np.median(sig))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
