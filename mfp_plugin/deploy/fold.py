r"""Folding scales, BatchNorm, bias and the neuron into integer thresholds (pure functions).

A weight layer with integer codes :math:`W` and per-channel scale :math:`s_c`
sees an integer input :math:`x` (spikes, pooled spike counts, or the
fixed-point image) whose real value is :math:`\sigma x` (``in_scale``
:math:`\sigma`: 1 for spikes, :math:`1/k^2` after a k x k average pool,
:math:`2^{-f}` for the fixed-point image). With eval-mode BatchNorm
:math:`a_c = \gamma_c/\sqrt{v_c+\epsilon}` the neuron's input current is

.. math::
    X_c[t] = \kappa_c A_c[t] + d_c, \quad A = W \circledast x \in \mathbb{Z}, \quad
    \kappa_c = a_c s_c \sigma, \quad d_c = a_c (b_c - \mu_c) + \beta^{BN}_c

and the MF potential is :math:`H[t] = \kappa G[t] + d\,c_t` with the integer
history :math:`G[t] = \sum_{i \le t} \beta^{t-i} A[i]` and the constant
:math:`c_t = \sum_{j=0}^{t} \beta^j`. The neuron fires iff
:math:`H[t] \ge \theta'` (:math:`\theta' = \theta - \Delta/2` with a transient
b-bit quantizer, see ``functional.firing_threshold``). The engine holds
:math:`\mathrm{acc}[t] = 2^F G[t]` (an integer), so with
:math:`\mathrm{sgn}_c = \mathrm{sign}(\kappa_c)`:

.. math::
    S_c[t] = [\mathrm{sgn}_c \cdot \mathrm{acc}_c[t] \ge \vartheta_c[t]], \qquad
    \vartheta_c[t] = \lceil 2^F (\theta' - d_c c_t) / |\kappa_c| \rceil

For :math:`\kappa_c < 0` (a negative BN :math:`\gamma`, or a negative scale)
:math:`\kappa G \ge r \iff G \le r/\kappa \iff -G \ge -r/\kappa`: the
comparison flips, which ``sgn`` does. :math:`\kappa_c = 0` makes the neuron's
output independent of its input: it always or never fires at step t, encoded
as a threshold just outside the reachable range.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Optional, Tuple

import torch
from torch import nn

__all__ = ["channel_affine", "geometric_sums", "integer_thresholds", "static_thresholds",
           "readout_integers", "per_channel"]


def per_channel(scale: torch.Tensor, channels: int) -> torch.Tensor:
    """An exported weight scale (scalar, ``[1, ...]`` or ``[C, 1, ...]``) as float64 ``[C]``."""
    s = scale.detach().double().reshape(-1)
    if s.numel() == 1:
        return s.expand(channels).clone()
    if s.numel() != channels:
        raise ValueError(f"weight scale has {s.numel()} values for {channels} output channels")
    return s


def channel_affine(scale: torch.Tensor, bias: Optional[torch.Tensor], bn: Optional[nn.Module],
                   in_scale: float = 1.0, channels: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""``(kappa, d)`` in float64: the current is ``kappa_c * A_c + d_c`` (see the module docstring).

    >>> bn = nn.BatchNorm1d(2, eps=0.0).eval()     # eps = 0 keeps the doctest exact
    >>> with torch.no_grad():
    ...     _ = bn.weight.copy_(torch.tensor([2.0, -1.0])); _ = bn.running_var.fill_(4.0)
    >>> k, d = channel_affine(torch.tensor(0.5), None, bn)
    >>> k.tolist(), d.tolist()
    ([0.5, -0.25], [0.0, 0.0])
    """
    if channels is None:
        channels = bn.num_features if bn is not None else bias.numel() if bias is not None else scale.numel()
    C = int(channels)
    if bn is not None and bn.num_features != C:
        raise ValueError(f"BatchNorm has {bn.num_features} features for a layer with {C} output channels")
    s = per_channel(scale, C)
    b = torch.zeros(C, dtype=torch.float64) if bias is None else bias.detach().double().reshape(-1)
    if bn is None:
        return s * float(in_scale), b
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("BatchNorm without running statistics (track_running_stats=False) normalises "
                         "with batch statistics at inference; it has no fixed integer form")
    mean, var = bn.running_mean.detach().double(), bn.running_var.detach().double()
    gamma = bn.weight.detach().double() if bn.weight is not None else torch.ones(C, dtype=torch.float64)
    beta = bn.bias.detach().double() if bn.bias is not None else torch.zeros(C, dtype=torch.float64)
    a = gamma / torch.sqrt(var + float(bn.eps))
    return a * s * float(in_scale), a * (b - mean) + beta


def geometric_sums(beta: float, T: int) -> torch.Tensor:
    r""":math:`c_t = \sum_{j=0}^{t} \beta^j`, ``t = 0..T-1`` (float64).

    >>> geometric_sums(0.5, 4).tolist()
    [1.0, 1.5, 1.75, 1.875]
    """
    c, out = 0.0, []
    for _ in range(T):
        c = c * float(beta) + 1.0
        out.append(c)
    return torch.tensor(out, dtype=torch.float64)


def _exact_c(beta: float, T: int):
    """``c_t`` as exact fractions of the float ``beta``."""
    b, c, out = Fraction(float(beta)), Fraction(0), []
    for _ in range(T):
        c = c * b + 1
        out.append(c)
    return out


def _thresholds(kappa: torch.Tensor, num_of, T: int, bound: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """``ceil(num / |kappa|)`` per (t, c), clamped to [-bound-1, bound+1], in exact rational arithmetic.

    ``num_of(t, c)`` is the exact numerator; ``kappa == 0``: the neuron's input
    does not matter and it fires iff ``num <= 0`` (always / never).
    """
    sign = torch.where(kappa < 0, -1, 1).to(torch.int32)
    ks = [Fraction(abs(float(k))) for k in kappa.tolist()]
    thr = torch.empty(T, len(ks), dtype=torch.int64)
    for t in range(T):
        for c, k in enumerate(ks):
            num = num_of(t, c)
            if k == 0:
                v = -bound - 1 if num <= 0 else bound + 1
            else:
                v = min(max(math.ceil(num / k), -bound - 1), bound + 1)
            thr[t, c] = v
    return sign, thr


def integer_thresholds(kappa: torch.Tensor, d: torch.Tensor, theta_fire: float, beta: float, T: int,
                       frac_bits: int, bound: int) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""``(sgn int32 [C], thr int64 [T, C])``: fire iff ``sgn * acc >= thr`` with ``acc = 2^F G``.

    ``bound`` is a proven ``max |acc|``: thresholds beyond it are clamped (they
    are never / always met either way). The ceilings are taken in exact
    rational arithmetic on the float64 ``kappa``, ``d``, ``theta_fire`` and
    ``beta``, so no float rounding moves a threshold by one.

    >>> sgn, thr = integer_thresholds(torch.tensor([0.25, -0.25]), torch.zeros(2), 0.5, 0.5, 2, 1, 100)
    >>> sgn.tolist(), thr.tolist()          # 0.25 G >= 0.5  <=>  2G >= 4;  -0.25 G >= 0.5  <=>  -2G >= 4
    ([1, -1], [[4, 4], [4, 4]])
    """
    c, th, ds = _exact_c(beta, T), Fraction(float(theta_fire)), [Fraction(float(v)) for v in d.tolist()]
    scale = Fraction(2) ** int(frac_bits)
    return _thresholds(kappa, lambda t, ch: (th - ds[ch] * c[t]) * scale, T, bound)


def static_thresholds(kappa: torch.Tensor, d: torch.Tensor, theta_fire: float, beta: float, T: int,
                      bound: int) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""Thresholds on the MAC ``A`` itself when the input is the same at every step.

    Direct encoding repeats the image, so ``A[t] = A`` and
    :math:`H[t] = c_t (\kappa A + d)`: fire iff
    :math:`\mathrm{sgn} A \ge \lceil (\theta'/c_t - d)/|\kappa| \rceil`. No
    accumulator is needed; only the step index changes the threshold.

    >>> sgn, thr = static_thresholds(torch.tensor([1.0]), torch.zeros(1), 1.5, 0.5, 3, 100)
    >>> thr.flatten().tolist()            # A >= 1.5, 1.0, 0.857...
    [2, 1, 1]
    """
    c, th, ds = _exact_c(beta, T), Fraction(float(theta_fire)), [Fraction(float(v)) for v in d.tolist()]
    return _thresholds(kappa, lambda t, ch: th / c[t] - ds[ch], T, bound)


def readout_integers(kappa: torch.Tensor, d: torch.Tensor, T: int,
                     bits: int) -> Tuple[torch.Tensor, torch.Tensor, float]:
    r"""``(M int64 [C], B int64 [C], unit)`` for the integer readout ``L_c = M_c * sum_t A_c[t] + B_c``.

    The float logits are ``mean_t(kappa_c A_c[t] + d_c)``;
    ``M_c = round(2^bits kappa_c / max|kappa|)`` and
    ``B_c = round(2^bits T d_c / max|kappa|)``, so ``L_c * unit`` with
    ``unit = max|kappa| / (2^bits T)`` approximates them (exactly when all
    ``kappa_c`` are equal, i.e. a per-tensor scale and no BN, up to the bias
    rounding of ``2^-bits`` of one accumulate).

    >>> M, B, unit = readout_integers(torch.tensor([0.5, 0.5]), torch.tensor([0.25, 0.0]), 2, 4)
    >>> M.tolist(), B.tolist(), unit
    ([16, 16], [16, 0], 0.015625)
    """
    top = float(kappa.abs().max()) if kappa.numel() else 0.0
    if not top > 0 or not math.isfinite(top):
        raise ValueError("the readout layer's effective scale is zero or not finite everywhere")
    M = torch.round(kappa / top * 2.0 ** bits).to(torch.int64)
    B = torch.round(d / top * 2.0 ** bits * T).to(torch.int64)
    return M, B, top / (2.0 ** bits * T)


def residual_ratio(kappa: torch.Tensor, rho: torch.Tensor, k: int = 16
                   ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(p, r, unit)``: two integer currents of real scales ``kappa_c`` and ``rho_c`` in one unit.

    ``kappa_c A + rho_c S ~= unit_c (p_c A + r_c S)`` with ``p_c = 2^k``,
    ``r_c = round(2^k rho_c / kappa_c)``, ``unit_c = kappa_c / 2^k`` (the main
    branch's unit, sign included: the fold's per-channel sign handles a
    negative one). Where ``kappa_c = 0`` the shortcut's unit is used:
    ``p_c = 0``, ``r_c = 2^k``, ``unit_c = rho_c / 2^k`` (exact). The only
    rounding is ``r_c``'s, at most ``2^-(k+1)`` of ``kappa_c`` per unit of ``S``.

    >>> p, r, u = residual_ratio(torch.tensor([0.5, -2.0, 0.0]), torch.tensor([1.0, 1.0, 3.0]), k=4)
    >>> p.tolist(), r.tolist(), (u * 16).tolist()
    ([16, 16, 0], [32, -8, 16], [0.5, -2.0, 3.0])
    """
    kappa, rho = kappa.to(torch.float64), rho.to(torch.float64)
    one = 2 ** int(k)
    zero = kappa == 0
    safe = torch.where(zero, torch.ones_like(kappa), kappa)
    p = torch.where(zero, torch.zeros_like(kappa), torch.full_like(kappa, one)).to(torch.int64)
    r = torch.where(zero, torch.full_like(kappa, one), torch.round(one * rho / safe)).to(torch.int64)
    unit = torch.where(zero, rho, kappa) / one
    return p, r, unit
