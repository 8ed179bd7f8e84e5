#!/usr/bin/python3
"""make_csn_fixtures.py: PyTorch reference values for the C Cycle-StarNet (src/nn/csn*.c).

Writes small text fixtures under tests/fixtures/csn/ (committed) that tests/csn/test_csn_torch.c
compares against, so the C test needs no torch. Run with Debian's interpreter:

    /usr/bin/python3 tests/reference/make_csn_fixtures.py [OUTDIR]

A tiny version of the architecture of include/mstars/csn.h (O'Briain et al. 2021 as used by
Z25) is written here independently with torch.nn.functional (conv1d, conv_transpose1d,
instance_norm, leaky_relu, linear, sigmoid, binary_cross_entropy) and autograd, in float64,
with weights and inputs drawn as float32-representable numbers from a fixed seed. Each case
records: the configuration, every weight tensor (by its C name), the inputs, the internal
(standardised, padded or cropped) inputs and loss weights, every generator output, the
latents, the discriminator probabilities, all twelve losses, the gradients of the generator
loss (Z25 Eq. 7) with respect to every generator parameter and of the discriminator loss
with respect to every discriminator parameter, and the two transfers for the fit with their
vector-Jacobian products with respect to the input spectrum.

File format (as tests/fixtures/nn): '#' comment lines; each array is a header line
"name ndim d0 d1 ..." followed by its values (%.9g).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
RNG = np.random.default_rng(20250607)


def f32(*shape, lo=-1.0, hi=1.0):
    a = RNG.uniform(lo, hi, size=shape).astype(np.float32).astype(np.float64)
    return torch.tensor(a)


class Writer:
    def __init__(self, path, comment):
        self.path = path
        self.f = open(path, "w")
        self.f.write("# mstars csn fixture (tests/reference/make_csn_fixtures.py, torch %s)\n"
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


class Net:
    """The architecture: stacks of (kind, name, stride, act) with weights in self.p."""

    def __init__(self, cfg, n_len):
        self.cfg = cfg
        self.p = {}        # name -> leaf tensor
        self.order = []    # names in creation order (generator side, then discriminators)
        self.side = {}     # name -> "gen" or "dis"
        k = cfg["kernel"]
        dom, sh, sp = cfg["dom"], cfg["sh"], cfg["sp"]
        self.blocks = {}
        self.blocks["esyn"] = self.encoder("esyn", 1, dom, k, None)
        self.blocks["eobs"] = self.encoder("eobs", 1, dom, k, None)
        ch = dom[-1][0]
        self.blocks["esh"] = self.encoder("esh", ch, sh, k, cfg["z_sh"])
        self.blocks["esp"] = self.encoder("esp", ch, sp, k, cfg["z_sp"])
        self.blocks["dsh"] = self.decoder("dsh", cfg["z_sh"], sh, k, None)
        self.blocks["dsp"] = self.decoder("dsp", cfg["z_sp"], sp, k, None)
        cd, cp = sh[0][0], sp[0][0]
        self.blocks["gsyn"] = self.decoder("gsyn", cd, dom, k, 1)
        self.blocks["gobs"] = self.decoder("gobs", cd + cp, dom, k, 1)
        # discriminators
        L = cfg["z_len"]
        self.critics = {}
        for name, cz in (("cs", cfg["z_sh"]), ("co", cfg["z_sh"] + cfg["z_sp"])):
            xs, c, l = [], 1, n_len
            for i, (f, s) in enumerate(cfg["dis_x"]):
                self.add("%s.x.%d" % (name, i), (f, c, cfg["dis_kernel"]), f, "dis")
                xs.append(("conv", "%s.x.%d" % (name, i), s, True))
                c, l = f, (l - cfg["dis_kernel"]) // s + 1
            fx = c * l
            zs, c = [], cz
            for i, f in enumerate(cfg["dis_z"]):
                self.add("%s.z.%d" % (name, i), (f, c, 1), f, "dis")
                zs.append(("pw", "%s.z.%d" % (name, i), 1, True))
                c = f
            fz = c * L
            nf = fx + fz
            a = 0.3 / np.sqrt(nf)
            self.p["%s.fc.w" % name] = f32(1, nf, lo=-a, hi=a)
            self.p["%s.fc.b" % name] = f32(1, lo=-0.1, hi=0.1)
            for t in ("w", "b"):
                self.order.append("%s.fc.%s" % (name, t))
                self.side["%s.fc.%s" % (name, t)] = "dis"
            self.critics[name] = (xs, zs)
        for t in self.p.values():
            t.requires_grad_(True)

    def add(self, name, wshape, c_out, side):
        fan = (wshape[0] + wshape[1]) * wshape[2]
        a = self.cfg["gain" if side == "gen" else "dis_gain"] * np.sqrt(6.0 / fan)
        self.p[name + ".w"] = f32(*wshape, lo=-a, hi=a)
        self.p[name + ".b"] = f32(c_out, lo=-0.1, hi=0.1)
        for t in ("w", "b"):
            self.order.append(name + "." + t)
            self.side[name + "." + t] = side

    def encoder(self, name, c, layers, k, z):
        st = []
        for i, (f, s) in enumerate(layers):
            self.add("%s.%d" % (name, i), (f, c, k), f, "gen")
            st.append(("conv", "%s.%d" % (name, i), s, True))
            c = f
        if z is not None:
            i = len(layers)
            self.add("%s.%d" % (name, i), (z, c, 1), z, "gen")
            st.append(("pw", "%s.%d" % (name, i), 1, False))
            st.append(("norm", None, 0, False))
        return st

    def decoder(self, name, c, layers, k, out):
        st = []
        for i, (f, s) in enumerate(reversed(layers)):
            self.add("%s.%d" % (name, i), (c, f, k), f, "gen")  # ConvTranspose: [c_in, c_out, k]
            st.append(("convt", "%s.%d" % (name, i), s, True))
            c = f
        if out is not None:
            i = len(layers)
            self.add("%s.%d" % (name, i), (out, c, 1), out, "gen")
            st.append(("pw", "%s.%d" % (name, i), 1, False))
        return st

    def run(self, st, x, p=None):
        p = self.p if p is None else p
        slope = self.cfg["slope"]
        for kind, name, s, act in st:
            if kind == "conv":
                x = F.conv1d(x, p[name + ".w"], p[name + ".b"], stride=s)
            elif kind == "convt":
                x = F.conv_transpose1d(x, p[name + ".w"], p[name + ".b"], stride=s)
            elif kind == "pw":
                x = F.conv1d(x, p[name + ".w"], p[name + ".b"])
            elif kind == "norm":
                x = F.instance_norm(x, eps=1e-5)
            if act:
                x = F.leaky_relu(x, slope)
        return x

    def critic(self, name, x, z, p=None):
        p = self.p if p is None else p
        xs, zs = self.critics[name]
        a = self.run(xs, x, p).reshape(x.shape[0], -1)
        b = self.run(zs, z, p).reshape(x.shape[0], -1)
        h = torch.cat([a, b], 1)
        return torch.sigmoid(F.linear(h, p[name + ".fc.w"], p[name + ".fc.b"])).reshape(-1)


def up_length(l, strides, k):
    for s in reversed(strides):
        l = (l - 1) * s + k
    return l


def compute(net, cfg, P, inp, dtype, n_pix, N, off, mode, B):
    """Every result of one case with parameters P and inputs inp cast to dtype."""
    R = lambda st, x: net.run(st, x, P)
    crit = lambda name, x, z: net.critic(name, x, z, P)
    mean, std, floor, synth_err = cfg["mean"], cfg["std"], cfg["err_floor"], cfg["synth_err"]
    flux_s, flux_o, err_o, v = (inp[k].to(dtype) for k in ("flux_s", "flux_o", "err_o", "v"))
    res = {}

    def to_internal(f, e):
        good = torch.isfinite(f)
        x = torch.where(good, (f - mean) / std, torch.zeros_like(f))
        if e is None:
            wt = torch.where(good, torch.full_like(f, std / synth_err), torch.zeros_like(f))
        else:
            ok = good & torch.isfinite(e) & (e > 0)
            wt = torch.where(ok, std / torch.clamp(e, min=floor), torch.zeros_like(f))
        if mode == "pad":
            x = F.pad(x, (off, N - n_pix - off))
            wt = F.pad(wt, (off, N - n_pix - off))
        else:
            x, wt = x[:, off:off + N], wt[:, off:off + N]
        return x, wt

    x_s, w_s = to_internal(flux_s, None)
    x_o, w_o = to_internal(flux_o, err_o)
    res.update(x_s=x_s, w_s=w_s, x_o=x_o, w_o=w_o)
    b = net.blocks
    xs, xo = x_s.unsqueeze(1), x_o.unsqueeze(1)
    z_s = R(b["esh"], R(b["esyn"], xs))
    h_o = R(b["eobs"], xo)
    zsh_o, zsp_o = R(b["esh"], h_o), R(b["esp"], h_o)
    d_s, d_o, p_o = R(b["dsh"], z_s), R(b["dsh"], zsh_o), R(b["dsp"], zsp_o)
    o = dict(z_s=z_s, zsh_o=zsh_o, zsp_o=zsp_o)
    o["x_ss"] = R(b["gsyn"], d_s)
    o["x_oo"] = R(b["gobs"], torch.cat([d_o, p_o], 1))
    o["x_so"] = R(b["gobs"], torch.cat([d_s, p_o], 1))
    o["x_os"] = R(b["gsyn"], d_o)
    o["zsh_os"] = R(b["esh"], R(b["esyn"], o["x_os"]))
    h_so = R(b["eobs"], o["x_so"])
    o["zsh_so"], o["zsp_so"] = R(b["esh"], h_so), R(b["esp"], h_so)
    o["x_oso"] = R(b["gobs"], torch.cat([R(b["dsh"], o["zsh_os"]), p_o], 1))
    o["x_sos"] = R(b["gsyn"], R(b["dsh"], o["zsh_so"]))
    neff = n_pix if mode == "pad" else N

    def dist(pred, x, wt):
        return (((pred.squeeze(1) - x) * wt) ** 2).sum() / (B * neff)

    c_s_fake = crit("cs", o["x_os"], o["zsh_o"])
    c_o_fake = crit("co", o["x_so"], torch.cat([o["z_s"], o["zsp_so"]], 1))
    ones, zeros = torch.ones(B, dtype=dtype), torch.zeros(B, dtype=dtype)
    L = {}
    L["rec_s"] = dist(o["x_ss"], x_s, w_s)
    L["cyc_s"] = dist(o["x_sos"], x_s, w_s)
    L["rec_o"] = dist(o["x_oo"], x_o, w_o)
    L["cyc_o"] = dist(o["x_oso"], x_o, w_o)
    L["gen_s"] = F.binary_cross_entropy(c_s_fake, ones)
    L["gen_o"] = F.binary_cross_entropy(c_o_fake, ones)
    total_g = (cfg["lambda_s"] * (L["rec_s"] + L["cyc_s"]) +
               cfg["lambda_o"] * (L["rec_o"] + L["cyc_o"]) +
               cfg["lambda_a"] * (L["gen_s"] + L["gen_o"]))
    total_g.backward()
    res.update(o)
    res["c_s_fake"], res["c_o_fake"] = c_s_fake, c_o_fake
    for pname in net.order:
        if net.side[pname] == "gen":
            res["g." + pname] = P[pname].grad.clone()
    for t in P.values():
        t.grad = None
    # discriminator step on detached generator outputs
    det = {k_: t.detach() for k_, t in o.items()}
    c_s_real = crit("cs", det["x_ss"], det["z_s"])
    c_o_real = crit("co", det["x_oo"], torch.cat([det["zsh_o"], det["zsp_o"]], 1))
    c_s_fake = crit("cs", det["x_os"], det["zsh_o"])
    c_o_fake = crit("co", det["x_so"], torch.cat([det["z_s"], det["zsp_so"]], 1))
    L["real_s"] = F.binary_cross_entropy(c_s_real, ones)
    L["real_o"] = F.binary_cross_entropy(c_o_real, ones)
    L["fake_s"] = F.binary_cross_entropy(c_s_fake, zeros)
    L["fake_o"] = F.binary_cross_entropy(c_o_fake, zeros)
    total_d = cfg["lambda_d"] * (L["real_s"] + L["real_o"] + L["fake_s"] + L["fake_o"])
    total_d.backward()
    res["c_s_real"], res["c_o_real"] = c_s_real, c_o_real
    for pname in net.order:
        if net.side[pname] == "dis":
            res["g." + pname] = P[pname].grad.clone()
    for key, t in L.items():
        res["loss_" + key] = t
    res["loss_total_g"], res["loss_total_d"] = total_g, total_d
    for t in P.values():
        t.grad = None

    # the transfers for the fit, in normalised-flux space
    def internal(f):
        x = (f - mean) / std
        if mode == "pad":
            return F.pad(x, (off, N - n_pix - off))
        return x[:, off:off + N]

    def external(x, passthru):
        f = x * std + mean
        if mode == "pad":
            return f[:, off:off + n_pix]
        return torch.cat([passthru[:, :off], f, passthru[:, off + N:]], 1)

    star = torch.nan_to_num(flux_o, nan=mean)  # the stars whose split codes are held fixed
    with torch.no_grad():
        z_sp = R(b["esp"], R(b["eobs"], internal(star).unsqueeze(1)))
    res["t_z_sp"] = z_sp
    fs = flux_s.clone().requires_grad_(True)
    zs_ = R(b["esh"], R(b["esyn"], internal(fs).unsqueeze(1)))
    xo_ = R(b["gobs"], torch.cat([R(b["dsh"], zs_), R(b["dsp"], z_sp)], 1)).squeeze(1)
    out = external(xo_, fs)
    (out * v).sum().backward()
    res["t_s2o"], res["t_s2o_vjp"] = out, fs.grad
    fo = star.clone().requires_grad_(True)
    xs_ = R(b["gsyn"], R(b["dsh"], R(b["esh"], R(b["eobs"], internal(fo).unsqueeze(1)))))
    out2 = external(xs_.squeeze(1), fo)
    (out2 * v).sum().backward()
    res["t_o2s"], res["t_o2s_vjp"] = out2, fo.grad
    res["t_star"] = star
    return res


def deviation(got, want):
    """nn_check's criterion: max |got - want| / (|want| + 0.01 max|want|)."""
    got, want = got.detach().double().reshape(-1), want.detach().double().reshape(-1)
    scale = want.abs().max().item()
    if scale == 0.0:
        return got.abs().max().item()
    return ((got - want).abs() / (want.abs() + 0.01 * scale)).max().item()


def case(outdir, name, cfg, n_pix, mode, B):
    k = cfg["kernel"]
    sh_str = [s for _, s in cfg["sh"]]
    dom_str = [s for _, s in cfg["dom"]]
    lens = [up_length(up_length(z, sh_str, k), dom_str, k) for z in range(2, 64)]
    if mode == "pad":
        z = next(i + 2 for i, l in enumerate(lens) if l >= n_pix)
    else:
        z = max(i + 2 for i, l in enumerate(lens) if l <= n_pix)
    N = lens[z - 2]
    cfg = dict(cfg, z_len=z)
    off = (N - n_pix) // 2 if mode == "pad" else (n_pix - N) // 2
    net = Net(cfg, N)

    # inputs: normalised flux, observed errors with masked pixels and a NaN flux
    inp = {}
    inp["flux_s"] = f32(B, n_pix, lo=0.75, hi=1.05)
    inp["flux_o"] = f32(B, n_pix, lo=0.75, hi=1.05)
    inp["err_o"] = f32(B, n_pix, lo=0.002, hi=0.05)
    inp["err_o"][0, 5] = 0.0           # no weight
    inp["err_o"][1, 7] = float("inf")  # no weight
    inp["flux_o"][2 % B, 11] = float("nan")
    inp["v"] = f32(B, n_pix)

    res = compute(net, cfg, net.p, inp, torch.float64, n_pix, N, off, mode, B)
    # How exact can float32 be here? The deviation of PyTorch's own float32 run, and of
    # float64 runs whose weights and inputs are perturbed at float32's rounding level
    # (relative 2^-24): the cycles chain ~24 layers and amplify rounding to ~1e-4.
    dev = {}
    p32 = {k_: t.detach().float().requires_grad_(True) for k_, t in net.p.items()}
    r = compute(net, cfg, p32, inp, torch.float32, n_pix, N, off, mode, B)
    for key in res:
        dev[key] = deviation(r[key], res[key])
    gen = torch.Generator().manual_seed(7)
    for trial in range(4):
        def jiggle(t):
            return t.detach() * (1.0 + 2.0 ** -24 * torch.randn(t.shape, generator=gen))
        pp = {k_: jiggle(t).requires_grad_(True) for k_, t in net.p.items()}
        ii = {k_: jiggle(t) if k_ != "v" else t for k_, t in inp.items()}
        r = compute(net, cfg, pp, ii, torch.float64, n_pix, N, off, mode, B)
        for key in res:
            dev[key] = max(dev[key], deviation(r[key], res[key]))

    w = Writer(os.path.join(outdir, name + ".txt"),
               "tiny Cycle-StarNet, %s mode, n_pix %d -> %d, latent %d, batch %d; dev.<x>: largest "
               "deviation of float32 PyTorch or float32-rounding-perturbed runs from x" %
               (mode, n_pix, N, z, B))
    w.put("dims", [n_pix, N, z, B, off, 1 if mode == "crop" else 0])
    for key in ("mean", "std", "err_floor", "synth_err", "slope", "lambda_s", "lambda_o",
                "lambda_a", "lambda_d"):
        w.put("cfg_" + key, [cfg[key]])
    for pname in net.order:
        w.put("p." + pname, net.p[pname])
    w.put("flux_s", inp["flux_s"])
    w.put("flux_o", torch.nan_to_num(inp["flux_o"], nan=-9999.0))
    w.put("err_o", torch.nan_to_num(inp["err_o"], posinf=-1.0))
    w.put("t_v", inp["v"])
    for key, t in res.items():
        w.put(key, t)
        w.put("dev." + key, [dev[key]])
    w.close()


TINY = dict(dom=[(3, 2), (4, 2)], sh=[(5, 2), (6, 2), (6, 2)], sp=[(3, 2), (3, 2), (2, 2)],
            kernel=3, z_sh=3, z_sp=2, dis_x=[(2, 2), (3, 2)], dis_kernel=3, dis_z=[3, 4],
            slope=0.1, mean=float(np.float32(0.9)), std=float(np.float32(0.08)), err_floor=0.005, synth_err=0.005,
            lambda_s=3.0, lambda_o=9.0, lambda_a=1.0, lambda_d=1.0, gain=2.0, dis_gain=0.3)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "fixtures", "csn")
    os.makedirs(out, exist_ok=True)
    case(out, "tiny_pad", TINY, 180, "pad", 3)
    case(out, "tiny_crop", dict(TINY, dom=[(3, 2), (4, 1)], kernel=5, lambda_a=0.5), 140, "crop", 2)


if __name__ == "__main__":
    main()
