r"""Surrogate gradients for the spike non-linearity.

The forward pass is always the Heaviside step :math:`\Theta(x) = [x \ge 0]`
(SpikingJelly's convention). The backward pass uses a surrogate derivative
:math:`\sigma'(x)`. A surrogate here is any object with ``derivative(x)``;
:func:`resolve_surrogate` turns what users already have into one:

* ``None``                       -> :class:`ATan` (alpha = 2, SpikingJelly's default ``ATan``)
* an :class:`Surrogate` of ours  -> itself
* SpikingJelly ``surrogate.ATan`` / ``surrogate.Sigmoid`` objects (either
  generation)                   -> the closed-form equivalent (fast path)
* any other callable (SpikingJelly surrogate modules, snnTorch ``spike_grad``
  functions such as ``snntorch.surrogate.atan()``) -> :class:`CallableSurrogate`,
  whose derivative is taken from the callable's own autograd backward.

Because only ``derivative`` is needed, the neuron kernels can recompute the
surrogate in their backward pass instead of keeping an autograd graph.
"""
from __future__ import annotations

import math

import torch


class Surrogate:
    """Base class: ``derivative(x)`` returns :math:`\\sigma'(x)` elementwise."""

    def derivative(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def grad_input_(self, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """``grad * sigma'(x)``, allowed to overwrite ``x`` (saves memory passes in kernels)."""
        return self.derivative(x).mul_(grad)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Heaviside forward with this surrogate's backward: ``spike(x, self)``."""
        return spike(x, self)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class ATan(Surrogate):
    r"""Arctan surrogate: :math:`\sigma'(x) = \frac{\alpha/2}{1 + (\frac{\pi}{2}\alpha x)^2}`.

    Identical to SpikingJelly's ``surrogate.ATan(alpha)``.

    >>> import torch
    >>> ATan(2.0).derivative(torch.tensor([0.0])).item()
    1.0
    """

    def __init__(self, alpha: float = 2.0):
        self.alpha = float(alpha)

    def derivative(self, x):
        a = self.alpha / 2.0
        ax = (math.pi * a) * x
        return a / (1.0 + ax * ax)

    def grad_input_(self, x, grad):
        # grad * a / (1 + (pi a x)^2) == grad / ((1 + (pi a x)^2) / a), in place on x: 4 passes
        a = self.alpha / 2.0
        c = math.pi * a
        x.mul_(x)
        x.mul_(c * c / a).add_(1.0 / a)
        return torch.div(grad, x, out=x)


class Sigmoid(Surrogate):
    r"""Sigmoid surrogate: :math:`\sigma'(x) = \alpha\,s(\alpha x)(1 - s(\alpha x))`, :math:`s` the logistic.

    Identical to SpikingJelly's ``surrogate.Sigmoid(alpha)``.
    """

    def __init__(self, alpha: float = 4.0):
        self.alpha = float(alpha)

    def derivative(self, x):
        s = torch.sigmoid(self.alpha * x)
        return self.alpha * s * (1.0 - s)


class FastSigmoid(Surrogate):
    r"""Fast-sigmoid surrogate: :math:`\sigma'(x) = 1 / (1 + k|x|)^2` (snnTorch's ``fast_sigmoid(slope=k)``)."""

    def __init__(self, slope: float = 25.0):
        self.slope = float(slope)

    def derivative(self, x):
        return 1.0 / (1.0 + self.slope * x.abs()) ** 2


class CallableSurrogate(Surrogate):
    """Wraps a host surrogate callable; its derivative comes from the callable's backward.

    The callable must map a tensor elementwise (as every SpikingJelly surrogate
    module and snnTorch ``spike_grad`` function does).
    """

    def __init__(self, fn):
        self.fn = fn

    def derivative(self, x):
        with torch.enable_grad():
            xr = x.detach().requires_grad_(True)
            y = self.fn(xr)
            if not isinstance(y, torch.Tensor) or y.shape != xr.shape:
                raise TypeError(
                    f"surrogate callable {self.fn!r} must map a tensor to a tensor of the same shape"
                )
            (g,) = torch.autograd.grad(y, xr, torch.ones_like(y), allow_unused=True)
        if g is None:
            raise TypeError(f"surrogate callable {self.fn!r} has no gradient with respect to its input")
        return g

    def __repr__(self):
        return f"CallableSurrogate({self.fn!r})"


def _spikingjelly_closed_form(obj):
    module = type(obj).__module__ or ""
    if not module.startswith("spikingjelly"):
        return None
    if getattr(obj, "spiking", True) is False:
        return None  # a primitive (non-spiking) surrogate is not a spike function
    name = type(obj).__name__
    alpha = getattr(obj, "alpha", None)
    if alpha is None:
        return None
    if name == "ATan":
        return ATan(float(alpha))
    if name == "Sigmoid":
        return Sigmoid(float(alpha))
    return None


def resolve_surrogate(obj=None) -> Surrogate:
    """Return a :class:`Surrogate` for ``obj`` (see the module docstring)."""
    if obj is None:
        return ATan(2.0)
    if isinstance(obj, Surrogate):
        return obj
    if isinstance(obj, type):
        raise TypeError(
            f"surrogate_function must be an instance, not the class {obj.__name__}; "
            f"write {obj.__name__}() instead"
        )
    fast = _spikingjelly_closed_form(obj)
    if fast is not None:
        return fast
    if callable(obj):
        return CallableSurrogate(obj)
    raise TypeError(
        "surrogate_function must be None, an mfp_plugin surrogate, a SpikingJelly surrogate object "
        f"or an snnTorch spike_grad callable, got {obj!r}"
    )


class _Spike(torch.autograd.Function):
    """Heaviside forward; ``grad * sigma'(x)`` backward. ``forward_value`` may override the forward."""

    @staticmethod
    def forward(ctx, x, surrogate, forward_value):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        if forward_value is not None:
            return forward_value
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * ctx.surrogate.derivative(x).to(grad_out.dtype), None, None


def spike(x: torch.Tensor, surrogate=None, forward_value: torch.Tensor | None = None) -> torch.Tensor:
    r"""Fire: :math:`S = \Theta(x)` forward, :math:`\partial S/\partial x = \sigma'(x)` backward.

    ``forward_value`` (a 0/1 tensor shaped like ``x``) replaces the forward
    value; the neurons use it so that every code path fires by one exact rule
    (the quantized-membrane comparison) while the gradient still sees ``x``.

    >>> import torch
    >>> x = torch.tensor([-0.5, 0.0, 0.5], requires_grad=True)
    >>> spike(x).tolist()
    [0.0, 1.0, 1.0]
    """
    return _Spike.apply(x, resolve_surrogate(surrogate), forward_value)
