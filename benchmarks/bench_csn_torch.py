#!/usr/bin/python3
"""bench_csn_torch.py: the PyTorch CPU twin of benchmarks/bench_csn.c.

The same Cycle-StarNet architecture (O'Briain et al. 2021 defaults as in include/mstars/csn.h:
2901 pixels padded to 3071, E_dom 32/64, E_sh 128/256/512 -> 25, E_sp 32/32/32 -> 4, mirrored
decoders and generators, two discriminators on (spectrum, latent) pairs) built from torch.nn
modules, and one training iteration exactly as the C code does it: the generator loss of Z25
Eq. 4-7 (weighted reconstruction and cycle MSE, adversarial BCE), backward, Adam(lr 1e-4,
betas (0.5, 0.999)); then the discriminator loss on the detached outputs, backward, Adam.
Batch 8 per domain, float32, one thread (torch.set_num_threads(1)). Also the fit's transfers
and their VJPs at batch 1 and 8.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 benchmarks/bench_csn_torch.py [--iters I] [--batch B]
"""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def encoder(c_in, filters, strides, k, z=None):
    layers = []
    for f, s in zip(filters, strides):
        layers += [nn.Conv1d(c_in, f, k, s), nn.LeakyReLU(0.1)]
        c_in = f
    if z is not None:
        layers += [nn.Conv1d(c_in, z, 1), nn.InstanceNorm1d(z)]
    return nn.Sequential(*layers)


def decoder(c_in, filters, strides, k, out=None):
    layers = []
    for f, s in zip(reversed(filters), reversed(strides)):
        layers += [nn.ConvTranspose1d(c_in, f, k, s), nn.LeakyReLU(0.1)]
        c_in = f
    if out is not None:
        layers += [nn.Conv1d(c_in, out, 1)]
    return nn.Sequential(*layers)


class Critic(nn.Module):
    def __init__(self, n_len, cz, L):
        super().__init__()
        xs, c = [], 1
        for f in (16, 32, 64, 128, 256):
            xs += [nn.Conv1d(c, f, 7, 4), nn.LeakyReLU(0.1)]
            c = f
        self.x = nn.Sequential(*xs)
        zs, c = [], cz
        for f in (32, 64, 128, 256, 512):
            zs += [nn.Conv1d(c, f, 1), nn.LeakyReLU(0.1)]
            c = f
        self.z = nn.Sequential(*zs)
        with torch.no_grad():
            nf = self.x(torch.zeros(1, 1, n_len)).numel() + self.z(torch.zeros(1, cz, L)).numel()
        self.fc = nn.Linear(nf, 1)

    def forward(self, x, z):
        a = self.x(x).flatten(1)
        b = self.z(z).flatten(1)
        return torch.sigmoid(self.fc(torch.cat([a, b], 1))).flatten()


class CSN(nn.Module):
    def __init__(self, n_len=3071, L=8):
        super().__init__()
        dom_f, dom_s = (32, 64), (4, 4)
        sh_f, sh_s = (128, 256, 512), (4, 2, 2)
        sp_f, sp_s = (32, 32, 32), (4, 2, 2)
        self.esyn = encoder(1, dom_f, dom_s, 7)
        self.eobs = encoder(1, dom_f, dom_s, 7)
        self.esh = encoder(64, sh_f, sh_s, 7, 25)
        self.esp = encoder(64, sp_f, sp_s, 7, 4)
        self.dsh = decoder(25, sh_f, sh_s, 7)
        self.dsp = decoder(4, sp_f, sp_s, 7)
        self.gsyn = decoder(128, dom_f, dom_s, 7, 1)
        self.gobs = decoder(160, dom_f, dom_s, 7, 1)
        self.cs = Critic(n_len, 25, L)
        self.co = Critic(n_len, 29, L)
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
                nn.init.xavier_uniform_(m.weight)
                m.bias.data.fill_(0.01)

    def gen_params(self):
        for m in (self.esyn, self.eobs, self.esh, self.esp, self.dsh, self.dsp, self.gsyn, self.gobs):
            yield from m.parameters()

    def dis_params(self):
        yield from self.cs.parameters()
        yield from self.co.parameters()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    N, P, B = 3071, 2901, a.batch
    off = (N - P) // 2
    net = CSN(N, 8)
    og = torch.optim.Adam(net.gen_params(), lr=1e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(net.dis_params(), lr=1e-4, betas=(0.5, 0.999))
    rng = np.random.default_rng(1)

    def batch():
        x = torch.zeros(B, 1, N)
        x[:, 0, off:off + P] = torch.tensor(rng.normal(0, 1, (B, P)).astype(np.float32))
        w = torch.zeros(B, 1, N)
        w[:, 0, off:off + P] = 5.0
        return x, w

    ones, zeros = torch.ones(B), torch.zeros(B)

    def dist(p, x, w):
        return (((p - x) * w) ** 2).sum() / (B * P)

    def iteration():
        xs, ws = batch()
        xo, wo = batch()
        z_s = net.esh(net.esyn(xs))
        h_o = net.eobs(xo)
        zsh_o, zsp_o = net.esh(h_o), net.esp(h_o)
        d_s, d_o, p_o = net.dsh(z_s), net.dsh(zsh_o), net.dsp(zsp_o)
        x_ss = net.gsyn(d_s)
        x_oo = net.gobs(torch.cat([d_o, p_o], 1))
        x_so = net.gobs(torch.cat([d_s, p_o], 1))
        x_os = net.gsyn(d_o)
        zsh_os = net.esh(net.esyn(x_os))
        h_so = net.eobs(x_so)
        zsh_so, zsp_so = net.esh(h_so), net.esp(h_so)
        x_oso = net.gobs(torch.cat([net.dsh(zsh_os), p_o], 1))
        x_sos = net.gsyn(net.dsh(zsh_so))
        c_s = net.cs(x_os, zsh_o)
        c_o = net.co(x_so, torch.cat([z_s, zsp_so], 1))
        lg = (3 * (dist(x_ss, xs, ws) + dist(x_sos, xs, ws)) + 9 * (dist(x_oo, xo, wo) + dist(x_oso, xo, wo))
              + F.binary_cross_entropy(c_s, ones) + F.binary_cross_entropy(c_o, ones))
        og.zero_grad()
        lg.backward()
        og.step()
        t = [v.detach() for v in (x_ss, z_s, x_oo, zsh_o, zsp_o, x_os, x_so, zsp_so)]
        x_ss, z_s, x_oo, zsh_o, zsp_o, x_os, x_so, zsp_so = t
        ld = (F.binary_cross_entropy(net.cs(x_ss, z_s), ones)
              + F.binary_cross_entropy(net.co(x_oo, torch.cat([zsh_o, zsp_o], 1)), ones)
              + F.binary_cross_entropy(net.cs(x_os, zsh_o), zeros)
              + F.binary_cross_entropy(net.co(x_so, torch.cat([z_s, zsp_so], 1)), zeros))
        od.zero_grad()
        ld.backward()
        od.step()

    for _ in range(2):
        iteration()
    ts = []
    for _ in range(a.iters):
        t0 = time.perf_counter()
        iteration()
        ts.append(time.perf_counter() - t0)
    sec = float(np.median(ts))
    print("torch %s, %d thread(s): %.3f s per iteration (batch %d per domain), %.1f spectra/s"
          % (torch.__version__, a.threads, sec, B, 2 * B / sec))

    # transfers for the fit: s2o and its VJP, o2s and its VJP
    with torch.no_grad():
        zsp = net.esp(net.eobs(torch.zeros(8, 1, N)))
    for bb in (1, 8):
        t1, t2, t3 = [], [], []
        for _ in range(a.iters):
            x = torch.zeros(bb, 1, N, requires_grad=True)
            v = torch.ones(bb, 1, N)
            s0 = time.perf_counter()
            out = net.gobs(torch.cat([net.dsh(net.esh(net.esyn(x))), net.dsp(zsp[:bb])], 1))
            s1 = time.perf_counter()
            (out * v).sum().backward()
            s2 = time.perf_counter()
            x2 = torch.zeros(bb, 1, N, requires_grad=True)
            out2 = net.gsyn(net.dsh(net.esh(net.eobs(x2))))
            (out2 * v).sum().backward()
            s3 = time.perf_counter()
            t1.append((s1 - s0) / bb)
            t2.append((s2 - s0) / bb)
            t3.append((s3 - s2) / bb)
        print("transfer at batch %d (ms per spectrum): s2o %.2f, s2o + vjp %.2f, o2s + vjp %.2f"
              % (bb, 1e3 * np.median(t1), 1e3 * np.median(t2), 1e3 * np.median(t3)))


if __name__ == "__main__":
    main()
