#!/usr/bin/python3
"""bench_nn_torch.py: the benchmarks of bench_nn.c with the same network in PyTorch (CPU).

Run with Debian's interpreter (python3-torch), one thread as the C engine per rank:

    /usr/bin/python3 benchmarks/bench_nn_torch.py [--infer] [--train] [--hidden 300]
        [--pix 2901] [--labels 4] [--models 468] [--batch 256] [--epochs 20] [--repeat 3]

Inference: The Payne MLP labels -> hidden -> hidden -> pix (leaky ReLU 0.01), float32, at
batch 1 and 64, thread CPU time per spectrum (median and minimum of repeats):
  forward       torch.no_grad() forward
  jacobian      flux and the full label Jacobian, the fastest of: autograd.functional.jacobian
                (forward-mode, vectorized), D forward-mode dual passes, and one dual pass with
                the D tangents batched
  forward+vjp   forward with requires_grad labels, then backward(v) (one VJP)
Training: the same epoch as ms_payne_train (shuffled mini-batches, L1 loss x 1e4, RAdam,
validation every 10 epochs), seconds per epoch.
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.autograd.forward_ad as fwAD

torch.set_num_threads(1)
torch.manual_seed(1)


def payne(d, h, layers, pix):
    mods = [nn.Linear(d, h), nn.LeakyReLU(0.01)]
    for _ in range(layers - 1):
        mods += [nn.Linear(h, h), nn.LeakyReLU(0.01)]
    mods += [nn.Linear(h, pix)]
    return nn.Sequential(*mods)


def timeit(fn, batch, reps=25, inner=None):
    """median and minimum thread CPU us per spectrum (as bench_nn.c)"""
    inner = inner or (200 if batch == 1 else 10)
    for _ in range(3):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.thread_time()
        for _ in range(inner):
            fn()
        ts.append((time.thread_time() - t0) / inner / batch * 1e6)
    return statistics.median(ts), min(ts)


def bench_infer(a):
    net = payne(a.labels, a.hidden, a.layers, a.pix)
    for p in net.parameters():
        p.requires_grad_(False)
    print("# inference: The Payne %d -> %d x %d -> %d, leaky ReLU 0.01, float32, torch %s, "
          "%d thread" % (a.labels, a.layers, a.hidden, a.pix, torch.__version__,
                         torch.get_num_threads()))
    print("# %-8s %18s %18s %18s   (thread CPU us per spectrum: median [min]; jacobian: fastest)"
          % ("batch", "forward", "jacobian", "forward+vjp"))
    for B in (1, 64):
        x = torch.rand(B, a.labels) - 0.5
        v = torch.rand(B, a.pix) * 2 - 1

        def fwd():
            with torch.no_grad():
                return net(x)

        def jac_functional():
            # rows are independent: the Jacobian of the summed output over the batch
            return torch.autograd.functional.jacobian(
                lambda z: net(z).sum(0), x, vectorize=True, strategy="forward-mode")

        def jac_dual():
            outs = []
            with fwAD.dual_level():
                for j in range(a.labels):
                    t = torch.zeros_like(x)
                    t[:, j] = 1.0
                    y = net(fwAD.make_dual(x, t))
                    outs.append(fwAD.unpack_dual(y).tangent)
            return outs

        def jac_batched_tangents():
            # all D tangents at once: the input repeated D times, one dual pass
            with fwAD.dual_level():
                xr = x.repeat_interleave(a.labels, 0)
                t = torch.eye(a.labels).repeat(B, 1)
                y = net(fwAD.make_dual(xr, t))
                return fwAD.unpack_dual(y).tangent

        def fwd_vjp():
            xx = x.clone().requires_grad_(True)
            y = net(xx)
            y.backward(v)
            return xx.grad

        tf = timeit(fwd, B)
        cands = {}
        for name, fn in [("functional", jac_functional), ("dual", jac_dual),
                         ("dual-batched", jac_batched_tangents)]:
            try:
                cands[name] = timeit(fn, B, reps=9)
            except Exception as exc:  # a method missing in this torch version
                print("#   jacobian via %s failed: %s" % (name, exc))
        best = min(cands, key=lambda k: cands[k][0])
        tv = timeit(fwd_vjp, B)
        print("infer batch %-4d %9.2f [%6.2f] %9.2f [%6.2f] %9.2f [%6.2f]   (jacobian medians: %s)"
              % (B, tf[0], tf[1], cands[best][0], cands[best][1], tv[0], tv[1],
                 ", ".join("%s %.1f" % (k, cands[k][0]) for k in cands)))


def bench_train(a):
    N, D, P = a.models, a.labels, a.pix
    g = torch.Generator().manual_seed(7)
    y = torch.rand(N, D, generator=g)
    lam = torch.arange(P, dtype=torch.float32) / P
    flux = torch.ones(N, P)
    for k in range(12):
        c, w = (k + 0.5) / 12.0, 0.004 + 0.01 * (k % 3)
        depth = 0.2 * (0.5 + 0.5 * y[:, k % D]) * (0.7 + 0.3 * y[:, (k + 1) % D])
        flux -= depth[:, None] * torch.exp(-0.5 * (lam[None, :] - c) ** 2 / w ** 2)
    x = y - 0.5
    nval = round(0.2 * N)
    perm = torch.randperm(N, generator=g)
    vi, ti = perm[:nval], perm[nval:]
    xt, ft, xv, fv = x[ti], flux[ti], x[vi], flux[vi]
    times, cpus = [], []
    for _ in range(a.repeat):
        torch.manual_seed(1)
        net = payne(D, a.hidden, a.layers, P)
        opt = torch.optim.RAdam(net.parameters(), lr=1e-3)
        loss_fn = nn.L1Loss()
        t0, c0 = time.perf_counter(), time.thread_time()
        for ep in range(a.epochs):
            order = torch.randperm(len(ti), generator=g)
            for b0 in range(0, len(ti), a.batch):
                idx = order[b0:b0 + a.batch]
                opt.zero_grad()
                loss = loss_fn(net(xt[idx]), ft[idx]) * 1e4
                loss.backward()
                opt.step()
            if (ep + 1) % 10 == 0:
                with torch.no_grad():
                    val = (net(xv) - fv).abs().mean().item()
        times.append((time.perf_counter() - t0) / a.epochs)
        cpus.append((time.thread_time() - c0) / a.epochs)
    print("train torch models %d (train %d) pix %d hidden %d x %d batch %d radam: %.4f s/epoch "
          "wall (best of %d runs of %d epochs; mean %.4f), %.4f s/epoch CPU; val L1 %.3e"
          % (N, len(ti), P, a.layers, a.hidden, a.batch, min(times), a.repeat, a.epochs,
             sum(times) / len(times), min(cpus), val))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--infer", action="store_true")
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--hidden", type=int, default=300)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--pix", type=int, default=2901)
    ap.add_argument("--labels", type=int, default=4)
    ap.add_argument("--models", type=int, default=468)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    if not a.infer and not a.train:
        a.infer = a.train = True
    if a.infer:
        bench_infer(a)
    if a.train:
        bench_train(a)


if __name__ == "__main__":
    main()
