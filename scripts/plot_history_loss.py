"""Plot P4: QLIF's stored 2-bit membrane forgets, MF's transient potential does not.

    python scripts/plot_history_loss.py --out docs/img/history_loss_synthetic.png

One neuron, a weak constant-plus-noise input, beta = 0.9 (tau = 10), theta = 1, b = 2.
"""
import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import mfp_plugin as mfp  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="docs/img/history_loss_synthetic.png")
    ap.add_argument("--T", type=int, default=32)
    ap.add_argument("--bits", type=int, default=2)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    x = (0.08 + 0.04 * torch.randn(args.T, 1)).double()
    qlif = mfp.QLIFNode(tau=10.0, membrane_bits=args.bits, store_v_seq=True).double()
    mf = mfp.MFNode(tau=10.0, membrane_bits=args.bits, store_v_seq=True).double()
    s_q, s_m = qlif(x).flatten(), mf(x).flatten()
    t = torch.arange(args.T)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(t, mf.h_seq.flatten(), color="0.6", lw=1, label="exact history H[t] (MF, never stored)")
    ax.step(t, mf.v_seq.flatten(), where="mid", color="C0", label=f"MF transient Q_{args.bits}(H[t])")
    ax.step(t, qlif.v_seq.flatten(), where="mid", color="C3", label=f"QLIF stored membrane Q_{args.bits}(U[t])")
    ax.scatter(t[s_m > 0], torch.full_like(t[s_m > 0], 1.15, dtype=torch.float), marker="|", color="C0", s=80, label="MF spikes")
    ax.scatter(t[s_q > 0], torch.full_like(t[s_q > 0], 1.25, dtype=torch.float), marker="|", color="C3", s=80, label="QLIF spikes")
    ax.axhline(1.0, ls=":", color="k", lw=0.8)
    ax.set_xlabel("time step t")
    ax.set_ylabel("potential")
    ax.set_title(f"Loss of historical information: {args.bits}-bit membrane, beta = 0.9")
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"MF spikes {int(s_m.sum())}, QLIF spikes {int(s_q.sum())}; wrote {args.out}")


if __name__ == "__main__":
    main()
