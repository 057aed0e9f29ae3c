"""``QLIFNode``: the vanilla QSNN baseline (quantized, stored membrane)."""
from __future__ import annotations

import numbers

import torch

from ..functional import checks
from ..functional.qlif import qlif_multi_step, qlif_single_step
from ..functional.surrogate import resolve_surrogate
from .base import MFPNeuronBase


class QLIFNode(MFPNeuronBase):
    r"""Vanilla QSNN LIF neuron whose membrane is stored between steps at ``membrane_bits``.

    .. math::
        H[t] &= \beta\, \hat U[t-1] + X[t], \qquad \hat U[0] = 0 \\
        S[t] &= \Theta(H[t] - \theta) \\
        U[t] &= H[t](1 - S[t]) + V_{reset} S[t]\ \text{(hard)} \quad\text{or}\quad H[t] - \theta S[t]\ \text{(soft, } V_{reset}=\text{None)} \\
        \hat U[t] &= Q_b(U[t]), \qquad Q_b(u) = \Delta\,\mathrm{clamp}(\mathrm{round}(u/\Delta), -2^{b-1}, 2^{b-1}-1),
        \ \Delta = \theta / (2^{b-1} - 1)

    :math:`\beta = 1 - 1/\tau`. Rounding inside the recurrence erases every
    residue smaller than :math:`\Delta/2` and feeds each step's error back:
    the "loss of historical information" that :class:`MFNode` avoids. This is
    the baseline every MFP-QSNN claim is measured against. The state
    :math:`\hat U` persists across calls (SpikingJelly semantics): call
    ``functional.reset_net`` between samples.

    Shapes. ``step_mode="m"``: ``[T, B, ...]`` (at least 2 dims);
    ``step_mode="s"``: one step ``[B, ...]`` (at least 1 dim), whose shape must
    match the stored membrane's. The shape alone cannot tell a sequence from a
    step with one more dim, so set the step mode to match the data.

    Non-finite input (inf or NaN) is a ``ValueError``: the stored membrane would
    keep it until the next reset (a hard reset of inf gives ``inf * 0 = NaN``),
    silently ruining every later step. ``tau``, ``v_threshold`` and ``v_reset``
    must be finite.

    :param tau: :math:`\tau`, :math:`\beta = 1 - 1/\tau`
    :param v_threshold: :math:`\theta`
    :param v_reset: hard-reset value, or ``None`` for a soft reset
    :param membrane_bits: ``b`` >= 2 of the stored membrane
    :param surrogate_function: as in :class:`MFNode`
    :param detach_reset: detach the spike in the reset path (SpikingJelly's option)
    :param step_mode: ``"m"`` (``[T, B, ...]``) or ``"s"`` (``[B, ...]``)
    :param backend: ``"torch"``
    :param store_v_seq: keep the stored membranes :math:`\hat U` in ``self.v_seq`` and :math:`H` in ``self.h_seq``

    Example::

        >>> import torch, mfp_plugin as mfp
        >>> node = mfp.QLIFNode(tau=2.0, membrane_bits=2)
        >>> x = torch.full((4, 1), 0.3)          # 0.3 per step never reaches 1.0 ...
        >>> node(x).flatten().tolist()           # ... and each 0.3 (< Delta/2 = 0.5) is erased
        [0.0, 0.0, 0.0, 0.0]
    """

    def __init__(
        self,
        tau: float = 2.0,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        membrane_bits: int = 2,
        surrogate_function=None,
        detach_reset: bool = False,
        step_mode: str = "m",
        backend: str = "torch",
        store_v_seq: bool = False,
    ):
        tau = checks.check_tau(tau, learnable=False)
        if v_reset is not None and (isinstance(v_reset, bool) or not isinstance(v_reset, numbers.Real)):
            raise TypeError(f"v_reset must be a float (hard reset) or None (soft reset), got {v_reset!r}")
        if v_reset is not None:
            v_reset = checks.check_finite_float(v_reset, "v_reset")
        if not isinstance(detach_reset, bool):
            raise TypeError(f"detach_reset must be a bool, got {detach_reset!r}")
        super().__init__(step_mode=step_mode, backend=backend, store_v_seq=store_v_seq)
        self.tau = tau
        self.v_threshold = checks.check_positive_float(v_threshold, "v_threshold")
        self.v_reset = None if v_reset is None else float(v_reset)
        self.membrane_bits = checks.check_membrane_bits(membrane_bits, allow_none=False)
        self.detach_reset = detach_reset
        resolve_surrogate(surrogate_function)  # fail early on a bad surrogate
        self.surrogate_function = surrogate_function
        self.register_memory("v", None)  # the stored quantized membrane U_hat


    @property
    def beta(self) -> float:
        return 1.0 - 1.0 / self.tau

    def _check_input(self, x, v, step_shape):
        # A stored membrane never forgets an inf/NaN (a hard reset of inf is inf * 0 = NaN): refuse it here.
        checks.check_finite(x, "QLIFNode input")
        if v is not None and v.shape != step_shape:
            raise ValueError(
                f"QLIFNode input has shape {tuple(step_shape)} per step but its stored membrane has shape "
                f"{tuple(v.shape)}; call functional.reset_net(net) (or mfp_plugin.reset_states) between samples"
            )

    def single_step_functional_forward(self, inputs, states, **kwargs):
        (x,), (v,) = inputs, states
        self._check_input(x, v, x.shape)
        spike, v, h = qlif_single_step(
            x, v, self.beta, self.v_threshold, self.v_reset, self.membrane_bits, self._surrogate, self.detach_reset
        )
        self._record(v.unsqueeze(0), h.unsqueeze(0), append=True)
        return (spike,), (v,)

    def multi_step_functional_forward(self, inputs, states, **kwargs):
        (x_seq,), (v,) = inputs, states
        self._check_input(x_seq, v, x_seq.shape[1:])
        args = (x_seq, v, self.beta, self.v_threshold, self.v_reset, self.membrane_bits, self._surrogate, self.detach_reset)
        if self.store_v_seq:
            spikes, v, v_seq, h_seq = qlif_multi_step(*args, return_potential=True)
            self._record(v_seq, h_seq, append=False)
        else:
            spikes, v = qlif_multi_step(*args)
        return (spikes,), (v,)

    def extra_repr(self):
        return (
            f"tau={self.tau}, v_threshold={self.v_threshold}, v_reset={self.v_reset}, "
            f"membrane_bits={self.membrane_bits}, " + super().extra_repr()
        )
