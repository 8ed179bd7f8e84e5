#!/usr/bin/python3
"""make_nn_fixtures.py: PyTorch reference values for the C neural-network engine.

Writes small text fixtures under tests/fixtures/nn/ (committed) that tests/nn/test_nn_torch.c
compares against. Run with Debian's interpreter, which sees python3-torch:

    /usr/bin/python3 tests/reference/make_nn_fixtures.py [OUTDIR]

Inputs are float32 numbers drawn from a fixed seed; references are computed in float64 by
PyTorch's own layers (nn.Linear, nn.Conv1d, nn.ConvTranspose1d, nn.InstanceNorm1d,
nn.MaxPool1d, torch.cat, nn.L1Loss/MSELoss/BCELoss, torch.optim.Adam/RAdam and
autograd), so the C float32 engine is checked against an independent implementation.

File format (one file per case): lines starting with '#' are comments; each array is a
header line "name ndim d0 d1 ..." followed by its values (%.9g, whitespace separated).
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
RNG = np.random.default_rng(20250521)


def f32(*shape, lo=-1.0, hi=1.0):
    """float32-representable random values as a float64 tensor"""
    a = RNG.uniform(lo, hi, size=shape).astype(np.float32).astype(np.float64)
    return torch.tensor(a)


class Writer:
    def __init__(self, outdir, name, comment):
        self.path = os.path.join(outdir, name + ".txt")
        self.f = open(self.path, "w")
        self.f.write("# mstars nn fixture (tests/reference/make_nn_fixtures.py, torch %s)\n"
                     % torch.__version__)
        self.f.write("# %s\n" % comment)

    def put(self, name, t):
        a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        a = np.asarray(a, dtype=np.float64)
        shape = a.shape if a.ndim > 0 else (1,)
        self.f.write("%s %d %s\n" % (name, len(shape), " ".join(str(d) for d in shape)))
        flat = a.reshape(-1)
        for i in range(0, flat.size, 8):
            self.f.write(" ".join("%.9g" % v for v in flat[i:i + 8]) + "\n")

    def close(self):
        self.f.close()
        print("wrote", self.path)


def set_params(module, tensors):
    with torch.no_grad():
        for p, t in zip(module.parameters(), tensors):
            p.copy_(t)


def case_dense(out):
    B, n_in, n_out = 3, 5, 4
    w = Writer(out, "dense", "nn.Linear(5, 4), batch 3; loss = sum(out * gout)")
    lin = nn.Linear(n_in, n_out)
    W, b = f32(n_out, n_in), f32(n_out)
    set_params(lin, [W, b])
    x = f32(B, n_in).requires_grad_(True)
    g = f32(B, n_out)
    y = lin(x)
    (y * g).sum().backward()
    for k, v in [("x", x), ("w", W), ("b", b), ("gout", g), ("out", y), ("gx", x.grad),
                 ("gw", lin.weight.grad), ("gb", lin.bias.grad)]:
        w.put(k, v)
    w.close()


def case_activations(out):
    w = Writer(out, "activations", "leaky ReLU 0.01 and 0.1, ReLU, sigmoid on 40 values")
    x = f32(40, lo=-3, hi=3)
    # keep away from the kink at 0
    x = torch.where(x.abs() < 0.05, x + 0.1, x)
    g = f32(40)
    w.put("x", x)
    w.put("gout", g)
    for name, fn in [("lrelu001", nn.LeakyReLU(0.01)), ("lrelu01", nn.LeakyReLU(0.1)),
                     ("relu", nn.ReLU()), ("sigmoid", nn.Sigmoid())]:
        xx = x.clone().requires_grad_(True)
        y = fn(xx)
        (y * g).sum().backward()
        w.put(name + "_out", y)
        w.put(name + "_gx", xx.grad)
    w.close()


def conv_case(out, name, B, cin, cout, L, k, s, p):
    w = Writer(out, name, "nn.Conv1d(%d, %d, kernel %d, stride %d, padding %d), B %d, L %d"
               % (cin, cout, k, s, p, B, L))
    conv = nn.Conv1d(cin, cout, k, stride=s, padding=p)
    W, b = f32(cout, cin, k), f32(cout)
    set_params(conv, [W, b])
    x = f32(B, cin, L).requires_grad_(True)
    y = conv(x)
    g = f32(*y.shape)
    (y * g).sum().backward()
    w.put("dims", [B, cin, cout, L, k, s, p, 0])
    for kk, v in [("x", x), ("w", W), ("b", b), ("gout", g), ("out", y), ("gx", x.grad),
                  ("gw", conv.weight.grad), ("gb", conv.bias.grad)]:
        w.put(kk, v)
    w.close()


def convt_case(out, name, B, cin, cout, L, k, s, p, op):
    w = Writer(out, name, "nn.ConvTranspose1d(%d, %d, kernel %d, stride %d, padding %d, "
               "output_padding %d), B %d, L %d" % (cin, cout, k, s, p, op, B, L))
    conv = nn.ConvTranspose1d(cin, cout, k, stride=s, padding=p, output_padding=op)
    W, b = f32(cin, cout, k), f32(cout)
    set_params(conv, [W, b])
    x = f32(B, cin, L).requires_grad_(True)
    y = conv(x)
    g = f32(*y.shape)
    (y * g).sum().backward()
    w.put("dims", [B, cin, cout, L, k, s, p, op])
    for kk, v in [("x", x), ("w", W), ("b", b), ("gout", g), ("out", y), ("gx", x.grad),
                  ("gw", conv.weight.grad), ("gb", conv.bias.grad)]:
        w.put(kk, v)
    w.close()


def case_instnorm(out):
    B, C, L = 2, 3, 17
    w = Writer(out, "instnorm", "nn.InstanceNorm1d(3, affine=True) and affine=False, B 2, L 17")
    x = f32(B, C, L, lo=-2, hi=3)
    g = f32(B, C, L)
    w.put("x", x)
    w.put("gout", g)
    norm = nn.InstanceNorm1d(C, affine=True)
    gamma, beta = f32(C, lo=0.5, hi=1.5), f32(C)
    set_params(norm, [gamma, beta])
    xx = x.clone().requires_grad_(True)
    y = norm(xx)
    (y * g).sum().backward()
    for kk, v in [("gamma", gamma), ("beta", beta), ("out", y), ("gx", xx.grad),
                  ("ggamma", norm.weight.grad), ("gbeta", norm.bias.grad)]:
        w.put(kk, v)
    norm2 = nn.InstanceNorm1d(C, affine=False)
    xx = x.clone().requires_grad_(True)
    y = norm2(xx)
    (y * g).sum().backward()
    w.put("out_plain", y)
    w.put("gx_plain", xx.grad)
    w.close()


def case_maxpool(out):
    B, C, L, k, s, p = 2, 3, 20, 3, 2, 1
    w = Writer(out, "maxpool", "nn.MaxPool1d(3, stride 2, padding 1), B 2, C 3, L 20")
    # distinct values so that the argmax is unambiguous
    x = torch.tensor(RNG.permutation(B * C * L).reshape(B, C, L).astype(np.float64) / 17.0 - 3.0)
    x.requires_grad_(True)
    y = F.max_pool1d(x, k, stride=s, padding=p)
    g = f32(*y.shape)
    (y * g).sum().backward()
    w.put("dims", [B, C, L, k, s, p])
    for kk, v in [("x", x), ("gout", g), ("out", y), ("gx", x.grad)]:
        w.put(kk, v)
    w.close()


def case_concat(out):
    w = Writer(out, "concat", "torch.cat([a (2,2,5), b (2,3,5)], dim=1)")
    a = f32(2, 2, 5).requires_grad_(True)
    b = f32(2, 3, 5).requires_grad_(True)
    y = torch.cat([a, b], dim=1)
    g = f32(*y.shape)
    (y * g).sum().backward()
    for kk, v in [("a", a), ("b", b), ("gout", g), ("out", y), ("ga", a.grad), ("gb", b.grad)]:
        w.put(kk, v)
    w.close()


def case_losses(out):
    n = 30
    w = Writer(out, "losses", "mean L1 and L2 of (pred - target) * w, BCELoss(mean)")
    pred, target = f32(n), f32(n)
    wt = f32(n, lo=0.2, hi=2.0)
    wt[3] = 0.0  # a masked element
    w.put("pred", pred)
    w.put("target", target)
    w.put("w", wt)
    for name, fn in [("l1", lambda r: r.abs().mean()), ("l2", lambda r: (r * r).mean())]:
        pp = pred.clone().requires_grad_(True)
        loss = fn((pp - target) * wt)
        loss.backward()
        w.put(name + "_loss", loss)
        w.put(name + "_gpred", pp.grad)
    # torch's own modules without weights
    pp = pred.clone().requires_grad_(True)
    loss = nn.L1Loss()(pp, target)
    loss.backward()
    w.put("l1plain_loss", loss)
    w.put("l1plain_gpred", pp.grad)
    pp = pred.clone().requires_grad_(True)
    loss = nn.MSELoss()(pp, target)
    loss.backward()
    w.put("l2plain_loss", loss)
    w.put("l2plain_gpred", pp.grad)
    prob = f32(n, lo=0.02, hi=0.98)
    y = torch.tensor((RNG.uniform(size=n) > 0.5).astype(np.float64))
    y[0] = 0.3  # soft target
    pp = prob.clone().requires_grad_(True)
    loss = nn.BCELoss()(pp, y)
    loss.backward()
    w.put("p", prob)
    w.put("y", y)
    w.put("bce_loss", loss)
    w.put("bce_gp", pp.grad)
    w.close()


def case_optim(out):
    n, steps = 20, 12
    w = Writer(out, "optim", "torch.optim.Adam / RAdam, 20 parameters, 12 steps of given gradients")
    p0 = f32(n)
    grads = f32(steps, n, lo=-0.5, hi=0.5)
    w.put("p0", p0)
    w.put("grads", grads)
    for name, make in [("adam", lambda q: torch.optim.Adam([q], lr=1e-2)),
                       ("adam_wd", lambda q: torch.optim.Adam([q], lr=1e-2, weight_decay=0.1,
                                                              betas=(0.5, 0.999))),
                       ("radam", lambda q: torch.optim.RAdam([q], lr=1e-2))]:
        q = p0.clone().requires_grad_(True)
        opt = make(q)
        hist = []
        for s in range(steps):
            q.grad = grads[s].clone()
            opt.step()
            hist.append(q.detach().clone())
        w.put(name, torch.stack(hist))
    w.close()


class Payne(nn.Module):
    def __init__(self, d, h, npix, slope):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, h), nn.LeakyReLU(slope), nn.Linear(h, h),
                                 nn.LeakyReLU(slope), nn.Linear(h, npix))

    def forward(self, x):
        return self.net(x)


def case_payne(out):
    B, D, H, P = 3, 4, 16, 50
    w = Writer(out, "payne", "The Payne MLP 4 -> 16 -> 16 -> 50, leaky ReLU 0.01, batch 3; "
               "loss = mean |out - target|; Jacobian d out / d x")
    net = Payne(D, H, P, 0.01)
    ps = [f32(H, D, lo=-0.8, hi=0.8), f32(H), f32(H, H, lo=-0.4, hi=0.4), f32(H),
          f32(P, H, lo=-0.3, hi=0.3), f32(P)]
    set_params(net, ps)
    x = f32(B, D, lo=-0.5, hi=0.5).requires_grad_(True)
    target = f32(B, P)
    y = net(x)
    loss = (y - target).abs().mean()
    loss.backward()
    jac = torch.autograd.functional.jacobian(lambda z: net(z), x.detach())  # [B,P,B,D]
    J = torch.stack([jac[b, :, b, :].t() for b in range(B)])  # [B, D, P]
    w.put("dims", [B, D, H, P])
    for kk, v in zip(["w0", "b0", "w1", "b1", "w2", "b2"], ps):
        w.put(kk, v)
    w.put("x", x)
    w.put("target", target)
    w.put("out", y)
    w.put("loss", loss)
    w.put("gx", x.grad)
    for kk, p in zip(["gw0", "gb0", "gw1", "gb1", "gw2", "gb2"], net.parameters()):
        w.put(kk, p.grad)
    w.put("jac", J)
    w.close()


class ConvStack(nn.Module):
    """encoder/decoder in the shape of Cycle-StarNet: conv k7 s4, conv k3 s2, instance
    norm, transposed convs back to the input length, concat with the input, 1x1 conv"""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(1, 4, 7, stride=4)
        self.c2 = nn.Conv1d(4, 6, 3, stride=2)
        self.norm = nn.InstanceNorm1d(6)
        self.t1 = nn.ConvTranspose1d(6, 4, 3, stride=2)
        self.t2 = nn.ConvTranspose1d(4, 2, 7, stride=4, output_padding=1)
        self.head = nn.Conv1d(3, 1, 1)

    def forward(self, x):
        h = F.leaky_relu(self.c1(x), 0.1)
        z = self.norm(self.c2(h))
        u = F.leaky_relu(self.t1(z), 0.1)
        v = self.t2(u)
        return self.head(torch.cat([v, x], dim=1))


def case_convstack(out):
    B, L = 2, 64
    w = Writer(out, "convstack", "conv(1,4,k7,s4) lrelu0.1 conv(4,6,k3,s2) instnorm "
               "convT(6,4,k3,s2) lrelu0.1 convT(4,2,k7,s4,op1) cat(x) conv1x1(3,1); "
               "loss = mean(((out - target) w)^2)")
    net = ConvStack()
    shapes = [p.shape for p in net.parameters()]
    ps = [f32(*s, lo=-0.5, hi=0.5) for s in shapes]
    set_params(net, ps)
    x = f32(B, 1, L).requires_grad_(True)
    target = f32(B, 1, L)
    wt = f32(B, 1, L, lo=0.0, hi=2.0)
    y = net(x)
    loss = (((y - target) * wt) ** 2).mean()
    loss.backward()
    names = ["c1w", "c1b", "c2w", "c2b", "t1w", "t1b", "t2w", "t2b", "hw", "hb"]
    for kk, v in zip(names, ps):
        w.put(kk, v)
    w.put("x", x)
    w.put("target", target)
    w.put("w", wt)
    w.put("out", y)
    w.put("loss", loss)
    w.put("gx", x.grad)
    for kk, p in zip(names, net.parameters()):
        w.put("g" + kk, p.grad)
    w.close()


class L25Cnn(nn.Module):
    """The L25 CNN (Li et al. 2025 Fig. 2; src/cnn/cnn.c): 4 x [conv 'same' -> ReLU ->
    max-pool] -> flatten -> dense."""

    def __init__(self, n_in, channels, kernels, pools, n_out):
        super().__init__()
        layers, c_in, length = [], 1, n_in
        for c, k, p in zip(channels, kernels, pools):
            layers += [nn.Conv1d(c_in, c, k, padding=k // 2), nn.ReLU(), nn.MaxPool1d(p)]
            c_in, length = c, length // p
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in * length, n_out)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def case_cnn(out):
    B, L = 2, 64
    w = Writer(out, "cnn", "L25 CNN: conv(1,2,k5) conv(2,3,k3) conv(3,4,k3) conv(4,3,k3), "
               "'same' padding, ReLU, max-pool 2 each, dense(12, 3); loss = mean((out - target)^2)")
    net = L25Cnn(L, (2, 3, 4, 3), (5, 3, 3, 3), (2, 2, 2, 2), 3)
    ps = [f32(*p.shape, lo=-0.5, hi=0.5) for p in net.parameters()]
    set_params(net, ps)
    x = f32(B, 1, L, lo=-2.0, hi=2.0)
    target = f32(B, 3)
    y = net(x)
    loss = ((y - target) ** 2).mean()
    loss.backward()
    names = [n.replace("features.", "") for n, _ in net.named_parameters()]
    for kk, v in zip(names, ps):
        w.put("p." + kk, v)
    w.put("x", x)
    w.put("target", target)
    w.put("out", y)
    w.put("loss", loss)
    for kk, p in zip(names, net.parameters()):
        w.put("g." + kk, p.grad)
    w.close()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "fixtures", "nn")
    os.makedirs(out, exist_ok=True)
    case_dense(out)
    case_activations(out)
    conv_case(out, "conv_k7s4", 2, 3, 4, 29, 7, 4, 0)
    conv_case(out, "conv_k5s2p2", 2, 3, 4, 16, 5, 2, 2)
    conv_case(out, "conv_1x1", 2, 5, 3, 11, 1, 1, 0)
    convt_case(out, "convt_k7s4", 2, 4, 3, 6, 7, 4, 0, 0)
    convt_case(out, "convt_k5s2p1op1", 2, 3, 2, 7, 5, 2, 1, 1)
    case_instnorm(out)
    case_maxpool(out)
    case_concat(out)
    case_losses(out)
    case_optim(out)
    case_payne(out)
    case_convstack(out)
    case_cnn(out)


if __name__ == "__main__":
    main()
