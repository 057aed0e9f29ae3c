"""Figure of a :func:`~.report.report` dict: firing rates, SynOps vs MACs, state memory."""
from __future__ import annotations

from typing import Optional

__all__ = ["plot_report"]


def plot_report(rep: dict, path: Optional[str] = None):
    """Three panels (labelled axes); saved to ``path`` if given. Returns the matplotlib Figure."""
    import matplotlib
    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    layers = rep["layers"]
    names = [l["name"] for l in layers]
    x = np.arange(len(layers))
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    spiking = [l for l in layers if l.get("firing_rate") is not None]
    xr = np.arange(len(spiking))
    ax[0].bar(xr, [l["firing_rate"] for l in spiking], color="tab:blue")
    ax[0].set_xticks(xr, [l["name"] for l in spiking], rotation=45, ha="right")
    ax[0].set_xlabel("layer")
    ax[0].set_ylabel("firing rate (spikes / neuron / step)")
    ax[0].set_title("firing rate, integer engine")

    w = 0.4
    ax[1].bar(x - w / 2, [l["synops"] + l["snn_macs"] for l in layers], w, label="SNN: SynOps (+ first-layer MACs)")
    ax[1].bar(x + w / 2, [l["macs"] for l in layers], w, label="ANN: MACs")
    ax[1].set_yscale("log")
    ax[1].set_xticks(x, names, rotation=45, ha="right")
    ax[1].set_xlabel("layer")
    ax[1].set_ylabel("operations per image")
    e = rep["energy_pj_per_image"]
    ax[1].set_title(f"SNN {e['snn'] / 1e6:.2f} \u00b5J vs ANN {e['ann'] / 1e6:.2f} \u00b5J per image "
                    f"({e['e_ac_pj']}/{e['e_mac_pj']} pJ)")
    ax[1].legend(fontsize=8, loc="lower center")

    st, qb = rep["memory"]["state_bits"], rep["memory"]["qlif_bits"]
    kinds = [("mf", "MF"), ("qlif", f"QLIF {qb}-bit"), ("float_lif", "float LIF")]
    xs = np.arange(2)
    for i, (k, label) in enumerate(kinds):
        ax[2].bar(xs + (i - 1) * 0.27, [st[s][k] / 8192 for s in ("layer", "stream")], 0.27, label=label)
    ax[2].set_xticks(xs, ["layer schedule", "stream schedule"])
    ax[2].set_xlabel("schedule")
    ax[2].set_ylabel("neuron state between steps (KiB / image)")
    ax[2].set_title("state memory")
    ax[2].legend(fontsize=8)
    fig.suptitle(f"{rep.get('model') or 'model'}: top-1 float {rep['top1_float']:.2f} %, "
                 f"integer {rep['top1_integer']:.2f} % ({rep['n_images']} images)")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
