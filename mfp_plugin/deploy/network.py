"""``IntegerNetwork``: the compiled integer model (a thin wrapper over its ops and the schedules)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch

from .errors import UnsupportedLayerError
from .fixed_point import quantize_input
from .linearize import BATCH_FIRST
from .ops import Op, Readout, ResidualBlock, SpikingLayer
from .schedules import Observer, run_layer, run_stream

__all__ = ["IntegerNetwork", "RunResult", "SCHEDULES"]

SCHEDULES = ("layer", "stream")


@dataclass
class RunResult:
    """``logits_int`` int64 ``[B, K]``; ``logits`` = ``logits_int * unit`` (float64, ~ the float
    model's time-averaged logits); ``outputs``: op name -> ``[T, B, ...]`` integers (stream + trace)."""

    logits_int: torch.Tensor
    logits: torch.Tensor
    outputs: Dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def prediction(self) -> torch.Tensor:
        return self.logits_int.argmax(1)


class IntegerNetwork:
    """A model compiled by :func:`mfp_plugin.deploy.compile`; runs on integers only.

    ``net(x)`` -> float logits ``[B, K]`` (the integer logits times one constant);
    :meth:`run` gives the integers and a choice of schedule. The input is the
    float model's: ``[B, *input_shape]`` (static), ``[T, B, *input_shape]``
    (frames) or ``[B, T, *input_shape]`` (``"sequence"``, ``"events"``: the
    zoo's batch-first temporal models; moved time-first here); it is quantized
    to fixed point first (:meth:`quantize_input`, always ``[T, B, ...]`` or static ``[B, ...]``).
    """

    def __init__(self, ops: List[Op], *, T: int, input_type: str, input_shape: Tuple[int, ...],
                 input_frac_bits: int, input_bits: int) -> None:
        self.ops, self.T, self.input_type = list(ops), int(T), input_type
        self.input_shape = tuple(input_shape)
        self.input_frac_bits, self.input_bits = int(input_frac_bits), int(input_bits)

    # -- structure -------------------------------------------------------------------------------
    @property
    def spiking_layers(self) -> List[SpikingLayer]:
        return [op for op in self.ops if isinstance(op, SpikingLayer)]

    @property
    def residual_blocks(self) -> List[ResidualBlock]:
        return [op for op in self.ops if isinstance(op, ResidualBlock)]

    @property
    def neuron_ops(self) -> List[Op]:
        """The ops that emit spikes: spiking layers and residual blocks (their output neuron)."""
        return [op for op in self.ops if isinstance(op, (SpikingLayer, ResidualBlock))]

    def require_chain(self, what: str) -> None:
        """Refuse ``what`` (a feature that does not handle residual blocks yet) with a clear error."""
        if self.residual_blocks:
            names = ", ".join(op.name for op in self.residual_blocks[:3]) + (", ..." if len(self.residual_blocks) > 3 else "")
            raise UnsupportedLayerError(names, self.residual_blocks[0],
                                        f"deploy.{what} does not handle residual blocks yet; they compile and run "
                                        "(both schedules) and deploy.agreement measures them")

    @property
    def readout(self) -> Readout:
        return self.ops[-1]

    def __repr__(self) -> str:
        lines = [f"IntegerNetwork(T={self.T}, input={self.input_type} {list(self.input_shape)}, "
                 f"input fixed point {self.input_bits} bits / {self.input_frac_bits} fraction bits)"]
        for op in self.ops:
            extra = ""
            if isinstance(op, ResidualBlock):
                extra = f" acc={str(op.second.acc_dtype).replace('torch.', '')} ratio 2^-{op.ratio_bits}" \
                    + (" downsample" if op.shortcut is not None else " identity")
            if isinstance(op, SpikingLayer):
                extra = (f" acc={str(op.acc_dtype).replace('torch.', '')} F={op.frac_bits} beta={op.m}/2^{op.q}"
                         + (" static" if op.static else ""))
            lines.append(f"  {op.kind:8s} {op.name}: {list(op.in_shape)} -> {list(op.out_shape)}{extra}")
        return "\n".join(lines)

    # -- input -----------------------------------------------------------------------------------
    @property
    def batch_first(self) -> bool:
        """The input is ``[B, T, ...]`` (``input_type`` ``"sequence"`` / ``"events"``)."""
        return self.input_type in BATCH_FIRST

    def batch_size(self, x: torch.Tensor) -> int:
        """The batch size of an input ``x`` of this network."""
        return int(x.shape[1] if self.input_type == "frames" else x.shape[0])

    def take(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """The first ``n`` samples of an input ``x`` of this network."""
        return x[:, :n] if self.input_type == "frames" else x[:n]

    def check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"expected a torch.Tensor input, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"expected a floating-point input (the float model's), got {x.dtype}")
        shape = list(self.input_shape)
        if self.input_type == "static":
            ok, want = x.dim() == 1 + len(shape) and list(x.shape[1:]) == shape, f"[B, {', '.join(map(str, shape))}]"
        else:
            t_dim = 1 if self.batch_first else 0
            ok = x.dim() == 2 + len(shape) and list(x.shape[2:]) == shape and x.shape[t_dim] == self.T
            want = (f"[B, T={self.T}, " if self.batch_first else f"[T={self.T}, B, ") + f"{', '.join(map(str, shape))}]"
        if not ok:
            raise ValueError(f"IntegerNetwork expects {self.input_type} input of shape {want}, "
                             f"got {tuple(x.shape)}")

    def quantize_input(self, x: torch.Tensor) -> torch.Tensor:
        """The fixed-point input ``clamp(round(x * 2^f), +-2^(bits-1))`` (int32), time-first
        (``[T, B, ...]``; static: ``[B, ...]``)."""
        self.check_input(x)
        x = x.detach().cpu()
        if self.batch_first:
            x = x.transpose(0, 1)
        return quantize_input(x.contiguous(), self.input_frac_bits, self.input_bits)

    # -- run -------------------------------------------------------------------------------------
    def run(self, x: torch.Tensor, schedule: str = "layer", *, trace: bool = False,
            observe: Optional[Observer] = None) -> RunResult:
        """Run on integers. ``schedule``: ``"layer"`` or ``"stream"``; ``trace`` (stream) keeps every
        op's output; ``observe(i, op, input, output)`` (layer) sees every op."""
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        xq = self.quantize_input(x)
        static = self.input_type == "static"
        with torch.no_grad():
            if schedule == "layer":
                if trace:
                    outs: Dict[str, torch.Tensor] = {}
                    user = observe

                    def observe(i, op, inp, out, _user=user):  # noqa: F811 - wraps the caller's observer
                        if not isinstance(op, Readout):
                            outs[op.name] = out
                        if _user is not None:
                            _user(i, op, inp, out)
                logits, _ = run_layer(self.ops, xq, self.T, static, observe)
                outputs = outs if trace else {}
            else:
                if observe is not None:
                    raise ValueError("observe is for schedule='layer'; use trace=True with 'stream'")
                logits, outputs = run_stream(self.ops, xq, self.T, static, trace)
        return RunResult(logits, logits.double() * self.readout.unit, outputs)

    def __call__(self, x: torch.Tensor, schedule: str = "layer") -> torch.Tensor:
        return self.run(x, schedule).logits

    def predict(self, x: torch.Tensor, schedule: str = "layer") -> torch.Tensor:
        """Class indices ``[B]``: the argmax of the integer logits."""
        return self.run(x, schedule).prediction
