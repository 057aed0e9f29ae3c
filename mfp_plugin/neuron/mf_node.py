"""``MFNode``: the memory-free quantized neuron of MFP-QSNN."""
from __future__ import annotations

import math
import numbers

import torch
import torch.nn as nn

from ..functional import checks
from ..functional.membrane import firing_threshold
from ..functional.mf import (
    causal_kernel,
    exp_kernel,
    mf_exp_single_step,
    mf_multi_step,
    mf_window_single_step,
    transient_potential,
)
from ..functional.surrogate import resolve_surrogate
from .base import MFPNeuronBase


class MFNode(MFPNeuronBase):
    r"""Memory-free neuron: the potential is recomputed from the input history, never stored.

    .. math::
        H[t] = \sum_{i \le t} K[t,i]\, X[i], \qquad
        \tilde H[t] = Q_b(H[t]) \text{ if membrane\_bits}=b \text{ else } H[t], \qquad
        S[t] = \Theta(\tilde H[t] - \theta)

    with :math:`K[t,i] = \beta^{t-i}`, :math:`\beta = 1 - 1/\tau` (``kernel="exp"``)
    or :math:`K = \mathrm{tril}(W)`, :math:`W` learnable and initialised to the
    exp kernel (``kernel="learnable"``, needs ``T``). :math:`Q_b` is applied
    after exact integration, outside any recurrence, so
    :math:`|\tilde H[t] - H[t]| \le \Delta/2` at every step (in range) and the
    neuron fires iff :math:`H[t] \ge \theta - \Delta/2`: a fixed threshold
    offset, not a loss of history. There is no reset.

    Modes. ``step_mode="m"`` (default): input ``[T, B, ...]``, all steps at
    once; nothing persists between calls (memory-free, parallel,
    layer-asynchronous). ``step_mode="s"``: streaming input ``[B, ...]`` one
    step per call, for online use, with spikes identical to ``"m"`` (exp:
    one exact accumulator :math:`A[t]=\beta A[t-1]+X[t]`; learnable: a queue
    of at most T inputs). Call ``functional.reset_net`` between sequences in
    ``"s"`` mode only. The shape alone cannot tell a ``[T, B, N]`` sequence
    from a ``[B, C, L]`` step: the step mode decides, so set it to match the
    data (SpikingJelly's ``functional.set_step_mode``). What can be checked
    is: ``"m"`` needs at least 2 dims (``[T, B]``), ``"s"`` at least 1, and in
    ``"s"`` mode every step must have the shape the streaming state was
    started with.

    Kernels. Which kernel runs a multi-step input is decided in one place,
    :meth:`_launcher_for`: ``backend="cupy"`` runs the fused CUDA scan (a
    CUDA tensor is required); ``backend="torch"`` runs the fused C scan on a
    CPU tensor with the exp kernel, fixed or learnable decay (unless
    ``MFP_CPU_KERNEL=0``, ``mfp_plugin.backends.cpu_kernel.set_enabled(False)``
    or no C compiler), else the GEMM ``K @ X``. A learnable kernel always runs
    the GEMM, and so does a learnable decay on CUDA: ``backend="cupy"`` is
    refused for both with a ``ValueError``. Recording (``store_v_seq=True``)
    runs the same kernel: the scans yield the potential from the same pass.

    Non-finite input. An inf or NaN input at step t changes the potential, and
    so the spikes, of steps :math:`\ge t` only (exp kernel: as the scan
    :math:`A[t]=\beta A[t-1]+X[t]` propagates it); earlier steps are never
    affected, on every kernel and whether or not the potential is recorded
    (the GEMM recomputes such columns from their causal terms). It is not
    rejected: the spikes of the steps before it are still valid.

    The equations are this project's own definition of MFP-QSNN (ICASSP 2025,
    arXiv 2503.00040), written from its abstract; see ``docs/method.md``.

    :param tau: membrane time constant, :math:`\beta = 1 - 1/\tau` (SpikingJelly's convention)
    :param v_threshold: :math:`\theta`
    :param kernel: ``"exp"`` or ``"learnable"``
    :param T: number of time steps (required by ``kernel="learnable"``)
    :param membrane_bits: ``b`` of the transient quantizer :math:`Q_b` (>= 2), or ``None``
    :param learnable_decay: learn :math:`\beta \in (0,1)` per layer (exp kernel)
    :param surrogate_function: ``None`` (arctan, alpha 2), an ``mfp_plugin.functional`` surrogate,
        a SpikingJelly surrogate object or an snnTorch ``spike_grad`` callable
    :param step_mode: ``"m"`` or ``"s"``
    :param backend: ``"torch"``; ``"cupy"`` in multi-step mode with ``kernel="exp"`` and a fixed decay
        (fused CUDA kernels)
    :param store_v_seq: keep the last potentials in ``self.v_seq`` (:math:`\tilde H`) and ``self.h_seq`` (:math:`H`)

    Example::

        >>> import torch, mfp_plugin as mfp
        >>> node = mfp.MFNode(tau=2.0, membrane_bits=2)
        >>> x = torch.rand(8, 4, 16)            # [T, B, N]
        >>> s = node(x)
        >>> s.shape, bool(((s == 0) | (s == 1)).all())
        (torch.Size([8, 4, 16]), True)
    """

    def __init__(
        self,
        tau: float = 2.0,
        v_threshold: float = 1.0,
        kernel: str = "exp",
        T: int | None = None,
        membrane_bits: int | None = None,
        learnable_decay: bool = False,
        surrogate_function=None,
        step_mode: str = "m",
        backend: str = "torch",
        store_v_seq: bool = False,
    ):
        if kernel not in ("exp", "learnable"):
            raise ValueError(f"kernel must be 'exp' or 'learnable', got {kernel!r}")
        if not isinstance(learnable_decay, bool):
            raise TypeError(f"learnable_decay must be a bool, got {learnable_decay!r}")
        if kernel == "learnable" and learnable_decay:
            raise ValueError("learnable_decay applies to kernel='exp'; kernel='learnable' already learns every weight")
        if T is not None and (isinstance(T, bool) or not isinstance(T, numbers.Integral) or T < 1):
            raise ValueError(f"T must be a positive int or None, got {T!r}")
        if kernel == "learnable" and T is None:
            raise ValueError("kernel='learnable' needs a fixed number of time steps: pass T=<int>")
        tau = checks.check_tau(tau, learnable_decay)
        super().__init__(step_mode=step_mode, backend="torch", store_v_seq=store_v_seq)
        self.tau = tau
        self.v_threshold = checks.check_positive_float(v_threshold, "v_threshold")
        self.kernel = kernel
        self.T = None if T is None else int(T)
        self.membrane_bits = checks.check_membrane_bits(membrane_bits)
        self.learnable_decay = learnable_decay
        resolve_surrogate(surrogate_function)  # fail early on a bad surrogate
        self.surrogate_function = surrogate_function
        if learnable_decay:
            beta = 1.0 - 1.0 / tau
            self.decay_logit = nn.Parameter(torch.tensor(math.log(beta / (1.0 - beta))))
        if kernel == "learnable":
            self.kernel_weight = nn.Parameter(exp_kernel(1.0 - 1.0 / tau, self.T))
        # Streaming ('s') state: the exact accumulator (exp) or the input queue (learnable).
        self.register_memory("acc", None)
        self.register_memory("history", None)
        self.backend = backend


    # ------------------------------------------------------------------ kernel
    @property
    def beta(self) -> torch.Tensor | float:
        r"""The decay :math:`\beta` (a tensor when learnable)."""
        if self.learnable_decay:
            return torch.sigmoid(self.decay_logit)
        return 1.0 - 1.0 / self.tau

    def kernel_matrix(self, T: int, dtype=None, device=None) -> torch.Tensor:
        """The ``[T, T]`` causal kernel ``K`` used for a sequence of length T."""
        if self.kernel == "learnable":
            if T != self.T:
                raise ValueError(
                    f"MFNode(kernel='learnable') was built for T = {self.T} time steps; got an input with T = {T}. "
                    "Expected shape [T, B, ...] with that T."
                )
            return causal_kernel(self.kernel_weight).to(dtype=dtype, device=device)
        return exp_kernel(self.beta, T, dtype=dtype, device=device)

    # ------------------------------------------------------------------ backends
    @property
    def _cupy_can_scan(self) -> bool:
        """The cupy backend's scans compute the exp kernel with a fixed decay; anything learnable needs the GEMM."""
        return getattr(self, "kernel", "exp") == "exp" and not getattr(self, "learnable_decay", False)

    def _backends_for(self, step_mode):
        return ("torch", "cupy") if step_mode == "m" and self._cupy_can_scan else ("torch",)

    def _backend_refusal(self, backend):
        if backend == "cupy" and self.step_mode == "m" and not self._cupy_can_scan:
            if self.kernel == "learnable":
                why = "kernel='learnable' learns through the GEMM K @ X, which backend='torch' runs on any device"
            else:
                why = "learnable_decay=True learns on backend='torch' (the C scan on CPU, the GEMM K @ X on CUDA)"
            return f"backend='cupy' runs the fused scan of the exp kernel with a fixed decay; {why}"
        if backend == "cupy" and self.step_mode == "s":
            return "the streaming single step is elementwise torch code; backend='cupy' is for step_mode='m'"
        return None

    def _check_backend_available(self, backend):
        if backend == "cupy":
            from ..backends import cupy_backend

            cupy_backend.check_available()

    def _launcher_for(self, x_seq: torch.Tensor):
        """Which kernel runs the multi-step input ``x_seq``: the one backend decision of this neuron.

        Returns the scan launcher (:mod:`mfp_plugin.backends.scan`), or ``None`` for the GEMM.
        ``backend="cupy"`` always scans on CUDA (its configuration was checked when it was set);
        the torch backend scans the exp kernel in C where it can, a learnable decay included (the
        scan gives :math:`\beta` its gradient), and falls back to the GEMM elsewhere.
        """
        if self.backend == "cupy":
            from ..backends import cupy_backend

            cupy_backend.check_input(x_seq)
            return cupy_backend.LAUNCHER
        if self.kernel == "exp":
            from ..backends import cpu_kernel

            if cpu_kernel.supports(x_seq):
                return cpu_kernel.LAUNCHER
        return None

    # ------------------------------------------------------------------ forward
    def multi_step_potential(self, x_seq: torch.Tensor):
        r"""``(spikes, H_tilde, H)`` of a ``[T, B, ...]`` input, by the kernel that ``forward`` runs.

        The potentials come from the same pass as the spikes and are differentiable:
        a loss on :math:`H` or :math:`\tilde H` reaches the input (:math:`Q_b` passes the
        gradient straight through). Pure: the module's state is neither read nor written.
        """
        spikes, h = self._multi_step(x_seq, return_potential=True)
        return spikes, transient_potential(h, self.v_threshold, self.membrane_bits), h

    def _multi_step(self, x_seq, return_potential=False):
        """Spikes, or ``(spikes, H)``, of the kernel that :meth:`_launcher_for` picks."""
        launcher = self._launcher_for(x_seq)
        theta, bits, surrogate = self.v_threshold, self.membrane_bits, self._surrogate
        if launcher is None:
            K = self.kernel_matrix(x_seq.shape[0], dtype=x_seq.dtype, device=x_seq.device)
            out = mf_multi_step(x_seq, K, theta, bits, surrogate, return_potential)
            return (out[0], out[2]) if return_potential else out
        from ..backends.scan import mf_exp_scan

        return mf_exp_scan(x_seq, launcher, self.beta, firing_threshold(theta, bits), surrogate, return_potential)

    def multi_step_functional_forward(self, inputs, states, **kwargs):
        (x_seq,) = inputs
        if self.store_v_seq:
            spikes, h = self._multi_step(x_seq, return_potential=True)
            with torch.no_grad():  # recorded detached: no graph for Q_b
                self._record(transient_potential(h, self.v_threshold, self.membrane_bits), h, append=False)
        else:
            spikes = self._multi_step(x_seq)
        # Memory-free: the streaming state is neither read nor written here.
        return (spikes,), states

    def single_step_functional_forward(self, inputs, states, **kwargs):
        (x,) = inputs
        acc, history = states
        for prev in (acc, history):
            if prev is not None and prev.shape[-x.dim():] != x.shape:
                raise ValueError(
                    f"MFNode single-step input has shape {tuple(x.shape)} but the streaming state was built for "
                    f"{tuple(prev.shape[-x.dim():])}; call functional.reset_net(net) (or mfp_plugin.reset_states) "
                    "between sequences"
                )
        if self.kernel == "exp":
            spike, acc, h_tilde, h = mf_exp_single_step(
                x, acc, self.beta, self.v_threshold, self.membrane_bits, self._surrogate
            )
        else:
            t = 0 if history is None else history.shape[0]
            if t >= self.T:
                raise ValueError(
                    f"MFNode(kernel='learnable', T={self.T}) has streamed {t} steps already; its kernel covers only "
                    f"T = {self.T} steps. Call functional.reset_net(net) before the next sequence."
                )
            row = causal_kernel(self.kernel_weight)[t, : t + 1]
            spike, history, h_tilde, h = mf_window_single_step(
                x, history, row, self.v_threshold, self.membrane_bits, self._surrogate
            )
        if self.store_v_seq:
            self._record(h_tilde.unsqueeze(0), h.unsqueeze(0), append=True)
        return (spike,), (acc, history)

    def extra_repr(self):
        s = f"tau={self.tau}, v_threshold={self.v_threshold}, kernel={self.kernel!r}"
        if self.T is not None:
            s += f", T={self.T}"
        s += f", membrane_bits={self.membrane_bits}"
        if self.learnable_decay:
            s += ", learnable_decay=True"
        return s + ", " + super().extra_repr()
