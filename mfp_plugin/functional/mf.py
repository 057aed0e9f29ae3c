r"""Memory-free (MF) neuron: the functional core (SPEC section 3).

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
recomputes ``H`` in the backward pass.

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


def mf_potential(x_seq: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    r""":math:`H = K X`: the exact potential of every step, ``[T, ...]`` -> ``[T, ...]``."""
    T = x_seq.shape[0]
    if kernel.shape != (T, T):
        raise ValueError(f"kernel must have shape [T, T] = [{T}, {T}] for an input with T = {T}, got {tuple(kernel.shape)}")
    flat = x_seq.reshape(T, -1)
    return (kernel.to(flat.dtype) @ flat).reshape(x_seq.shape)


class _MFFire(torch.autograd.Function):
    """Fused ``S = fire(K @ X)`` whose backward recomputes ``H`` from the saved input.

    Saves ``X`` (as given) and ``K``; nothing of size T x N is kept besides ``X``.
    """

    @staticmethod
    def forward(ctx, x_flat, kernel, v_threshold, bits, surrogate):
        ctx.theta_fire = firing_threshold(v_threshold, bits)
        ctx.surrogate = surrogate
        ctx.save_for_backward(x_flat, kernel)
        # S = [H >= theta'] (fire_mask's rule), written over H: one pass, no extra buffer.
        return (kernel @ x_flat).ge_(ctx.theta_fire)

    @staticmethod
    def backward(ctx, grad_s):
        x_flat, kernel = ctx.saved_tensors
        h = kernel @ x_flat
        # grad_h = grad_s * sigma'(H - theta'), computed in place on the recomputed H.
        grad_h = ctx.surrogate.grad_input_(h.sub_(ctx.theta_fire), grad_s)
        grad_x = kernel.t() @ grad_h if ctx.needs_input_grad[0] else None
        grad_k = None
        if ctx.needs_input_grad[1]:
            grad_k = torch.tril(grad_h @ x_flat.t())
        return grad_x, grad_k, None, None, None


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
    :param return_potential: also return ``(H_tilde, H)`` (detached), for recording
    :return: spikes, or ``(spikes, H_tilde, H)``

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
    x_flat = x_seq.reshape(T, -1)
    kernel = kernel.to(x_flat.dtype)
    spikes = _MFFire.apply(x_flat, kernel, float(v_threshold), membrane_bits, surrogate).reshape(x_seq.shape)
    if not return_potential:
        return spikes
    with torch.no_grad():
        h = (kernel @ x_flat).reshape(x_seq.shape)
        h_tilde = h if membrane_bits is None else quantize_membrane(h, v_threshold, membrane_bits)
    return spikes, h_tilde, h


def mf_exp_multi_step(
    x_seq: torch.Tensor,
    beta: float,
    v_threshold: float = 1.0,
    membrane_bits: int | None = None,
    surrogate=None,
) -> torch.Tensor:
    r"""All T steps of an exp-kernel MF layer (:math:`K[t,i] = \beta^{t-i}`, fixed :math:`\beta`).

    Same result as ``mf_multi_step(x_seq, exp_kernel(beta, T), ...)``. On a
    float32/float64 CPU tensor it runs the fused C scan of
    :mod:`mfp_plugin.backends.cpu_kernel` (one pass forward, one backward,
    only ``X`` saved); elsewhere, or when that kernel is disabled or cannot
    be built, the GEMM. The two agree up to float summation order.

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
    from ..backends import cpu_kernel  # lazy: the C library is built on first use

    if cpu_kernel.supports(x_seq):
        surrogate = resolve_surrogate(surrogate)
        return cpu_kernel.mf_exp_multi_step(x_seq, beta, firing_threshold(v_threshold, membrane_bits), surrogate)
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
    h_tilde = h if membrane_bits is None else quantize_membrane(h, v_threshold, membrane_bits)
    return s, h_tilde
