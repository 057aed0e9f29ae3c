r"""The fused exp-kernel scan of ``MFNode``: one autograd Function for every device.

For :math:`K[t,i] = \beta^{t-i}` the potential :math:`H = K X` is the scan
:math:`A[t] = \beta A[t-1] + X[t]` (:math:`A[-1] = 0`), so forward and backward
are each one pass over ``[T, N]`` instead of a ``T x T`` GEMM (docs/method.md, P2):

* forward: :math:`S[t] = [A[t] \ge \theta']` (and, on request, :math:`H[t] = A[t]`
  from the same pass); only ``X`` is saved;
* backward: :math:`g_h[t] = g_s[t]\,\sigma'(A[t] - \theta') + \partial L/\partial H[t]`,
  then the reverse scan :math:`B[t] = \beta B[t+1] + g_h[t]` gives
  :math:`\partial L/\partial X = K^\top g_h = B`. The built-in surrogates are
  evaluated inside the kernel (one fused pass); any other surrogate runs its
  own torch code on :math:`H` from the potential kernel.

A learnable decay learns through the same two passes. :math:`B` is the
adjoint of the accumulator (:math:`B[t] = \partial L/\partial A[t]` in total) and
:math:`\beta` enters every step as :math:`\beta A[t-1]`, so
:math:`\partial L/\partial \beta = \sum_{t \ge 1} \sum_n B[t,n]\,A[t-1,n]`: one
potential pass and one dot product more in backward, instead of the ``T x T``
GEMM and autograd through :math:`\beta^{t-i}`.

A scan is causal by construction: an inf or NaN at step t changes steps
:math:`\ge t` only.

What differs between devices is only how a kernel is launched. A *launcher*
implements five methods over contiguous ``[T, N]`` tensors, with the same
signature on every device:

* ``scan_dtype(dtype, builtin) -> dtype``: the dtype the kernels read
  (``builtin``: the surrogate is evaluated in the kernel);
* ``forward(x, s, h, beta, theta)``: spikes into ``s``; also ``H`` into ``h`` unless ``h`` is None;
* ``potential(x, h, beta)``: ``H`` into ``h``;
* ``reverse_scan(g_h, g_x, beta)``: ``B`` into ``g_x`` (``g_h`` may be ``g_x``);
* ``backward(x, g_s, gs_scalar, g_x, beta, theta, code)``: the fused backward with
  the built-in surrogate ``code = (kind, p0, p1)``
  (:func:`~.surrogate_codes.builtin_surrogate`); ``gs_scalar``: ``g_s`` is one value
  broadcast over ``[T, N]`` (``y.sum().backward()``).

:data:`mfp_plugin.backends.cpu_kernel.LAUNCHER` runs the C library,
:data:`mfp_plugin.backends.cupy_backend.LAUNCHER` the CUDA kernels. Which one
runs is decided by :meth:`mfp_plugin.MFNode._launcher_for`.
"""
from __future__ import annotations

import torch

from ..functional.layout import time_major_rows
from .surrogate_codes import builtin_surrogate

__all__ = ["ExpScan", "mf_exp_scan"]


def _is_broadcast(g: torch.Tensor) -> bool:
    # y.sum().backward() hands over one value expanded to [T, N]: read it once, copy nothing.
    return g.dim() == 0 or all(st == 0 for st in g.stride())


def _decay_grad(run, x: torch.Tensor, b: torch.Tensor, beta: float, like: torch.Tensor) -> torch.Tensor:
    r""":math:`\partial L/\partial \beta = \sum_{t \ge 1} B[t] \cdot A[t-1]` (module docstring), shaped like ``like``."""
    if x.shape[0] < 2:
        return torch.zeros_like(like)
    # bfloat16 rows: A is scanned in float32 (not rounded to 8 bits) and the products summed in float32.
    acc = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    x = x[:-1].to(acc)
    a = torch.empty_like(x)
    run.potential(x, a, beta)  # A[0..T-2]: the rows the sum reads
    # Contiguous row blocks: flat views (B is copied only to widen bfloat16).
    g = torch.dot(b[1:].reshape(-1).to(acc), a.reshape(-1))
    return g.to(dtype=like.dtype, device=like.device).reshape(like.shape)


class ExpScan(torch.autograd.Function):
    """``S = [scan_beta(X) >= theta']`` (and ``H``) on a contiguous ``[T, N]`` tensor; saves only ``X``.

    ``apply(x_rows, launcher, beta, theta_fire, surrogate, with_potential)`` returns ``S``,
    or ``(S, H)`` when ``with_potential``; both are differentiable, with respect to ``X``
    and, where ``beta`` is a tensor that requires grad (a learnable decay), to ``beta``.
    """

    @staticmethod
    def forward(ctx, x_rows, launcher, beta, theta_fire, surrogate, with_potential):
        ctx.set_materialize_grads(False)  # an unused H (recording only) costs nothing in backward
        ctx.beta_like = beta.detach() if isinstance(beta, torch.Tensor) else None
        beta = float(beta)
        s = torch.empty_like(x_rows)
        h = torch.empty_like(x_rows) if with_potential else None
        launcher.forward(x_rows, s, h, beta, theta_fire)
        ctx.save_for_backward(x_rows)
        ctx.launcher, ctx.beta, ctx.theta_fire, ctx.surrogate = launcher, beta, theta_fire, surrogate
        return (s, h) if with_potential else s

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_s, grad_h=None):
        want_x, want_beta = ctx.needs_input_grad[0], ctx.needs_input_grad[2]
        if not (want_x or want_beta) or (grad_s is None and grad_h is None):
            return (None,) * 6
        (x,) = ctx.saved_tensors
        grad_x = ExpScan._input_grad(ctx, x, grad_s, grad_h)  # B = K^T g_h, the adjoint of A
        grad_beta = _decay_grad(ctx.launcher, x, grad_x, ctx.beta, ctx.beta_like) if want_beta else None
        return grad_x if want_x else None, None, grad_beta, None, None, None

    @staticmethod
    def _input_grad(ctx, x, grad_s, grad_h):
        run, beta, theta = ctx.launcher, ctx.beta, ctx.theta_fire
        if grad_h is not None:
            # dL/dH enters the reverse scan like g_h does: K^T is linear.
            grad_h = grad_h.to(x.dtype).contiguous()
        if grad_s is None:
            grad_x = torch.empty_like(x)
            run.reverse_scan(grad_h, grad_x, beta)
            return grad_x
        grad_s = grad_s.to(x.dtype)
        gs_scalar = _is_broadcast(grad_s)
        if not gs_scalar:
            grad_s = grad_s.contiguous()
        code = builtin_surrogate(ctx.surrogate)
        grad_x = torch.empty_like(x)
        if code is not None:
            run.backward(x, grad_s, gs_scalar, grad_x, beta, theta, code)
            if grad_h is not None:
                extra = torch.empty_like(x)
                run.reverse_scan(grad_h, extra, beta)
                grad_x.add_(extra)
            return grad_x
        # Any other surrogate: H from the scan, sigma' by its own torch code, reverse scan in place.
        run.potential(x, grad_x, beta)
        g_h = ctx.surrogate.grad_input_(grad_x.sub_(theta), grad_s.expand_as(grad_x))
        g_h = g_h.to(x.dtype).contiguous()
        if grad_h is not None:
            g_h = g_h.add_(grad_h)
        run.reverse_scan(g_h, g_h, beta)
        return g_h


def mf_exp_scan(x_seq: torch.Tensor, launcher, beta: float, theta_fire: float, surrogate,
                return_potential: bool = False):
    r"""Spikes :math:`S[t] = [H[t] \ge \theta']` of an exp-kernel MF layer by a fused scan, ``[T, ...]`` -> ``[T, ...]``.

    :param x_seq: ``[T, ...]`` input on the launcher's device (any dense layout with time
        outermost is scanned in place: :func:`~mfp_plugin.functional.layout.time_major_rows`)
    :param launcher: the device's launcher (see the module docstring)
    :param beta: the decay: a float, or a 0-dim tensor (a learnable decay: it gets its gradient)
    :param theta_fire: :math:`\theta'` (:func:`~mfp_plugin.functional.membrane.firing_threshold`)
    :param surrogate: a resolved :class:`~mfp_plugin.functional.surrogate.Surrogate`
    :param return_potential: also return :math:`H` (differentiable), from the same pass
    :return: spikes, or ``(spikes, H)``, in ``x_seq``'s shape, layout and dtype
    """
    if isinstance(beta, torch.Tensor):
        if beta.numel() != 1:
            raise ValueError(f"beta must be one decay (a float or a 1-element tensor), got shape {tuple(beta.shape)}")
        if not beta.requires_grad:
            beta = beta.item()
    if x_seq.dim() < 1 or x_seq.shape[0] == 0:
        raise ValueError(f"x_seq must have shape [T, ...] with T >= 1, got {tuple(x_seq.shape)}")
    rows, restore = time_major_rows(x_seq)
    dtype = launcher.scan_dtype(rows.dtype, builtin_surrogate(surrogate) is not None)
    out = ExpScan.apply(rows.to(dtype), launcher, beta, float(theta_fire), surrogate, bool(return_potential))
    if return_potential:
        s, h = out
        return restore(s.to(x_seq.dtype)), restore(h.to(x_seq.dtype))
    return restore(out.to(x_seq.dtype))
