#!/usr/bin/python3
"""bench_cnn_torch.py: the same L25 CNN in PyTorch on one CPU thread (the peer of bench_cnn.c):
a training epoch (batch 128, MSE, Adam 1e-3) and ten-model ensemble inference per spectrum
(batches of 32, no_grad).
usage: bench_cnn_torch.py [--n-in L] [--spectra N] [--epochs E] [--models K] [--repeat R]"""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn

torch.set_num_threads(1)


class L25Cnn(nn.Module):
    def __init__(self, n_in, channels=(8, 16, 32, 32), kernels=(9, 7, 5, 3), pools=(4, 4, 2, 2), n_out=4):
        super().__init__()
        layers, c_in, length = [], 1, n_in
        for c, k, p in zip(channels, kernels, pools):
            layers += [nn.Conv1d(c_in, c, k, padding=k // 2), nn.ReLU(), nn.MaxPool1d(p)]
            c_in, length = c, length // p
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in * length, n_out)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-in", type=int, default=5000)
    ap.add_argument("--spectra", type=int, default=512)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    torch.manual_seed(1)
    x = torch.randn(a.spectra, 1, a.n_in)
    y = torch.randn(a.spectra, 4)
    net = L25Cnn(a.n_in)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    tw, tc = [], []
    for _ in range(a.repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(a.epochs):
            for b0 in range(0, a.spectra - 127, 128):
                opt.zero_grad()
                loss = loss_fn(net(x[b0:b0 + 128]), y[b0:b0 + 128])
                loss.backward()
                opt.step()
        tw.append((time.perf_counter() - w0) / a.epochs)
        tc.append((time.process_time() - c0) / a.epochs)
    print(f"train n_in {a.n_in} spectra {a.spectra} batch 128: {np.median(tw):.4f} s/epoch wall, "
          f"{np.median(tc):.4f} s/epoch cpu (median of {a.repeat})")
    nets = [L25Cnn(a.n_in).eval() for _ in range(a.models)]
    tw, tc = [], []
    done = a.spectra // 32 * 32
    with torch.no_grad():
        for _ in range(a.repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            for b0 in range(0, done, 32):
                p = torch.stack([m(x[b0:b0 + 32]) for m in nets])
                p.mean(0), p.std(0)
            tw.append(1e3 * (time.perf_counter() - w0) / done)
            tc.append(1e3 * (time.process_time() - c0) / done)
    print(f"infer n_in {a.n_in} models {a.models} batch 32: {np.median(tw):.3f} ms/spectrum wall, "
          f"{np.median(tc):.3f} ms/spectrum cpu (median of {a.repeat})")


if __name__ == "__main__":
    main()
