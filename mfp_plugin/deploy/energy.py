"""Energy per image under the common 45 nm convention (a convention, not a measurement).

Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC
2014: in 45 nm at 0.9 V a 32-bit float add costs about 0.9 pJ and a 32-bit
float multiply about 3.7 pJ, so SNN papers charge **0.9 pJ per accumulate
(AC)** and **4.6 pJ per multiply-accumulate (MAC)**. The same table puts an
8-bit integer add at 0.03 pJ and a 32-bit one at 0.1 pJ, so an integer engine
would cost far less than either figure; the convention only makes SNN and
ANN numbers comparable with the literature. Memory access, which dominates
real hardware, is not in it. Both constants are parameters.
"""
from __future__ import annotations

from typing import Dict, Iterable

__all__ = ["E_AC_PJ", "E_MAC_PJ", "energy_per_image", "CONVENTION"]

E_AC_PJ = 0.9
E_MAC_PJ = 4.6
CONVENTION = ("45 nm convention (Horowitz, ISSCC 2014): E_AC per accumulate, E_MAC per multiply-accumulate, "
              "32-bit float figures; a convention for comparison, not a hardware estimate; memory access excluded")


def energy_per_image(layers: Iterable[dict], e_ac: float = E_AC_PJ, e_mac: float = E_MAC_PJ) -> Dict[str, float]:
    """``{snn, ann, ratio, e_ac_pj, e_mac_pj}`` in pJ from per-layer ``synops``, ``snn_macs``, ``macs``.

    SNN: ``e_ac * synops + e_mac * snn_macs`` (the first layer's MACs on the
    analog input); ANN: ``e_mac * macs``.

    >>> energy_per_image([dict(synops=10, snn_macs=1, macs=5)])
    {'snn': 13.6, 'ann': 23.0, 'ratio': 1.6911764705882353, 'e_ac_pj': 0.9, 'e_mac_pj': 4.6}
    """
    for name, v in (("e_ac", e_ac), ("e_mac", e_mac)):
        if not float(v) >= 0:
            raise ValueError(f"{name} must be a non-negative energy in pJ, got {v!r}")
    layers = list(layers)
    snn = sum(float(e_ac) * l["synops"] + float(e_mac) * l["snn_macs"] for l in layers)
    ann = sum(float(e_mac) * l["macs"] for l in layers)
    return dict(snn=snn, ann=ann, ratio=(ann / snn) if snn > 0 else float("inf"),
                e_ac_pj=float(e_ac), e_mac_pj=float(e_mac))
