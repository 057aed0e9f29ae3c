"""snnTorch front-end: ``MFLeaky``, the memory-free neuron with snnTorch's conventions."""
from __future__ import annotations

import numbers

import torch
import torch.nn as nn

from .functional.checks import check_floating_tensor, check_multi_step, check_single_step
from .integration.reset import reset_states
from .neuron import MFNode

__all__ = ["MFLeaky", "reset"]

#: snnTorch's reset mechanisms (``snntorch.SpikingNeuron.reset_dict``); none applies to MF.
RESET_MECHANISMS = ("subtract", "zero", "none")


class MFLeaky(nn.Module):
    r"""Memory-free leaky neuron for snnTorch models.

    snnTorch's :class:`~snntorch.Leaky` integrates step by step,
    :math:`U[t] = \beta U[t-1] + X[t] - R\,\theta`. ``MFLeaky`` stores no
    quantized membrane and never resets: it fires on the exact leaky integral

    .. math::
        H[t] = \sum_{i \le t} \beta^{t-i} X[i], \qquad
        \tilde H[t] = Q_b(H[t]) \ (\text{if } \texttt{membrane\_bits}), \qquad
        S[t] = \Theta(\tilde H[t] - \theta)

    (see :class:`mfp_plugin.MFNode`, which it wraps, and docs/method.md).

    How a call is read, by its arguments (never guessed from the shape):

    * ``spk, mem = lif(x, mem)`` -- **one step** (snnTorch's loop).
      ``x`` is one step ``[B, ...]``; ``mem`` is the carried state, the exact
      accumulator :math:`A[t] = \beta A[t-1] + X[t]` of docs/method.md (P3),
      and the returned ``mem`` is the new :math:`A[t]` (unquantized: it is the
      state, :math:`H[t] = A[t]`); the spike is :math:`\Theta(Q_b(A[t]) - \theta)`.
      Start a sequence with ``mem = lif.init_leaky()`` (an empty tensor that the
      first step reads as zeros). Gradients flow through ``mem``, so snnTorch's
      membrane losses work. Needs ``kernel="exp"``; passing ``mem`` together with
      ``init_hidden=True`` is a ``TypeError``, as in snnTorch.
    * ``spk, mem = lif(x_seq)`` (no ``mem``, ``init_hidden=False``) -- **a whole
      sequence** ``[T, B, ...]`` (at least 3 dims; a 2-D input is refused with
      a hint, since it is usually one ``[B, N]`` step) in one pass of the node's
      kernel (the fused C scan on CPU, the cupy kernels with ``backend="cupy"``,
      the GEMM for a learnable kernel or decay). ``mem`` is the transient
      potential :math:`\tilde H` of every step, ``[T, B, ...]``, from the same
      pass and differentiable. Without ``membrane_bits`` it equals the one-step
      ``mem`` of every step; with it, it is ``Q_b`` of that ``mem``.
    * ``init_hidden=True`` (no ``mem``) -- **one step per call, state kept
      inside**, as snnTorch's ``init_hidden`` (for ``nn.Sequential`` models):
      ``self.mem`` holds the accumulator :math:`A[t]` between calls; returns
      ``spk``, or ``(spk, mem)`` with ``output=True``. Reset between sequences
      (:func:`reset`, ``lif.reset_mem()``), as with snnTorch's neurons.

    The step loop and the sequence call agree: bit for bit where the sequence
    runs the C scan (both round :math:`\beta A + X` the same way), else up to
    float summation order (the GEMM, the cupy kernels' fused multiply-add).

    ``reset_mechanism`` accepts snnTorch's values (``"subtract"``, ``"zero"``,
    ``"none"``) and anything else is a ``ValueError``; none of them applies:
    the memory-free neuron has no membrane to reset, so it always behaves as
    ``"none"``. (No warning: converted snnTorch models carry snnTorch's default
    ``"subtract"``, and a warning there would fire for every model with nothing
    to act on.) ``init_leaky()`` / ``reset_mem()`` forget the kept state and return
    the initial ``mem``; :func:`reset` resets every neuron of a model.

    Example::

        >>> import torch
        >>> import snntorch as snn
        >>> from mfp_plugin.snntorch import MFLeaky
        >>> lif = MFLeaky(beta=0.5, spike_grad=snn.surrogate.atan(), membrane_bits=2)
        >>> x = torch.rand(10, 3, 5)                 # [T, B, N]
        >>> spk, mem = lif(x)                        # the whole sequence at once
        >>> spk.shape, mem.shape
        (torch.Size([10, 3, 5]), torch.Size([10, 3, 5]))
        >>> mem_t = lif.init_leaky()                 # snnTorch's loop, one step per call
        >>> steps = []
        >>> for t in range(10):
        ...     spk_t, mem_t = lif(x[t], mem_t)
        ...     steps.append(spk_t)
        >>> torch.equal(torch.stack(steps), spk)
        True
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
        reset_mechanism: str = "none",
        membrane_bits: int | None = None,
        kernel: str = "exp",
        T: int | None = None,
        backend: str = "torch",
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
        if isinstance(threshold, torch.Tensor):
            if threshold.numel() != 1:
                raise ValueError(f"threshold must be a scalar, got a tensor of shape {tuple(threshold.shape)}")
            threshold = float(threshold)
        for flag, name in ((init_hidden, "init_hidden"), (output, "output")):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {flag!r}")
        if reset_mechanism not in RESET_MECHANISMS:
            raise ValueError(f"reset_mechanism must be one of {RESET_MECHANISMS} (snnTorch's values; none applies to "
                             f"the memory-free neuron, which never resets), got {reset_mechanism!r}")
        self.init_hidden = init_hidden
        self.output = output
        self.reset_mechanism = reset_mechanism
        self.node = MFNode(
            tau=1.0 / (1.0 - beta),
            v_threshold=threshold,
            kernel=kernel,
            T=T,
            membrane_bits=membrane_bits,
            learnable_decay=learn_beta,
            surrogate_function=spike_grad,
            step_mode="m",
            backend=backend,
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

    # ------------------------------------------------------------------ forward
    def forward(self, input_: torch.Tensor, mem: torch.Tensor | None = None):
        if self.init_hidden:
            if mem is not None:
                raise TypeError("`mem` should not be passed as an argument while `init_hidden=True`")
            spk, self.mem = self._step(input_, self._initial_mem() if self.mem is None else self.mem)
            return (spk, self.mem) if self.output else spk
        if mem is not None:
            return self._step(input_, mem)
        return self._sequence(input_)

    def _sequence(self, x_seq):
        check_multi_step(x_seq, "MFLeaky input")
        if x_seq.dim() < 3:
            raise ValueError(
                f"MFLeaky called without mem reads its input as a whole sequence [T, B, ...] (at least 3 dims), "
                f"got shape {tuple(x_seq.shape)}. For one step of a [B, N] input pass the carried membrane: "
                "mem = lif.init_leaky(), then spk, mem = lif(x, mem) at every step (or build it with init_hidden=True)"
            )
        spk, h_tilde, _ = self.node.multi_step_potential(x_seq)
        return spk, h_tilde

    def _step(self, x, mem):
        check_single_step(x, "MFLeaky input")
        check_floating_tensor(mem, "mem")
        if self.node.kernel != "exp":
            raise ValueError(
                "MFLeaky's one-step form (spk, mem = lif(x, mem)) carries the accumulator A[t] = beta A[t-1] + X[t] "
                "of the exp kernel; kernel='learnable' weighs a whole window of T inputs: call lif(x_seq) on the "
                "sequence [T, B, ...] instead"
            )
        if mem.numel() == 0:
            acc = None  # lif.init_leaky(): zeros of the first step's shape
        elif mem.shape != x.shape:
            raise ValueError(
                f"mem has shape {tuple(mem.shape)} but the input step has shape {tuple(x.shape)}; start every "
                "sequence with mem = lif.init_leaky() and pass back the mem each step returns (with "
                "init_hidden=True: reset the network between sequences, mfp_plugin.snntorch.reset(net))"
            )
        else:
            acc = mem
        (spk,), (acc, _) = self.node.single_step_functional_forward((x,), (acc, None))
        return spk, acc

    # ------------------------------------------------------------------ state
    def _initial_mem(self) -> torch.Tensor:
        device = next((p.device for p in self.parameters()), None)
        return torch.zeros(0, device=device)

    def reset(self):
        """Forget the kept ``mem`` (the neuron itself keeps no state between sequences)."""
        self.mem = None
        self.node.reset()

    def reset_mem(self) -> torch.Tensor:
        """Forget the kept state and return the initial ``mem``: an empty tensor, read as zeros by the first step."""
        self.reset()
        return self._initial_mem()

    def init_leaky(self) -> torch.Tensor:
        """The initial ``mem`` of a sequence (snnTorch's name): ``spk, mem = lif(x, lif.init_leaky())``."""
        return self.reset_mem()

    def extra_repr(self):
        return f"init_hidden={self.init_hidden}, output={self.output}, reset_mechanism={self.reset_mechanism!r}"


def reset(net: nn.Module) -> nn.Module:
    """Reset ``MFLeaky`` and every snnTorch / SpikingJelly neuron in ``net`` at any depth.

    ``snntorch.utils.reset`` only inspects the top-level children and only
    snnTorch's own classes; this walks the whole module tree.
    """
    return reset_states(net)
