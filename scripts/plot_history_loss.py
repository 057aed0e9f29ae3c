"""Plot P4, historical-information loss: QLIF's stored b-bit membrane against MF's transient potential.

Synthetic (one neuron, weak constant-plus-noise input, beta = 0.9, theta = 1, b = 2):

    python scripts/plot_history_loss.py --out docs/img/history_loss_synthetic.png

On one layer of a trained network (the input current X that the trained
layer receives for one bundled Fashion-MNIST test image, fed to both neuron
models with the layer's own tau and threshold):

    python scripts/plot_history_loss.py --checkpoint model_zoo/weights/<file>.safetensors \\
        --model mf_vgg_small --layer features.5 --out docs/img/history_loss_trained.png

Trained mode draws three panels:

* one neuron (the one with the largest number of steps where QLIF's stored
  membrane is 0 while the exact potential is positive: history that the
  2-bit state erased): X[t], the exact potential H[t] (MF, never stored), MF's
  transient Q_b(H[t]), QLIF's stored Q_b(U[t]), and both neurons' spikes;
* over every neuron of the layer, per step: the fraction whose stored QLIF
  state is 0 although its float-membrane LIF twin (same input, same reset
  rule) holds a positive potential -- input history the 2-bit state erased;
* the mean absolute gap to the float reference per step: QLIF |Q_b(U_q[t]) -
  U_fp[t]| against MF |Q_b(H[t]) - H[t]| (at most Delta/2 while H is inside
  the code range; Q_b saturates above its top level, for both neurons).
"""
from __future__ import annotations

import argparse
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import mfp_plugin as mfp  # noqa: E402


def synthetic(args) -> None:
    torch.manual_seed(0)
    x = (0.08 + 0.04 * torch.randn(args.T or 32, 1)).double()
    T = x.shape[0]
    qlif = mfp.QLIFNode(tau=10.0, membrane_bits=args.bits, store_v_seq=True).double()
    mf = mfp.MFNode(tau=10.0, membrane_bits=args.bits, store_v_seq=True).double()
    s_q, s_m = qlif(x).flatten(), mf(x).flatten()
    t = torch.arange(T)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(t, mf.h_seq.flatten(), color="0.6", lw=1, label="exact history H[t] (MF, never stored)")
    ax.step(t, mf.v_seq.flatten(), where="mid", color="C0", label=f"MF transient Q_{args.bits}(H[t])")
    ax.step(t, qlif.v_seq.flatten(), where="mid", color="C3", label=f"QLIF stored membrane Q_{args.bits}(U[t])")
    ax.scatter(t[s_m > 0], torch.full_like(t[s_m > 0], 1.15, dtype=torch.float), marker="|", color="C0", s=80,
               label="MF spikes")
    ax.scatter(t[s_q > 0], torch.full_like(t[s_q > 0], 1.25, dtype=torch.float), marker="|", color="C3", s=80,
               label="QLIF spikes")
    ax.axhline(1.0, ls=":", color="k", lw=0.8)
    ax.set_xlabel("time step t")
    ax.set_ylabel("potential")
    ax.set_title(f"Loss of historical information: {args.bits}-bit membrane, beta = 0.9")
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"MF spikes {int(s_m.sum())}, QLIF spikes {int(s_q.sum())}; wrote {args.out}")


def capture_layer_input(model: torch.nn.Module, layer: str, image: torch.Tensor) -> tuple[torch.Tensor, torch.nn.Module]:
    """The ``[T, 1, ...]`` input current that neuron module ``layer`` receives for ``image`` (``[1, C, H, W]``)."""
    modules = dict(model.named_modules())
    neurons = [n for n, m in modules.items() if hasattr(m, "v_threshold") and hasattr(m, "step_mode")]
    if layer not in neurons:
        raise SystemExit(f"error: {layer!r} is not a neuron layer of the model; neuron layers: {', '.join(neurons)}")
    node = modules[layer]
    seen = []
    handle = node.register_forward_pre_hook(lambda m, inp: seen.append(inp[0].detach().clone()))
    try:
        from mfp_plugin import reset_states

        reset_states(model)
        with torch.no_grad():
            model.eval()(image)
    finally:
        handle.remove()
    if len(seen) != 1 or seen[0].dim() < 3:
        raise SystemExit(f"error: {layer} did not receive one multi-step [T, B, ...] input")
    return seen[0], node


def layer_dynamics(x: torch.Tensor, tau: float, theta: float, bits: int) -> dict:
    """Run the same ``[T, N]`` input through MF (exact and transient Q_b), QLIF (stored Q_b) and a float LIF."""
    x = x.double()
    mf = mfp.MFNode(tau=tau, v_threshold=theta, membrane_bits=bits, store_v_seq=True).double()
    qlif = mfp.QLIFNode(tau=tau, v_threshold=theta, membrane_bits=bits, store_v_seq=True).double()
    s_mf, s_q = mf(x), qlif(x)
    # Float-membrane LIF twin of QLIF: same charge / fire / hard-reset rule, nothing rounded.
    beta = 1.0 - 1.0 / tau
    u = torch.zeros_like(x[0])
    u_fp, s_fp = [], []
    for t in range(x.shape[0]):
        h = beta * u + x[t]
        s = (h >= theta).to(x.dtype)
        u = h * (1 - s)
        u_fp.append(u)
        s_fp.append(s)
    return dict(x=x, h=mf.h_seq, h_tilde=mf.v_seq, s_mf=s_mf, u_q=qlif.v_seq, s_q=s_q,
                u_fp=torch.stack(u_fp), s_fp=torch.stack(s_fp), delta=theta / (2 ** (bits - 1) - 1))


def trained(args) -> None:
    import model_zoo
    from mfp_plugin.data import get_dataset

    model = model_zoo.create_model(args.model, pretrained=args.checkpoint, **({"T": args.T} if args.T else {}))
    ds = get_dataset("fmnist-bundled", "test", cfg=model.pretrained_cfg)
    image, label = ds[args.image_index]
    x, node = capture_layer_input(model, args.layer, image.unsqueeze(0))
    T = x.shape[0]
    tau = float(getattr(node, "tau", 2.0))
    theta = float(getattr(node, "v_threshold", 1.0))
    d = layer_dynamics(x.reshape(T, -1), tau, theta, args.bits)

    erased = ((d["u_q"] == 0) & (d["u_fp"] > 0)).double()         # [T, N]
    k = int(erased.sum(0).argmax())
    frac_erased = erased.mean(1)
    gap_q = (d["u_q"] - d["u_fp"]).abs().mean(1)
    gap_mf = (d["h_tilde"] - d["h"]).abs().mean(1)
    t = torch.arange(T)

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    ax = axes[0]
    ax.bar(t.numpy(), d["x"][:, k].numpy(), color="0.85", label="input current X[t]")
    ax.plot(t, d["h"][:, k], color="0.4", lw=1, marker=".", label="exact H[t] (MF, never stored)")
    ax.step(t, d["h_tilde"][:, k], where="mid", color="C0", label=f"MF transient Q_{args.bits}(H[t])")
    ax.step(t, d["u_q"][:, k], where="mid", color="C3", label=f"QLIF stored Q_{args.bits}(U[t])")
    top = float(max(d["h"][:, k].max(), theta)) * 1.1
    for s, y, c, name in ((d["s_mf"][:, k], 1.04, "C0", "MF spikes"), (d["s_q"][:, k], 1.09, "C3", "QLIF spikes")):
        on = t[s > 0]
        ax.scatter(on, torch.full((len(on),), y * top), marker="|", color=c, s=80, label=name)
    ax.axhline(theta, ls=":", color="k", lw=0.8)
    ax.set_title(f"one neuron of {args.layer} (#{k})", fontsize=9)
    ax.set_xlabel("time step t")
    ax.legend(fontsize=7)
    axes[1].plot(t, 100 * frac_erased, color="C3", marker="o")
    axes[1].set_title(f"QLIF {args.bits}-bit: % of neurons whose stored state is 0\n"
                      "while the float-membrane twin holds a positive potential", fontsize=9)
    axes[1].set_xlabel("time step t")
    axes[1].set_ylabel("% of the layer's neurons")
    axes[2].plot(t, gap_q, color="C3", marker="o", label=f"QLIF |Q_{args.bits}(U_q) - U_fp|")
    axes[2].plot(t, gap_mf, color="C0", marker="^", label=f"MF |Q_{args.bits}(H) - H|")
    axes[2].axhline(d["delta"] / 2, ls=":", color="C0", lw=0.8, label="Delta/2 (MF bound inside the code range)")
    axes[2].set_title("mean gap to the float-membrane reference\n(includes saturation above the top code)",
                      fontsize=9)
    for a in axes:
        a.set_xticks(t.tolist())
    axes[2].set_xlabel("time step t")
    axes[2].legend(fontsize=7)
    fig.suptitle(f"{args.model} ({args.checkpoint.split('/')[-1]}), {args.layer}, {x[0].numel()} neurons, "
                 f"test image {args.image_index} (label {label}), tau={tau:g}, theta={theta:g}", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"layer {args.layer}: {x[0].numel()} neurons, T={T}; erased by QLIF per step (%): "
          + ", ".join(f"{100 * v:.1f}" for v in frac_erased)
          + f"; mean gap QLIF {gap_q.mean():.3f} vs MF {gap_mf.mean():.3f}; spikes MF {int(d['s_mf'].sum())}, "
          f"QLIF {int(d['s_q'].sum())}, float LIF {int(d['s_fp'].sum())}; wrote {args.out}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=None, help="PNG path [docs/img/history_loss_{synthetic,trained}.png]")
    ap.add_argument("--T", type=int, default=None, help="time steps [synthetic 32; trained: the model's]")
    ap.add_argument("--bits", type=int, default=2, help="membrane bits of both neurons [2]")
    ap.add_argument("--checkpoint", default=None, help="trained weights (safetensors): trained mode")
    ap.add_argument("--model", default="mf_vgg_small", help="zoo architecture of --checkpoint")
    ap.add_argument("--layer", default="features.5", help="neuron module whose input current is used")
    ap.add_argument("--image-index", type=int, default=0, help="index into the bundled test subset")
    args = ap.parse_args(argv)
    if args.bits < 2:
        raise SystemExit("error: --bits must be >= 2")
    if args.checkpoint is None:
        args.out = args.out or "docs/img/history_loss_synthetic.png"
        synthetic(args)
    else:
        args.out = args.out or "docs/img/history_loss_trained.png"
        trained(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
