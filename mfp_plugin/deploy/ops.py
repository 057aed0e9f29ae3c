"""The compiled integer operations of the engine (one class per kind of layer).

Every op maps integer tensors to integer tensors, in two forms:

* ``layer(x)``: all T steps at once, ``[T, B, ...] -> [T, B, ...]`` (the
  layer-asynchronous schedule: nothing per neuron survives the call);
* ``step(x_t, state, t)``: one time step, ``[B, ...] -> [B, ...]`` plus the
  op's state (the streaming schedule: :class:`SpikingLayer`'s accumulator,
  the readout's running sum and :class:`DelayWindow`'s shift register are state).

Spikes are ``uint8`` 0/1; pooled spike counts and the fixed-point image are
int32; accumulators are int32 or int64 (chosen from a proven bound).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from ..functional.window import causal_window
from .mac import IntegerMAC

__all__ = ["Op", "SpikingLayer", "OrPool", "SumPool", "Flatten", "DelayWindow", "Readout", "ResidualBlock"]


def _merge(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(0, 1)


def _split(x: torch.Tensor, T: int) -> torch.Tensor:
    return x.unflatten(0, (T, x.shape[0] // T))


@dataclass
class Op:
    """Common fields: ``name`` (the float model's module name), ``in_shape``/``out_shape``
    (per sample), ``in_bound``/``out_bound`` (largest ``|value|`` in and out)."""

    name: str
    in_shape: Tuple[int, ...] = ()
    out_shape: Tuple[int, ...] = ()
    in_bound: int = 1
    out_bound: int = 1

    kind = "op"

    def init_state(self):
        return None

    def layer(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[0]
        return _split(self._apply(_merge(x)), T)

    def step(self, x: torch.Tensor, state, t: int):
        return self._apply(x), state

    def _apply(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class SpikingLayer(Op):
    """Integer MAC, then the MF neuron as ``acc = decay(acc) + (A << F)``, ``S = [sgn*acc >= thr[t]]``.

    ``decay(acc) = (acc * m) >> q`` (``beta = m / 2^q``; ``beta = 1/2`` is
    ``acc >> 1``). ``static=True`` (the first layer of a direct-encoded
    model): the input is the same every step, the MAC runs once and
    ``S[t] = [sgn*A >= thr[t]]`` (see :func:`~.fold.static_thresholds`).
    """

    mac: Optional[IntegerMAC] = None
    sign: Optional[torch.Tensor] = None           # int32 [C]
    thresholds: Optional[torch.Tensor] = None     # acc dtype [T, C]
    m: int = 1
    q: int = 1
    frac_bits: int = 0
    acc_dtype: torch.dtype = torch.int32
    acc_bound: int = 0
    mac_bound: int = 0
    static: bool = False
    info: Dict[str, Any] = field(default_factory=dict)

    kind = "spiking"

    def _bcast(self, v: torch.Tensor) -> torch.Tensor:
        """``[..., C] -> [..., C, 1, 1]`` for conv maps."""
        extra = len(self.out_shape) - 1
        return v.reshape(v.shape + (1,) * extra)

    def __post_init__(self):
        self._sign = self._bcast(self.sign.to(self.acc_dtype))
        self._thr = self._bcast(self.thresholds.to(self.acc_dtype))   # [T, C, (1, 1)]

    def _decay(self, acc: torch.Tensor) -> torch.Tensor:
        if self.m == 0:
            return torch.zeros_like(acc)
        if self.m == 1:
            return acc >> self.q
        return (acc * self.m) >> self.q

    def _fire(self, acc: torch.Tensor, t: int) -> torch.Tensor:
        return (acc * self._sign >= self._thr[t]).to(torch.uint8)

    def layer(self, x: torch.Tensor) -> torch.Tensor:
        T = self._thr.shape[0]
        if self.static:  # x: [B, ...], the same image at every step
            A = self.mac(x, self.acc_dtype)
            return torch.stack([self._fire(A, t) for t in range(T)])
        return self.integrate(_split(self.mac(_merge(x), self.acc_dtype), x.shape[0]))

    def integrate(self, A: torch.Tensor) -> torch.Tensor:
        """All T steps of the neuron on a given integer current ``A`` ``[T, B, ...]``."""
        T = self._thr.shape[0]
        acc = torch.zeros_like(A[0])
        out = torch.empty(A.shape, dtype=torch.uint8)
        for t in range(T):
            acc = self._decay(acc) + (A[t] << self.frac_bits)
            out[t] = self._fire(acc, t)
        return out

    def step(self, x: torch.Tensor, state, t: int):
        A = self.mac(x, self.acc_dtype)
        if self.static:
            return self._fire(A, t), None
        return self.integrate_step(A, state, t)

    def integrate_step(self, A: torch.Tensor, state, t: int):
        """One step of the neuron on a given integer current ``A`` ``[B, ...]``."""
        acc = A << self.frac_bits if state is None else self._decay(state) + (A << self.frac_bits)
        return self._fire(acc, t), acc


@dataclass
class OrPool(Op):
    """``nn.MaxPool2d`` over spikes: the max of 0/1 values is their OR (integer-exact)."""

    geometry: Dict[str, Any] = field(default_factory=dict)

    kind = "maxpool"

    def _apply(self, x):
        return F.max_pool2d(x, **self.geometry)


@dataclass
class SumPool(Op):
    """Average pooling kept as the integer *sum* of the window; the ``1/divisor`` is
    folded into the next layer's scale (its ``in_scale``)."""

    geometry: Dict[str, Any] = field(default_factory=dict)
    divisor: int = 1

    kind = "sumpool"

    def _apply(self, x):
        # divisor_override=1: the window sum, exact in float32 (integers far below 2^24)
        y = F.avg_pool2d(x.to(torch.float32), divisor_override=1, **self.geometry)
        return y.to(torch.int32)


@dataclass
class Flatten(Op):
    """``nn.Flatten()`` of each sample."""

    kind = "flatten"

    def _apply(self, x):
        return x.flatten(1)


@dataclass
class DelayWindow(Op):
    """:class:`~mfp_plugin.layers.CausalWindow`: ``cat(x[t], x[t-d], ..., x[t-(k-1)d])`` per sample.

    It only moves integers (zeros before the first step), so it is exact.
    Layer by layer it is :func:`~mfp_plugin.functional.causal_window`; step by
    step its state is a shift register of the last ``(k-1)d`` inputs.
    """

    kernel_size: int = 1
    dilation: int = 1

    kind = "window"

    @property
    def history(self) -> int:
        """Past steps the shift register holds: ``(k-1)*d``."""
        return (self.kernel_size - 1) * self.dilation

    def layer(self, x: torch.Tensor) -> torch.Tensor:
        return causal_window(x, self.kernel_size, self.dilation)

    def step(self, x: torch.Tensor, state, t: int):
        past = [] if state is None else state  # oldest first; past[-j] is the input of step t - j
        parts = [x] + [past[-j * self.dilation] if j * self.dilation <= len(past) else torch.zeros_like(x)
                       for j in range(1, self.kernel_size)]
        keep = (past + [x])[-self.history:] if self.history else []
        return torch.cat(parts, dim=-1), keep


@dataclass
class Readout(Op):
    """The last weight layer (no neuron): ``L_c = M_c * sum_t A_c[t] + B_c`` in int64.

    ``logits ~= L * unit`` (see :func:`~.fold.readout_integers`); its argmax is the prediction.
    ``last=True`` (a model with ``readout="last"``): ``L_c = M_c * A_c[T-1] + B_c``, the last step's.
    """

    mac: Optional[IntegerMAC] = None
    M: Optional[torch.Tensor] = None
    B: Optional[torch.Tensor] = None
    unit: float = 1.0
    sum_bound: int = 0
    last: bool = False
    info: Dict[str, Any] = field(default_factory=dict)

    kind = "readout"

    def layer(self, x: torch.Tensor) -> torch.Tensor:
        if self.last:  # only the last step counts: no MAC for the others
            return self.finish(self.mac(x[-1], torch.int64))
        A = _split(self.mac(_merge(x), torch.int64), x.shape[0])
        return self.finish(A.sum(0))

    def step(self, x: torch.Tensor, state, t: int):
        A = self.mac(x, torch.int64)
        return None, (A if state is None or self.last else state + A)

    def finish(self, a_sum: torch.Tensor) -> torch.Tensor:
        """Integer logits from the T-step sum of the MAC (the last step's MAC with ``last``)."""
        return a_sum * self.M + self.B


@dataclass
class ResidualBlock(Op):
    """A spiking basic block ``sn2(bn2(conv2(sn1(bn1(conv1(x))))) + shortcut(x))`` on integers.

    ``first`` is ``conv1 + bn1 + sn1`` (a :class:`SpikingLayer`). The second
    neuron's current is ``kappa2_c A_c + rho_c S_c + d``, ``A = conv2 MAC`` on
    the first layer's spikes, ``S`` the shortcut's integer (the input spikes
    themselves, or the ``shortcut`` MAC of a 1x1 downsample conv). Both are
    brought to one integer in the same unit: ``A' = p_c A_c + r_c S_c`` with
    ``p_c = 2^k`` and ``r_c = round(2^k rho_c / kappa2_c)`` (``p_c = 0``,
    ``r_c = 2^k`` where ``kappa2_c = 0``); ``second`` is the neuron on ``A'``
    (its MAC is conv2's). Only the rounding of ``r_c`` is inexact
    (:func:`~.fold.residual_ratio`).
    """

    first: Optional[SpikingLayer] = None
    second: Optional[SpikingLayer] = None
    shortcut: Optional[IntegerMAC] = None        # None: identity (the input spikes)
    p: Optional[torch.Tensor] = None              # int64 [C]
    r: Optional[torch.Tensor] = None              # int64 [C]
    ratio_bits: int = 16
    info: Dict[str, Any] = field(default_factory=dict)

    kind = "residual"

    def __post_init__(self):
        self._p, self._r = self.second._bcast(self.p), self.second._bcast(self.r)

    def _current(self, s1: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        A = self.second.mac(s1, torch.int64)
        S = x.to(torch.int64) if self.shortcut is None else self.shortcut(x, torch.int64)
        return (A * self._p + S * self._r).to(self.second.acc_dtype)

    def init_state(self):
        return None

    def layer(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[0]
        s1 = self.first.layer(x)
        return self.second.integrate(_split(self._current(_merge(s1), _merge(x)), T))

    def step(self, x: torch.Tensor, state, t: int):
        st1, st2 = (None, None) if state is None else state
        s1, st1 = self.first.step(x, st1, t)
        s2, st2 = self.second.integrate_step(self._current(s1, x), st2, t)
        return s2, (st1, st2)
