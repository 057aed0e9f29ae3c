"""snnTorch front-end: ``MFLeaky``, the memory-free neuron with snnTorch's conventions."""
from __future__ import annotations

import numbers

import torch
import torch.nn as nn

from .integration.reset import reset_states
from .neuron import MFNode

__all__ = ["MFLeaky", "reset"]


class MFLeaky(nn.Module):
    r"""Memory-free leaky neuron for snnTorch models.

    snnTorch's :class:`~snntorch.Leaky` integrates step by step,
    :math:`U[t] = \beta U[t-1] + X[t] - R\,\theta`. ``MFLeaky`` keeps no membrane:
    for a whole sequence it computes

    .. math::
        H[t] = \sum_{i \le t} \beta^{t-i} X[i], \qquad
        \tilde H[t] = Q_b(H[t]) \ (\text{if } \texttt{membrane\_bits}), \qquad
        S[t] = \Theta(\tilde H[t] - \theta)

    in one pass (a GEMM over time), with no reset (see :class:`mfp_plugin.MFNode`).

    Conventions follow snnTorch: ``beta`` (decay, in [0, 1)), ``threshold``,
    ``spike_grad`` (e.g. ``snntorch.surrogate.atan()``; default arctan),
    ``init_hidden`` and ``output``. The input is the whole sequence
    ``[T, B, ...]``. ``forward`` returns ``(spk, mem)`` — ``mem`` is the
    transient potential :math:`\tilde H`, ``[T, B, ...]`` — or, with
    ``init_hidden=True``, only ``spk`` unless ``output=True``; the last ``mem``
    is then kept in ``self.mem`` as snnTorch does.

    Example::

        >>> import torch
        >>> import snntorch as snn
        >>> from mfp_plugin.snntorch import MFLeaky
        >>> lif = MFLeaky(beta=0.5, spike_grad=snn.surrogate.atan(), membrane_bits=2)
        >>> spk, mem = lif(torch.rand(10, 3, 5))     # [T, B, N]
        >>> spk.shape, mem.shape
        (torch.Size([10, 3, 5]), torch.Size([10, 3, 5]))
    """

    _mfp_stateful = True

    def __init__(
        self,
        beta,
        threshold: float = 1.0,
        spike_grad=None,
        init_hidden: bool = False,
        output: bool = False,
        learn_beta: bool = False,
        membrane_bits: int | None = None,
        kernel: str = "exp",
        T: int | None = None,
    ):
        super().__init__()
        if isinstance(beta, torch.Tensor):
            if beta.numel() != 1:
                raise ValueError(f"beta must be a scalar (one decay per layer), got a tensor of shape {tuple(beta.shape)}")
            beta = float(beta)
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real):
            raise TypeError(f"beta must be a float in [0, 1), got {beta!r}")
        if not 0.0 <= beta < 1.0 or (learn_beta and beta == 0.0):
            raise ValueError(f"beta must lie in [0, 1) ((0, 1) with learn_beta=True), got {beta}")
        for flag, name in ((init_hidden, "init_hidden"), (output, "output")):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {flag!r}")
        self.init_hidden = init_hidden
        self.output = output
        self.node = MFNode(
            tau=1.0 / (1.0 - beta),
            v_threshold=threshold,
            kernel=kernel,
            T=T,
            membrane_bits=membrane_bits,
            learnable_decay=learn_beta,
            surrogate_function=spike_grad,
            step_mode="m",
        )
        self.mem = None

    @property
    def beta(self):
        return self.node.beta

    @property
    def threshold(self) -> float:
        return self.node.v_threshold

    @property
    def spike_grad(self):
        return self.node.surrogate_function

    def forward(self, input_: torch.Tensor):
        from .functional.checks import check_multi_step
        from .functional.mf import mf_multi_step

        check_multi_step(input_, "MFLeaky input")
        K = self.node.kernel_matrix(input_.shape[0], dtype=input_.dtype, device=input_.device)
        spk, mem, _ = mf_multi_step(
            input_, K, self.node.v_threshold, self.node.membrane_bits, self.node._surrogate, return_potential=True
        )
        if self.init_hidden:
            self.mem = mem
            return (spk, mem) if self.output else spk
        return spk, mem

    def reset(self):
        """Forget the kept ``mem`` (the neuron itself keeps no state between sequences)."""
        self.mem = None
        self.node.reset()

    def reset_mem(self):
        self.reset()

    def extra_repr(self):
        return f"init_hidden={self.init_hidden}, output={self.output}"


def reset(net: nn.Module) -> nn.Module:
    """Reset ``MFLeaky`` and every snnTorch / SpikingJelly neuron in ``net`` at any depth.

    ``snntorch.utils.reset`` only inspects the top-level children and only
    snnTorch's own classes; this walks the whole module tree.
    """
    return reset_states(net)
