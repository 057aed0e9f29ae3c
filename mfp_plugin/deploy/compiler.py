"""``deploy.compile``: a trained chain of quantized layers + BN + MFNode -> integer ops.

Which layers compile, and how (details in ``docs/deployment.md``):

=============================  =================================================================
float model                    integer engine
=============================  =================================================================
QuantConv2d / QuantLinear      int8 codes; integer MAC (:mod:`.mac`)
  + BatchNorm (eval) + MFNode  scale, BN and bias folded into per-channel, per-step integer
                               thresholds; sign flip for a negative effective scale
                               (:mod:`.fold`); exp decay as ``(acc * m) >> q`` (a shift at
                               beta = 1/2); transient quantizer as the threshold offset
first such layer, static input image quantized to ``input_bits``-bit fixed point with
                               ``input_frac_bits`` fraction bits; MAC once; per-step thresholds
MaxPool2d                      OR of spikes (max of 0/1)
AvgPool2d, AdaptiveAvgPool2d   integer window sum; 1/k^2 folded into the next layer's scale
Flatten, Dropout, Identity     reshape / nothing (eval)
CausalWindow (k, d)            the same window on integers (exact); a shift register of the
                               last (k-1)d inputs when run step by step
last weight layer (no neuron)  readout: ``M * sum_t A[t] + B`` in int64, argmax (``M * A[T-1] + B``
                               for a model with ``readout="last"``)
residual basic block           :class:`~.ops.ResidualBlock`: the shortcut in the main branch's
                               unit with a ``2^-residual_bits`` ratio (:func:`~.fold.residual_ratio`)
=============================  =================================================================

Refused with :class:`~.errors.UnsupportedLayerError` (naming the layer): float
weights, ``QLIFNode`` and other neurons, ``MFNode(kernel="learnable")``,
pooling or flatten between a weight layer and its neuron, two weight layers
without a neuron between them, any other module type.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..functional.membrane import firing_threshold
from ..layers import CausalWindow
from ..neuron import MFNode, QLIFNode
from ..quant import QuantLayerMixin, export_layer
from .errors import UnsupportedLayerError
from .fixed_point import dyadic, int_dtype_for, signed_bits
from .fold import (channel_affine, geometric_sums, integer_thresholds, readout_integers, residual_ratio,
                   static_thresholds)
from .linearize import linearize
from .mac import IntegerMAC
from .network import IntegerNetwork
from .ops import DelayWindow, Flatten, Op, OrPool, Readout, ResidualBlock, SpikingLayer, SumPool

__all__ = ["compile_model", "DEFAULT_INPUT_FRAC_BITS", "DEFAULT_INPUT_BITS"]

DEFAULT_INPUT_FRAC_BITS = 16
DEFAULT_INPUT_BITS = 20
_DROPOUT_NAMES = ("TimeSharedDropout", "Dropout", "Dropout2d")


def _is_skippable(m: nn.Module) -> bool:
    return isinstance(m, (nn.Identity, nn.Dropout, nn.Dropout2d)) or type(m).__name__ in _DROPOUT_NAMES


def _is_block(m: nn.Module) -> bool:
    """A residual basic block (the zoo's ``BasicBlock`` layout)."""
    return all(hasattr(m, a) for a in ("conv1", "bn1", "sn1", "conv2", "bn2", "sn2", "downsample"))


def _pair(v) -> Tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v), int(v))


class _Builder:
    """Walks the chain once; ``pending`` holds a weight layer (+ BN) waiting for its neuron."""

    def __init__(self, chain, opts):
        self.chain, self.opts = chain, opts
        self.ops: List[Op] = []
        self.shape = chain.input_shape
        self.bound = 2 ** (opts["input_bits"] - 1)        # largest |integer input| of the next op
        self.scale = 2.0 ** -opts["input_frac_bits"]      # real value of one integer unit
        self.pending: Optional[dict] = None

    # -- one module ----------------------------------------------------------------------------
    def add(self, name: str, m: nn.Module) -> None:
        if _is_block(m):
            return self._block(name, m)
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            return self._weight(name, m)
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            if self.pending is None or self.pending["bn"] is not None:
                raise UnsupportedLayerError(name, m, "BatchNorm must follow a conv/linear directly")
            self.pending.update(bn=m, bn_name=name)
            return
        if isinstance(m, MFNode):
            return self._neuron(name, m)
        if isinstance(m, QLIFNode):
            raise UnsupportedLayerError(name, m, "QLIFNode stores a quantized membrane with reset between "
                                        "steps; the integer engine compiles MFNode only (swap_neurons to MFNode)")
        if _is_skippable(m):
            return
        if isinstance(m, CausalWindow):
            return self._window(name, m)
        pools = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Flatten)
        if not isinstance(m, pools):
            raise UnsupportedLayerError(name, m, "unknown module type for the integer engine (supported: "
                                        "QuantConv2d, QuantLinear, BatchNorm, MFNode(kernel='exp'), MaxPool2d, "
                                        "AvgPool2d, AdaptiveAvgPool2d, Flatten, CausalWindow, Dropout, Identity)")
        if self.pending is not None:
            raise UnsupportedLayerError(name, m, f"only BatchNorm and an MFNode may follow the weight layer "
                                        f"{self.pending['name']!r} (its output is a current, not spikes)")
        if isinstance(m, nn.MaxPool2d):
            return self._maxpool(name, m)
        if isinstance(m, nn.AvgPool2d):
            return self._avgpool(name, m)
        if isinstance(m, nn.AdaptiveAvgPool2d):
            return self._adaptive(name, m)
        if (m.start_dim, m.end_dim) != (1, -1):
            raise UnsupportedLayerError(name, m, "only Flatten(start_dim=1, end_dim=-1) is supported")
        self._push(Flatten(name), (int(torch.tensor(self.shape).prod()),))

    def finish(self) -> List[Op]:
        if self.pending is None:
            raise UnsupportedLayerError("", None, "the chain must end with a readout layer (a QuantLinear/"
                                        "QuantConv2d with no neuron after it, giving the logits)")
        self._readout()
        return self.ops

    # -- helpers -------------------------------------------------------------------------------
    def _push(self, op: Op, out_shape, out_bound=None, scale=None) -> None:
        op.in_shape, op.out_shape = tuple(self.shape), tuple(int(v) for v in out_shape)
        op.in_bound = int(self.bound)
        op.out_bound = int(self.bound if out_bound is None else out_bound)
        self.ops.append(op)
        self.shape, self.bound = op.out_shape, op.out_bound
        if scale is not None:
            self.scale = scale

    def _weight(self, name, m) -> None:
        if self.pending is not None:
            raise UnsupportedLayerError(name, m, f"a second weight layer directly after "
                                        f"{self.pending['name']!r}: put an MFNode between them")
        if not isinstance(m, QuantLayerMixin) or m.weight_quantizer is None:
            raise UnsupportedLayerError(name, m, "float weights have no integer codes: quantize the layer "
                                        "(mfp.quantize_model or QuantConv2d/QuantLinear with weight_bits)")
        if isinstance(m, nn.Conv2d):
            if m.padding_mode != "zeros":
                raise UnsupportedLayerError(name, m, f"padding_mode={m.padding_mode!r}: only 'zeros'")
            if len(self.shape) != 3 or self.shape[0] != m.in_channels:
                raise ValueError(f"layer {name!r} expects [{m.in_channels}, H, W] per sample, "
                                 f"but its input is {list(self.shape)}")
        elif len(self.shape) != 1 or self.shape[0] != m.in_features:
            raise ValueError(f"layer {name!r} expects [{m.in_features}] per sample, but its input is "
                             f"{list(self.shape)} (a Flatten missing?)")
        self.pending = dict(name=name, layer=m, bn=None, bn_name=None)

    def _mac(self, m) -> Tuple[IntegerMAC, dict, int, Tuple[int, ...]]:
        e = export_layer(m)
        codes = e["codes"]
        per_out = codes.abs().to(torch.int64).flatten(1).sum(1)
        bound = int(per_out.max()) * int(self.bound)
        geo = {}
        if isinstance(m, nn.Conv2d):
            geo = dict(stride=m.stride, padding=m.padding, dilation=m.dilation, groups=m.groups)
            out = F.conv2d(torch.zeros(1, *self.shape), torch.zeros_like(codes, dtype=torch.float32), None, **geo)
            out_shape = tuple(out.shape[1:])
        else:
            out_shape = (codes.shape[0],)
        return IntegerMAC(e["layer_type"], codes, geo, bound, self.opts["mac"]), e, bound, out_shape

    def _neuron(self, name, node: MFNode) -> None:
        p, self.pending = self.pending, None
        if p is None:
            raise UnsupportedLayerError(name, node, "an MFNode must follow a conv/linear (+ BatchNorm)")
        if node.kernel != "exp":
            raise UnsupportedLayerError(name, node, "MFNode(kernel='learnable') has a full T x T kernel; the "
                                        "engine compiles the exp kernel (a shift-and-add accumulator) only")
        mac, e, mac_bound, out_shape = self._mac(p["layer"])
        kappa, d = channel_affine(e["scale"], e["bias"], p["bn"], self.scale, e["codes"].shape[0])
        static = self.chain.input_type == "static" and not self.ops
        op = self._spiking(p, name, node, mac, e, kappa, d, mac_bound, out_shape, static)
        self._push(op, out_shape, out_bound=1, scale=1.0)

    def _spiking(self, p, name, node, mac, e, kappa, d, mac_bound, out_shape, static) -> SpikingLayer:
        T = self.chain.T
        beta = float(node.beta)
        m, q, exact = dyadic(beta, self.opts["decay_bits"])
        theta_fire = firing_threshold(node.v_threshold, node.membrane_bits)
        F_bits, acc_bound, sign, thr = self._fire_rule(kappa, d, theta_fire, beta, (m, q, exact), mac_bound, static)
        acc_dtype = int_dtype_for(acc_bound * max(m, 1))
        info = dict(weight=p["name"], bn=p["bn_name"], neuron=name, bn_affine=_bn_affine(p["bn"]),
                    layer_type=e["layer_type"],
                    weight_bits=e["bits"], weight_spec=e["weight_bits"], quantizer=e["quantizer"],
                    codes=e["codes"], scale=e["scale"], bias=e["bias"], in_scale=self.scale,
                    kappa=kappa, d=d, beta=beta, beta_exact=exact,
                    decay_exact=static or (exact and (T - 1) * q <= F_bits),
                    tau=float(getattr(node, "tau", 0.0)) or None,
                    v_threshold=float(node.v_threshold), membrane_bits=node.membrane_bits,
                    theta_fire=theta_fire, acc_bits=signed_bits(acc_bound), geometry=mac.geometry)
        return SpikingLayer(name=p["name"], mac=mac, sign=sign, thresholds=thr, m=m, q=q, frac_bits=F_bits,
                            acc_dtype=acc_dtype, acc_bound=acc_bound, mac_bound=mac_bound, static=static,
                            out_shape=out_shape, info=info)

    def _block(self, name, blk) -> None:
        """A residual basic block (``conv1 bn1 sn1 conv2 bn2 (+ shortcut) sn2``): a :class:`ResidualBlock`."""
        if self.pending is not None:
            raise UnsupportedLayerError(name, blk, f"a residual block directly after the weight layer "
                                        f"{self.pending['name']!r}")
        if len(self.shape) != 3:
            raise ValueError(f"block {name!r} expects [C, H, W] maps, got input {list(self.shape)}")
        in_shape, in_bound, in_scale = self.shape, self.bound, self.scale
        n_ops = len(self.ops)
        self.add(f"{name}.conv1", blk.conv1)
        self.add(f"{name}.bn1", blk.bn1)
        self.add(f"{name}.sn1", blk.sn1)
        if len(self.ops) != n_ops + 1 or not isinstance(self.ops[-1], SpikingLayer) or self.ops[-1].static:
            raise UnsupportedLayerError(name, blk, "the block's first layer must be conv + BN + MFNode "
                                        "on spikes (a residual block cannot take the static image)")
        first = self.ops.pop()
        if not isinstance(blk.sn2, MFNode):
            self.add(f"{name}.sn2", blk.sn2)  # names and refuses the neuron
        self._weight(f"{name}.conv2", blk.conv2)
        p2 = self.pending
        self.add(f"{name}.bn2", blk.bn2)
        self.pending = None
        mac2, e2, bound2, out_shape = self._mac(blk.conv2)
        C = e2["codes"].shape[0]
        kappa, d = channel_affine(e2["scale"], e2["bias"], blk.bn2, 1.0, C)
        # the shortcut, in real units rho_c * S_c + e_c
        self.shape, self.bound = in_shape, in_bound
        ds, sc_mac, sc_info = getattr(blk, "downsample", None), None, None
        if ds is None:
            if tuple(in_shape) != tuple(out_shape):
                raise UnsupportedLayerError(name, blk, f"identity shortcut {list(in_shape)} -> "
                                            f"{list(out_shape)}: shapes differ")
            rho, e_sc, sc_bound = torch.full((C,), float(in_scale), dtype=torch.float64), torch.zeros(C, dtype=torch.float64), in_bound
        else:
            mods = list(ds) if isinstance(ds, nn.Sequential) else [ds]
            if len(mods) not in (1, 2) or not isinstance(mods[0], nn.Conv2d) or \
                    (len(mods) == 2 and not isinstance(mods[1], nn.modules.batchnorm._BatchNorm)):
                raise UnsupportedLayerError(f"{name}.downsample", ds, "the shortcut must be a quantized "
                                            "conv (+ BatchNorm)")
            self._weight(f"{name}.downsample.0", mods[0])
            self.pending = None
            sc_mac, e_sc_exp, sc_bound, sc_shape = self._mac(mods[0])
            if tuple(sc_shape) != tuple(out_shape):
                raise UnsupportedLayerError(name, blk, f"shortcut {list(sc_shape)} != main {list(out_shape)}")
            bn_sc = mods[1] if len(mods) == 2 else None
            rho, e_sc = channel_affine(e_sc_exp["scale"], e_sc_exp["bias"], bn_sc, in_scale, C)
            sc_info = dict(codes=e_sc_exp["codes"], scale=e_sc_exp["scale"], weight_bits=e_sc_exp["bits"],
                           bn_affine=_bn_affine(bn_sc))
        P, R, unit = residual_ratio(kappa, rho, self.opts["residual_bits"])
        mac_bound = int((P.abs() * bound2 + R.abs() * sc_bound).max())
        node = blk.sn2
        second = self._spiking(p2, f"{name}.sn2", node, mac2, e2, unit, d + e_sc, mac_bound, out_shape, False)
        second.info.update(residual=True, kappa_main=kappa, rho_shortcut=rho, d_main=d, d_shortcut=e_sc,
                           ratio_bits=self.opts["residual_bits"], shortcut=sc_info)
        op = ResidualBlock(name=name, first=first, second=second, shortcut=sc_mac, p=P, r=R,
                           ratio_bits=self.opts["residual_bits"],
                           info=dict(neuron=f"{name}.sn2", first_neuron=first.info["neuron"]))
        self.shape, self.bound, self.scale = in_shape, in_bound, in_scale
        self._push(op, out_shape, out_bound=1, scale=1.0)

    def _fire_rule(self, kappa, d, theta_fire, beta, decay, mac_bound, static):
        """``(F, acc bound, sgn, thresholds)``: the static rule on the MAC, or the accumulator's."""
        T, (m, q, exact) = self.chain.T, decay
        if static:
            return (0, mac_bound) + static_thresholds(kappa, d, theta_fire, beta, T, mac_bound)
        auto = (T - 1) * q if exact else 16   # an inexact decay is rounded anyway
        F_bits = self.opts["frac_bits"] if self.opts["frac_bits"] is not None else min(auto, 30)
        grow = float(geometric_sums(m / 2 ** q, T)[-1])
        acc_bound = int(mac_bound * 2 ** F_bits * grow) + T + 1   # + T: floor of negatives
        return (F_bits, acc_bound) + integer_thresholds(kappa, d, theta_fire, beta, T, F_bits, acc_bound)

    def _window(self, name, m: CausalWindow) -> None:
        if self.pending is not None:
            raise UnsupportedLayerError(name, m, f"a CausalWindow after the weight layer {self.pending['name']!r}: "
                                        "it must take spikes or the input sequence, before a weight layer")
        if len(self.shape) != 1 or self.chain.input_type == "static":
            raise UnsupportedLayerError(name, m, f"a CausalWindow takes [C] features per step of a sequence, "
                                        f"got {list(self.shape)} ({self.chain.input_type} input)")
        self._push(DelayWindow(name, kernel_size=m.kernel_size, dilation=m.dilation),
                   (m.kernel_size * self.shape[0],))

    def _maxpool(self, name, m) -> None:
        geo = dict(kernel_size=m.kernel_size, stride=m.stride, padding=m.padding, dilation=m.dilation,
                   ceil_mode=m.ceil_mode)
        if getattr(m, "return_indices", False):
            raise UnsupportedLayerError(name, m, "return_indices=True")
        out = F.max_pool2d(torch.zeros(1, *self.shape), **geo)
        self._push(OrPool(name, geometry=geo), out.shape[1:])

    def _sumpool(self, name, geo, divisor) -> None:
        out = F.avg_pool2d(torch.zeros(1, *self.shape), **geo)
        self._push(SumPool(name, geometry=geo, divisor=divisor), out.shape[1:],
                   out_bound=self.bound * divisor, scale=self.scale / divisor)

    def _avgpool(self, name, m) -> None:
        k, pad = _pair(m.kernel_size), _pair(m.padding)
        if m.ceil_mode or (any(pad) and not m.count_include_pad):
            raise UnsupportedLayerError(name, m, "an AvgPool2d whose divisor varies by position "
                                        "(ceil_mode, or padding with count_include_pad=False)")
        divisor = m.divisor_override or k[0] * k[1]
        self._sumpool(name, dict(kernel_size=k, stride=_pair(m.stride or k), padding=pad), divisor)

    def _adaptive(self, name, m) -> None:
        if len(self.shape) != 3:
            raise ValueError(f"layer {name!r} pools [C, H, W] maps, got input {list(self.shape)}")
        out = _pair(m.output_size)
        out = tuple(self.shape[1 + i] if o is None else o for i, o in enumerate(out))
        if out == tuple(self.shape[1:]):
            return  # pooling a map to its own size is the identity (the zoo skips it too)
        if any(s % o for s, o in zip(self.shape[1:], out)):
            raise UnsupportedLayerError(name, m, f"adaptive pooling {list(self.shape[1:])} -> {list(out)} has "
                                        "unequal windows; only sizes that divide evenly compile")
        k = tuple(s // o for s, o in zip(self.shape[1:], out))
        self._sumpool(name, dict(kernel_size=k, stride=k, padding=(0, 0)), k[0] * k[1])

    def _readout(self) -> None:
        p, T = self.pending, self.chain.T
        mac, e, mac_bound, out_shape = self._mac(p["layer"])
        if e["layer_type"] != "linear":
            raise UnsupportedLayerError(p["name"], p["layer"], "the readout (last weight layer) must be a linear layer")
        kappa, d = channel_affine(e["scale"], e["bias"], p["bn"], self.scale, e["codes"].shape[0])
        last = self.chain.readout == "last"   # logits of the last step: a sum over one step
        M, B, unit = readout_integers(kappa, d, 1 if last else T, self.opts["readout_bits"])
        sum_bound = (1 if last else T) * mac_bound
        total = int(M.abs().max()) * sum_bound + int(B.abs().max())
        int_dtype_for(total)  # refuses what int64 cannot hold
        mac = IntegerMAC("linear", e["codes"], {}, mac_bound, self.opts["mac"])
        info = dict(weight=p["name"], bn=p["bn_name"], bn_affine=_bn_affine(p["bn"]), layer_type="linear",
                    weight_bits=e["bits"],
                    weight_spec=e["weight_bits"], quantizer=e["quantizer"], codes=e["codes"], scale=e["scale"],
                    bias=e["bias"], in_scale=self.scale, kappa=kappa, d=d, acc_bits=signed_bits(total),
                    readout_bits=self.opts["readout_bits"])
        op = Readout(name=p["name"], mac=mac, M=M, B=B, unit=unit, sum_bound=sum_bound, last=last, info=info)
        self._push(op, out_shape, out_bound=total)


def _bn_affine(bn):
    """``(a, c)`` of an eval BatchNorm, ``y = a x + c`` (float64), or None."""
    if bn is None:
        return None
    a, c = channel_affine(torch.ones(bn.num_features), None, bn)
    return a, c


def _check_bits(name, v, lo, hi) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"{name} must be an int in [{lo}, {hi}], got {v!r}")
    return v


def compile_model(model: nn.Module, *, T: Optional[int] = None, input_type: Optional[str] = None,
                  input_shape: Optional[Tuple[int, ...]] = None,
                  input_frac_bits: int = DEFAULT_INPUT_FRAC_BITS, input_bits: int = DEFAULT_INPUT_BITS,
                  frac_bits: Optional[int] = None, decay_bits: int = 16, readout_bits: int = 16, residual_bits: int = 16,
                  mac: str = "exact-float") -> IntegerNetwork:
    """Compile ``model`` into an :class:`~.network.IntegerNetwork` (see the module docstring).

    :param T, input_type, input_shape: the input spec (defaults from a zoo model; see :func:`.linearize`)
    :param input_frac_bits: fraction bits ``f`` of the fixed-point input ``round(x * 2^f)``
    :param input_bits: total bits of that input (saturating; range ``+-2^(input_bits-1-f)``)
    :param frac_bits: fraction bits ``F`` of the MF accumulators; ``None``: ``(T-1)*q``, the fewest
        that keep ``(acc * m) >> q`` exact for T steps (``q = 1`` at beta = 1/2)
    :param decay_bits: bits ``q`` allowed for a decay that is no short dyadic fraction (then inexact)
    :param readout_bits: bits of the readout's per-class multiplier
    :param residual_bits: fraction bits ``k`` of a residual block's shortcut-to-main ratio
        (:func:`~.fold.residual_ratio`)
    :param mac: ``"exact-float"`` (fast, bit-exact, see :mod:`.mac`) or ``"int"`` (int64 kernels)

    >>> import torch, torch.nn as nn, mfp_plugin as mfp
    >>> net = nn.Sequential(mfp.QuantLinear(4, 3, weight_bits=2), mfp.MFNode(membrane_bits=2),
    ...                     mfp.QuantLinear(3, 2, weight_bits=8)).eval()
    >>> eng = compile_model(net, T=2, input_shape=(4,))
    >>> [op.kind for op in eng.ops]
    ['spiking', 'readout']
    >>> eng(torch.rand(2, 5, 4)).shape                # frames [T, B, 4] -> logits [B, 2]
    torch.Size([5, 2])
    """
    opts = dict(input_frac_bits=_check_bits("input_frac_bits", input_frac_bits, 0, 24),
                input_bits=_check_bits("input_bits", input_bits, 2, 24),
                frac_bits=None if frac_bits is None else _check_bits("frac_bits", frac_bits, 0, 30),
                decay_bits=_check_bits("decay_bits", decay_bits, 1, 24),
                readout_bits=_check_bits("readout_bits", readout_bits, 0, 24),
                residual_bits=_check_bits("residual_bits", residual_bits, 0, 30), mac=mac)
    if mac not in ("exact-float", "int"):
        raise ValueError(f"mac must be 'exact-float' or 'int', got {mac!r}")
    chain = linearize(model, T=T, input_type=input_type, input_shape=input_shape)
    b = _Builder(chain, opts)
    with torch.no_grad():
        for name, m in chain.layers:
            b.add(name, m)
        ops = b.finish()
    return IntegerNetwork(ops, T=chain.T, input_type=chain.input_type, input_shape=chain.input_shape,
                          input_frac_bits=input_frac_bits, input_bits=input_bits)
