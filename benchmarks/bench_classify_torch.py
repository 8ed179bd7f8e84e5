#!/usr/bin/python3
"""bench_classify_torch.py: the peer of bench_classify.c in numpy + PyTorch on one CPU thread:
classification per spectrum (the native view: masked pixels dropped, np.interp onto 3900-8899 A
at 1 A, z-score; then the three L25 CNNs, 8, 2 and 2 outputs, with softmax; batches of 32,
no_grad) and a training epoch of CNN-SPT (batch 128, weighted CrossEntropyLoss, Adam 1e-3).
usage: bench_classify_torch.py [--spectra N] [--repeat R]"""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn

from bench_cnn_torch import L25Cnn

torch.set_num_threads(1)
NPIX = 3910


def view(wave, flux, ivar, mask, grid):
    good = (mask == 0) & (ivar > 0) & np.isfinite(flux)
    v = np.interp(grid, wave[good], flux[good])
    return (v - v.mean()) / v.std()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spectra", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    torch.manual_seed(1)
    wave = 10.0 ** (3.5682 + 1e-4 * np.arange(NPIX))
    grid = 3900.0 + np.arange(5000)
    flux = (100 + 10 * rng.standard_normal((a.spectra, NPIX))).astype(np.float32)
    ivar = np.full((a.spectra, NPIX), 0.01, np.float32)
    mask = (rng.uniform(size=(a.spectra, NPIX)) < 0.01).astype(np.uint8)
    nets = [L25Cnn(5000, n_out=c).eval() for c in (8, 2, 2)]
    done = a.spectra // 32 * 32
    tw, tc, tv = [], [], []
    with torch.no_grad():
        for _ in range(a.repeat):
            w0, c0, v = time.perf_counter(), time.process_time(), 0.0
            for b0 in range(0, done, 32):
                v0 = time.perf_counter()
                x = np.stack([view(wave, flux[i], ivar[i], mask[i], grid) for i in range(b0, b0 + 32)])
                xt = torch.from_numpy(x.astype(np.float32)).unsqueeze(1)
                v += time.perf_counter() - v0
                for m in nets:
                    torch.softmax(m(xt), 1)
            tw.append(1e3 * (time.perf_counter() - w0) / done)
            tc.append(1e3 * (time.process_time() - c0) / done)
            tv.append(1e3 * v / done)
    print(f"classify spectra {done} batch 32: {np.median(tw):.3f} ms/spectrum wall, "
          f"{np.median(tc):.3f} ms/spectrum cpu, view {np.median(tv):.3f} ms (median of {a.repeat})")
    net = L25Cnn(5000, n_out=8)
    x = torch.randn(a.spectra, 1, 5000)
    y = torch.arange(a.spectra) % 8
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss(weight=torch.ones(8))
    tw, tc = [], []
    for _ in range(a.repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        for b0 in range(0, a.spectra - 127, 128):
            opt.zero_grad()
            loss = loss_fn(net(x[b0:b0 + 128]), y[b0:b0 + 128])
            loss.backward()
            opt.step()
        tw.append(time.perf_counter() - w0)
        tc.append(time.process_time() - c0)
    print(f"train spectra {a.spectra} batch 128: {np.median(tw):.4f} s/epoch wall, "
          f"{np.median(tc):.4f} s/epoch cpu (median of {a.repeat})")


if __name__ == "__main__":
    main()
