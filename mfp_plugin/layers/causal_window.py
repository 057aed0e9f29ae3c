"""``CausalWindow``: the module form of :func:`mfp_plugin.functional.causal_window`."""
from __future__ import annotations

from torch import Tensor, nn

from ..functional.window import causal_window, check_window

__all__ = ["CausalWindow"]


class CausalWindow(nn.Module):
    r"""``[T, B, C] -> [T, B, k*C]``: at step ``t``, the inputs of steps ``t, t-d, ..., t-(k-1)d``.

    Followed by a (quantized) linear layer it is a causal 1-D convolution over
    time (kernel ``k``, dilation ``d``): a feed-forward spiking net whose
    neurons only integrate (as :class:`~mfp_plugin.MFNode` does) gets explicit
    access to the last ``(k-1)d`` steps, and a stack with dilations 1, 2, 4,
    ... covers a whole sequence (a temporal convolutional network). It has no
    parameters and, run layer by layer, keeps no state between steps; run
    step by step (``mfp_plugin.deploy``'s stream schedule) it is a shift
    register of the last ``(k-1)d`` inputs.

    The input must be time-first ``[T, B, C]``; in a
    ``model_zoo.layers.SeqSequential`` it is fed the time axis (it is not a
    per-sample layer).

    Example::

        >>> import torch
        >>> from mfp_plugin.layers import CausalWindow
        >>> w = CausalWindow(kernel_size=3, dilation=2)
        >>> w(torch.rand(10, 4, 16)).shape                    # [T, B, C] -> [T, B, 3*C]
        torch.Size([10, 4, 48])
        >>> w.receptive_field                                  # steps seen at each step
        5
    """

    def __init__(self, kernel_size: int = 3, dilation: int = 1) -> None:
        super().__init__()
        self.kernel_size, self.dilation = check_window(kernel_size, dilation)

    @property
    def receptive_field(self) -> int:
        """How many consecutive steps one output step sees: ``(k-1)*d + 1``."""
        return (self.kernel_size - 1) * self.dilation + 1

    def forward(self, x: Tensor) -> Tensor:
        return causal_window(x, self.kernel_size, self.dilation)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, dilation={self.dilation}"
