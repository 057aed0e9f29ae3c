r"""Memory-free (MF) neuron: the functional core (docs/method.md, "The memory-free neuron").

No membrane potential is stored or fed back. The potential at step t is a
causal weighted sum of the whole input history, computed fresh:

.. math::
    H[t] = \sum_{i \le t} K[t, i]\, X[i], \qquad
    \tilde H[t] = Q_b(H[t]) \text{ (if membrane\_bits = b)}, \qquad
    S[t] = \Theta(\tilde H[t] - \theta)

* ``kernel="exp"``: :math:`K[t,i] = \beta^{t-i}` (:func:`exp_kernel`).
* ``kernel="learnable"``: :math:`K = \mathrm{tril}(W)` (:func:`causal_kernel`).

Multi-step mode (:func:`mf_multi_step`) computes all T steps as one GEMM
``K @ X`` over the time axis: no Python loop over t (property P2). Its
autograd Function saves only the input ``X`` (and the T x T kernel) and
recomputes ``H`` in the backward pass. This module is the math only: the
fused scans that ``MFNode`` runs for the exp kernel (C on CPU, CUDA with
cupy) live in :mod:`mfp_plugin.backends` and compute the same equations.

Causality. A GEMM multiplies the zeros of the upper triangle with the
inputs of later steps, and ``0 * inf`` is NaN: an inf or NaN at step t
would turn the potentials of *earlier* steps into NaN. The GEMM here
never lets it: it notices non-finite input (one reduction over the last
step's potentials) and recomputes the affected columns from their causal
terms only, so an inf/NaN at step t changes steps :math:`\ge t` and nothing
before, as in the plain loop of the equations and in the scans.

Backward of the spike. :math:`\Theta(Q_b(H) - \theta) = \Theta(H - \theta')`
with :math:`\theta' = \theta - \Delta/2` (see :func:`~.membrane.firing_threshold`),
so the spike's derivative is taken as :math:`\sigma'(H - \theta')`: the
surrogate is centred where the neuron really fires. Without quantization
:math:`\theta' = \theta`.

These equations are this project's own definition of MFP-QSNN (ICASSP 2025,
arXiv 2503.00040), built from the paper's abstract; the full paper text was
not available when they were written.
"""
from __future__ import annotations

import torch

from .layout import time_major_rows
from .membrane import fire_mask, firing_threshold, quantize_membrane
from .surrogate import resolve_surrogate, spike


def exp_kernel(beta, T: int, dtype=None, device=None) -> torch.Tensor:
    r"""The causal exponential kernel :math:`K[t,i] = \beta^{t-i}` for :math:`t \ge i`, else 0.

    ``beta`` may be a float or a 0-dim tensor (differentiable: a learnable decay
    receives its gradient through this kernel).

    >>> exp_kernel(0.5, 3).tolist()
    [[1.0, 0.0, 0.0], [0.5, 1.0, 0.0], [0.25, 0.5, 1.0]]
    """
    if not isinstance(beta, torch.Tensor):
        beta = torch.tensor(float(beta), dtype=dtype or torch.get_default_dtype(), device=device)
    else:
        beta = beta.to(dtype=dtype or beta.dtype, device=device or beta.device)
    idx = torch.arange(T, device=beta.device)
    lag = idx[:, None] - idx[None, :]
    causal = lag >= 0
    # beta ** lag with lag clamped at 0 keeps the upper triangle finite (and its gradient 0).
    powers = beta ** lag.clamp(min=0).to(beta.dtype)
    return torch.where(causal, powers, torch.zeros((), dtype=beta.dtype, device=beta.device))


def causal_kernel(weight: torch.Tensor) -> torch.Tensor:
    """``tril(W)``: the learnable causal kernel used by ``kernel="learnable"``."""
    if weight.dim() != 2 or weight.shape[0] != weight.shape[1]:
        raise ValueError(f"a causal kernel must be a square [T, T] matrix, got shape {tuple(weight.shape)}")
    return torch.tril(weight)


def _columns_with_nonfinite(x_flat: torch.Tensor, h_last: torch.Tensor):
    r"""Indices of the columns of ``x_flat`` holding an inf or NaN, or None (the usual case).

    ``h_last`` is the GEMM's last row, :math:`H[T-1] = \sum_i K[T-1,i] X[i]` over every step of
    its column: ``c * inf`` and ``0 * inf`` are both non-finite, so it is non-finite wherever its
    column holds an inf or NaN, and a finite total of it rules every column out with one
    reduction over N values (and one sync) instead of a pass over X.
    """
    acc = torch.float64 if h_last.dtype == torch.float64 else torch.float32
    if bool(torch.isfinite(h_last.detach().sum(dtype=acc))):
        return None
    bad = (~torch.isfinite(x_flat.detach())).any(0).nonzero().flatten()
    return bad if bad.numel() else None  # finite input: an overflow, or a non-finite kernel weight


def _causal_fixup_(h: torch.Tensor, kernel: torch.Tensor, x_flat: torch.Tensor, columns) -> torch.Tensor:
    r"""Recompute ``h[:, columns]`` as :math:`\sum_{i \le t} K[t,i] X[i]` (causal terms only), in place."""
    if columns is not None:
        xb = x_flat[:, columns]
        h[:, columns] = torch.stack([kernel[t, : t + 1] @ xb[: t + 1] for t in range(x_flat.shape[0])])
    return h


def _causal_product(kernel: torch.Tensor, x_flat: torch.Tensor):
    """``(K @ X, columns)``: the GEMM, with the columns holding inf/NaN recomputed causally (module docstring)."""
    h = kernel @ x_flat
    columns = _columns_with_nonfinite(x_flat, h[-1])
    return _causal_fixup_(h, kernel, x_flat, columns), columns


def mf_potential(x_seq: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    r""":math:`H = K X`: the exact potential of every step, ``[T, ...]`` -> ``[T, ...]`` (causal for inf/NaN too).

    >>> import torch
    >>> x = torch.tensor([[0.5], [0.5], [0.0], [float("inf")]])
    >>> mf_potential(x, exp_kernel(0.5, 4)).flatten().tolist()   # the inf reaches step 3 only
    [0.5, 0.75, 0.375, inf]
    """
    T = x_seq.shape[0]
    if kernel.shape != (T, T):
        raise ValueError(f"kernel must have shape [T, T] = [{T}, {T}] for an input with T = {T}, got {tuple(kernel.shape)}")
    flat = x_seq.reshape(T, -1)
    kernel = kernel.to(flat.dtype)
    h = kernel @ flat
    columns = _columns_with_nonfinite(flat, h[-1])
    if columns is not None:
        h = h.clone()
        _causal_fixup_(h, kernel, flat, columns)
    return h.reshape(x_seq.shape)


class _MFFire(torch.autograd.Function):
    """Fused ``S = fire(K @ X)`` (and ``H`` on request) whose backward recomputes ``H`` from the saved input.

    Saves ``X`` (as given) and ``K``; nothing of size T x N is kept besides ``X``.
    """

    @staticmethod
    def forward(ctx, x_flat, kernel, v_threshold, bits, surrogate, with_potential):
        ctx.set_materialize_grads(False)  # an unused H (recording only) costs nothing in backward
        ctx.theta_fire = firing_threshold(v_threshold, bits)
        ctx.surrogate = surrogate
        h, ctx.columns = _causal_product(kernel, x_flat)
        ctx.save_for_backward(x_flat, kernel)
        if with_potential:
            return h.ge(ctx.theta_fire).to(h.dtype), h
        # S = [H >= theta'] (fire_mask's rule), written over H: one pass, no extra buffer.
        return h.ge_(ctx.theta_fire)

    @staticmethod
    def backward(ctx, grad_s, grad_h=None):
        x_flat, kernel = ctx.saved_tensors
        g_h = None
        if grad_s is not None:
            h = kernel @ x_flat
            _causal_fixup_(h, kernel, x_flat, ctx.columns)
            # grad_h = grad_s * sigma'(H - theta'), computed in place on the recomputed H.
            g_h = ctx.surrogate.grad_input_(h.sub_(ctx.theta_fire), grad_s)
        if grad_h is not None:
            g_h = grad_h if g_h is None else g_h.add_(grad_h)
        if g_h is None:
            return None, None, None, None, None, None
        grad_x = kernel.t() @ g_h if ctx.needs_input_grad[0] else None
        grad_k = None
        if ctx.needs_input_grad[1]:
            grad_k = torch.tril(g_h @ x_flat.t())
        return grad_x, grad_k, None, None, None, None


def transient_potential(h: torch.Tensor, v_threshold: float, membrane_bits: int | None) -> torch.Tensor:
    r""":math:`\tilde H = Q_b(H)` with ``membrane_bits = b``, else ``H`` itself."""
    return h if membrane_bits is None else quantize_membrane(h, v_threshold, membrane_bits)


def mf_multi_step(
    x_seq: torch.Tensor,
    kernel: torch.Tensor,
    v_threshold: float = 1.0,
    membrane_bits: int | None = None,
    surrogate=None,
    return_potential: bool = False,
):
    r"""All T steps of an MF neuron layer at once: ``[T, ...]`` input -> ``[T, ...]`` spikes.

    :param x_seq: input current ``X``, shape ``[T, B, ...]`` (floating)
    :param kernel: the ``[T, T]`` causal kernel (:func:`exp_kernel` / :func:`causal_kernel`)
    :param v_threshold: :math:`\theta`
    :param membrane_bits: ``b`` of the transient quantizer :math:`Q_b`, or ``None``
    :param surrogate: see :func:`~.surrogate.resolve_surrogate`
    :param return_potential: also return ``(H_tilde, H)``, from the same GEMM and differentiable
        (:math:`\partial L/\partial H` joins the spikes' gradient; :math:`Q_b` passes it straight through)
    :return: spikes, or ``(spikes, H_tilde, H)``

    An inf or NaN input at step t changes steps :math:`\ge t` only (see the module docstring).

    >>> import torch
    >>> x = torch.tensor([[0.6], [0.6], [0.0]])          # T = 3, N = 1
    >>> mf_multi_step(x, exp_kernel(0.5, 3)).flatten().tolist()   # H = 0.6, 0.9, 0.45
    [0.0, 0.0, 0.0]
    >>> mf_multi_step(x, exp_kernel(0.5, 3), membrane_bits=2).flatten().tolist()  # fires iff H >= 0.5
    [1.0, 1.0, 0.0]
    """
    T = x_seq.shape[0]
    if kernel.shape != (T, T):
        raise ValueError(f"kernel must have shape [T, T] = [{T}, {T}] for an input with T = {T}, got {tuple(kernel.shape)}")
    surrogate = resolve_surrogate(surrogate)
    # [T, N] rows in x_seq's own memory order (a view for channels-last too): the GEMM mixes time
    # steps only, and spikes that keep the layout spare the next layer's conv/BN a copy each way.
    x_flat, restore = time_major_rows(x_seq)
    kernel = kernel.to(x_flat.dtype)
    args = (x_flat, kernel, float(v_threshold), membrane_bits, surrogate)
    if not return_potential:
        return restore(_MFFire.apply(*args, False))
    spikes, h = _MFFire.apply(*args, True)
    spikes, h = restore(spikes), restore(h)
    return spikes, transient_potential(h, v_threshold, membrane_bits), h


def mf_exp_multi_step(
    x_seq: torch.Tensor,
    beta: float,
    v_threshold: float = 1.0,
    membrane_bits: int | None = None,
    surrogate=None,
) -> torch.Tensor:
    r"""All T steps of an exp-kernel MF layer (:math:`K[t,i] = \beta^{t-i}`, fixed :math:`\beta`), as the GEMM.

    ``mf_multi_step(x_seq, exp_kernel(beta, T), ...)``, pure torch on any device.
    ``MFNode`` computes the same equations with a fused scan where one can run
    (:mod:`mfp_plugin.backends`; equal up to float summation order).

    >>> import torch
    >>> x = torch.tensor([[0.6], [0.6], [0.0]])
    >>> mf_exp_multi_step(x, 0.5, membrane_bits=2).flatten().tolist()   # H = 0.6, 0.9, 0.45
    [1.0, 1.0, 0.0]
    """
    if isinstance(beta, torch.Tensor):
        if beta.requires_grad:
            raise ValueError("mf_exp_multi_step takes a fixed decay; for a learnable one use "
                             "mf_multi_step(x_seq, exp_kernel(beta, T), ...)")
        beta = beta.item()
    if x_seq.dim() < 1 or x_seq.shape[0] == 0:
        raise ValueError(f"x_seq must have shape [T, ...] with T >= 1, got {tuple(x_seq.shape)}")
    K = exp_kernel(beta, x_seq.shape[0], dtype=x_seq.dtype, device=x_seq.device)
    return mf_multi_step(x_seq, K, v_threshold, membrane_bits, surrogate)


def mf_exp_single_step(
    x: torch.Tensor,
    acc: torch.Tensor | None,
    beta,
    v_threshold: float = 1.0,
    membrane_bits: int | None = None,
    surrogate=None,
):
    r"""One streaming step of the exp-kernel MF neuron (property P3).

    .. math::
        A[t] = \beta A[t-1] + X[t], \quad H[t] = A[t], \quad S[t] = \Theta(Q_b(H[t]) - \theta)

    ``A`` is an exact (unquantized) accumulator of the input history: it is not
    a membrane potential (nothing is reset or quantized back into it), and
    :math:`A[t] = \sum_{i\le t}\beta^{t-i}X[i]`, the multi-step ``H[t]``.

    :return: ``(spike, acc, h_tilde, h)`` (``h`` is ``acc``)
    """
    acc = x if acc is None else beta * acc + x
    s, h_tilde = _fire_transient(acc, v_threshold, membrane_bits, surrogate)
    return s, acc, h_tilde, acc


def mf_window_single_step(
    x: torch.Tensor,
    history: torch.Tensor | None,
    kernel_row: torch.Tensor,
    v_threshold: float = 1.0,
    membrane_bits: int | None = None,
    surrogate=None,
):
    r"""One streaming step of the learnable-kernel MF neuron.

    ``history`` holds the inputs ``X[0..t-1]`` (a bounded queue of at most T
    entries); ``kernel_row`` is row ``t`` of ``tril(W)``, restricted to
    ``0..t``: :math:`H[t] = \sum_{i \le t} K[t,i] X[i]`.

    :return: ``(spike, history, h_tilde, h)`` with ``x`` appended to ``history``
    """
    history = x.unsqueeze(0) if history is None else torch.cat((history, x.unsqueeze(0)), 0)
    t = history.shape[0]
    if kernel_row.shape != (t,):
        raise ValueError(f"kernel_row must have shape [{t}] at step {t - 1}, got {tuple(kernel_row.shape)}")
    h = (kernel_row.to(history.dtype) @ history.reshape(t, -1)).reshape(x.shape)
    s, h_tilde = _fire_transient(h, v_threshold, membrane_bits, surrogate)
    return s, history, h_tilde, h


def _fire_transient(h, v_threshold, membrane_bits, surrogate):
    """Spike from an exact potential with the same rule as :func:`mf_multi_step`."""
    theta_fire = firing_threshold(v_threshold, membrane_bits)
    s = spike(h - theta_fire, surrogate, forward_value=fire_mask(h.detach(), v_threshold, membrane_bits))
    return s, transient_potential(h, v_threshold, membrane_bits)
