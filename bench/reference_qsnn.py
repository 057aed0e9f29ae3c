r"""The vanilla QSNN neuron as a plain torch loop, written independently of ``mfp_plugin``.

Per step t (hard reset to 0, beta = 1 - 1/tau):

.. math::
    H[t] = \beta \hat U[t-1] + X[t], \quad \hat U[-1] = 0 \\
    S[t] = \Theta(H[t] - \theta) \quad\text{(arctan surrogate in backward)} \\
    U[t] = H[t] (1 - S[t]) \\
    \hat U[t] = Q_b(U[t]) = \Delta\,\mathrm{clamp}(\lfloor U/\Delta + 1/2 \rfloor, -2^{b-1}, 2^{b-1}-1),
    \quad \Delta = \theta / (2^{b-1} - 1)

with a straight-through estimator through the rounding (the clamp keeps its
gradient mask). It is the baseline the MF neuron is timed against: a Python
loop over T whose autograd graph keeps several ``N``-sized tensors per step.
Nothing here imports ``mfp_plugin``.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn


class ArctanSpike(torch.autograd.Function):
    r"""Heaviside forward, :math:`\frac{\alpha/2}{1 + (\frac{\pi}{2}\alpha x)^2}` backward (SpikingJelly's ATan)."""

    @staticmethod
    def forward(ctx, x, alpha: float = 2.0):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        a = ctx.alpha
        sg = (a / 2) / (1 + (math.pi / 2 * a * x) ** 2)
        return grad * sg, None


def quantize_ste(u: torch.Tensor, theta: float = 1.0, bits: int = 2) -> torch.Tensor:
    """``Q_b(u)`` forward; straight-through (clamp-masked identity) backward."""
    delta = theta / (2 ** (bits - 1) - 1)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    clamped = torch.clamp(u, lo * delta, hi * delta)
    with torch.no_grad():
        q = torch.clamp(torch.floor(u / delta + 0.5), lo, hi) * delta
    return clamped + (q - clamped).detach()


def vanilla_qsnn(x_seq: torch.Tensor, tau: float = 2.0, theta: float = 1.0, bits: int = 2,
                 alpha: float = 2.0) -> torch.Tensor:
    """Spikes ``[T, ...]`` of the vanilla QSNN neuron for input currents ``x_seq`` ``[T, ...]``."""
    beta = 1.0 - 1.0 / tau
    u_hat = None
    out = []
    # unbind, not x_seq[t]: indexing in a loop makes autograd's SelectBackward
    # materialise a zero [T, N] gradient per step (O(T^2 N)); unbind's backward is one stack.
    for x_t in x_seq.unbind(0):
        h = x_t if u_hat is None else beta * u_hat + x_t
        s = ArctanSpike.apply(h - theta, alpha)
        u = h * (1.0 - s)
        u_hat = quantize_ste(u, theta, bits)
        out.append(s)
    return torch.stack(out)


class VanillaQSNN(nn.Module):
    """Stateless module wrapper (the state lives only within one call)."""

    def __init__(self, tau: float = 2.0, v_threshold: float = 1.0, membrane_bits: int = 2):
        super().__init__()
        self.tau, self.v_threshold, self.membrane_bits = tau, v_threshold, membrane_bits

    def forward(self, x_seq):
        return vanilla_qsnn(x_seq, self.tau, self.v_threshold, self.membrane_bits)

    def extra_repr(self):
        return f"tau={self.tau}, v_threshold={self.v_threshold}, membrane_bits={self.membrane_bits}"
