r"""Vanilla QSNN neuron (``QLIFNode``): the functional core (docs/method.md, "Baseline").

The quantized-membrane LIF that MFP-QSNN improves on:

.. math::
    H[t] &= \beta\, \hat U[t-1] + X[t], \qquad \hat U[0] = 0 \\
    S[t] &= \Theta(H[t] - \theta) \\
    U[t] &= H[t](1 - S[t]) + V_{reset} S[t] \quad\text{(hard)}, \qquad H[t] - \theta S[t] \quad\text{(soft)} \\
    \hat U[t] &= Q_b(U[t]) \quad\text{(stored between steps at b bits)}

:math:`Q_b` sits inside the recurrence, so each step's rounding error is fed
back and residues smaller than :math:`\Delta/2` are erased: the loss of
historical information that the memory-free neuron avoids. The multi-step
form is a Python loop over T by nature (each step needs the quantized state
of the previous one).
"""
from __future__ import annotations

import torch

from .membrane import quantize_membrane
from .surrogate import resolve_surrogate, spike


def qlif_single_step(
    x: torch.Tensor,
    u_hat: torch.Tensor | None,
    beta: float,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    membrane_bits: int = 2,
    surrogate=None,
    detach_reset: bool = False,
):
    """One step of the vanilla QSNN neuron.

    :param u_hat: the stored quantized membrane :math:`\\hat U[t-1]` (``None`` = 0)
    :return: ``(spike, u_hat_new, h)``
    """
    h = x if u_hat is None else beta * u_hat + x
    s = spike(h - v_threshold, surrogate)
    s_r = s.detach() if detach_reset else s
    if v_reset is None:
        u = h - v_threshold * s_r
    else:
        u = h * (1.0 - s_r) + v_reset * s_r
    return s, quantize_membrane(u, v_threshold, membrane_bits), h


def qlif_multi_step(
    x_seq: torch.Tensor,
    u_hat: torch.Tensor | None,
    beta: float,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    membrane_bits: int = 2,
    surrogate=None,
    detach_reset: bool = False,
    return_potential: bool = False,
):
    """T steps of the vanilla QSNN neuron (a loop over t: the recurrence needs it).

    :return: ``(spikes, u_hat_last)`` or, with ``return_potential``,
        ``(spikes, u_hat_last, u_hat_seq, h_seq)``
    """
    surrogate = resolve_surrogate(surrogate)
    spikes, u_seq, h_seq = [], [], []
    # unbind, not x_seq[t]: indexing's backward would allocate a full [T, ...] zero tensor per step.
    for x_t in x_seq.unbind(0):
        s, u_hat, h = qlif_single_step(
            x_t, u_hat, beta, v_threshold, v_reset, membrane_bits, surrogate, detach_reset
        )
        spikes.append(s)
        if return_potential:
            u_seq.append(u_hat.detach())
            h_seq.append(h.detach())
    out = torch.stack(spikes)
    if return_potential:
        return out, u_hat, torch.stack(u_seq), torch.stack(h_seq)
    return out, u_hat
