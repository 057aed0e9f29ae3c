r"""Export to NIR (the Neuromorphic Intermediate Representation, ``pip install nir``).

Mapping (one NIR node per entry, in a chain):

* conv / linear -> ``Conv2d`` / ``Affine`` with the **dequantized** weights
  ``codes * scale`` (bit width, quantizer and scale in ``metadata``);
* BatchNorm (eval), ``y = a_c x + c_c`` -> a ``Scale`` node (``a_c`` over the
  layer's output shape) and the shift ``c_c`` as the next ``LI``'s leak
  voltage, ``v_leak = c_c / (1 - beta)`` (a constant input ``c`` and a leak
  ``v_leak`` enter forward Euler as ``c = (dt/tau) v_leak``). NIR has no
  BatchNorm node, and a grouped 1x1 ``Conv2d`` fails NIR's type check;
* MFNode (exp kernel) -> ``LI`` (leaky integrator, no reset) + ``Threshold``.
  NIR is continuous-time: :math:`\tau \dot v = (v_{leak} - v) + R I`; with a
  forward-Euler step ``dt`` this is :math:`v \leftarrow (1 - dt/\tau) v + (dt R/\tau) I`,
  so :math:`\tau = dt/(1-\beta)`, :math:`R = \tau/dt`, :math:`v_{leak} = 0` give
  the MF accumulator :math:`H[t] = \beta H[t-1] + X[t]` exactly (``dt = 1``:
  :math:`\tau = 2` at :math:`\beta = 1/2`, SpikingJelly's ``tau``);
* NIR's ``Threshold`` fires on ``v > threshold``, MF on ``H >= theta'``: the
  exported threshold is the float32 just below :math:`\theta'`
  (``nextafter``), which is the same rule for float32 potentials; the
  transient b-bit quantizer is already inside :math:`\theta' = \theta - \Delta/2`.
  ``metadata`` keeps :math:`\theta`, :math:`\theta'`, ``membrane_bits``, the rule;
* MaxPool2d over spikes -> ``SumPool2d`` + ``Threshold(0.5)``: a window
  with any spike sums to >= 1 (OR, exactly);
* AvgPool2d -> ``AvgPool2d``; Flatten -> ``Flatten`` (per sample, ``start_dim=0``);
* the readout -> ``Affine`` -> ``Output``; the prediction averages the
  per-step outputs over T (``metadata``).

Refused (:class:`~.errors.UnsupportedLayerError`): a causal window
(``CausalWindow``, the zoo's ``mf_seq_tcn``): NIR has a ``Delay`` node but no
concatenation, so a chain cannot say ``cat(x[t], x[t-d], ...)``.

What NIR cannot say is kept in ``metadata`` (bit widths, integer codes'
scales, the ``>=`` rule, T, the input's fixed point) and in ``docs/deployment.md``.
"""
from __future__ import annotations

from typing import Dict, List, Tuple, Union

import numpy as np
import torch
from torch import nn

from .compiler import compile_model
from .errors import UnsupportedLayerError
from .network import IntegerNetwork
from .ops import DelayWindow, Flatten, OrPool, Readout, SpikingLayer, SumPool

__all__ = ["to_nir"]


def _nir():
    try:
        import nir
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("deploy.to_nir needs the `nir` package: pip install nir") from e
    return nir


def _f32(t) -> np.ndarray:
    return np.asarray(torch.as_tensor(t).detach().double().numpy(), dtype=np.float32)


def _weight_meta(info: dict) -> dict:
    scale = info["scale"].detach().reshape(-1).double().numpy()
    return {"weight_bits": int(info["weight_bits"]), "weight_spec": str(info["weight_spec"]),
            "quantizer": str(info["quantizer"]), "weight_scale": scale.astype(np.float64),
            "weight_is": "codes * weight_scale (dequantized; codes are integers in the quantizer's range)"}


def _weight_node(nir, op, info: dict):
    w = info["codes"].double() * info["scale"].double().reshape(-1, *([1] * (info["codes"].dim() - 1)))
    bias = np.zeros(w.shape[0], np.float32) if info["bias"] is None else _f32(info["bias"])
    if info["layer_type"] == "conv2d":
        g = op.mac.geometry
        return nir.Conv2d(input_shape=tuple(op.in_shape[1:]), weight=_f32(w), stride=tuple(g["stride"]),
                          padding=tuple(g["padding"]) if not isinstance(g["padding"], str) else g["padding"],
                          dilation=tuple(g["dilation"]), groups=int(g["groups"]), bias=bias,
                          metadata=_weight_meta(info))
    return nir.Affine(weight=_f32(w), bias=bias, metadata=_weight_meta(info))


def _bn_scale(nir, op, info: dict):
    """BatchNorm's per-channel factor ``a_c`` as a ``Scale`` over the layer's output shape."""
    a, _ = info["bn_affine"]
    shape = tuple(op.out_shape)
    full = a.reshape((-1,) + (1,) * (len(shape) - 1)).expand(shape)
    return nir.Scale(scale=_f32(full), metadata={"mfp_op": "BatchNorm (eval) y = a x + c: the factor a; "
                                                           "c is the next LI's v_leak * (1 - beta)"})


def _neuron_nodes(nir, op: SpikingLayer, dt: float):
    info, shape = op.info, tuple(op.out_shape)
    beta = info["beta"]
    tau = dt / (1.0 - beta)
    leak = torch.zeros(shape, dtype=torch.float64)
    if info["bn_affine"] is not None:  # a constant input c is v_leak = c / (1 - beta) (Euler: (dt/tau) v_leak = c)
        c = info["bn_affine"][1]
        leak = (c / (1.0 - beta)).reshape((-1,) + (1,) * (len(shape) - 1)).expand(shape)
    li = nir.LI(tau=np.full(shape, tau, np.float32), r=np.full(shape, tau / dt, np.float32),
                v_leak=_f32(leak),
                metadata={"mfp_neuron": "MFNode(kernel='exp')", "beta": beta, "dt": dt, "reset": "none",
                          "discretization": "forward Euler: v <- (1 - dt/tau) v + (dt r / tau) I = beta v + I"})
    theta = float(np.float32(info["theta_fire"]))
    below = np.nextafter(np.float32(theta), np.float32(-np.inf))
    thr = nir.Threshold(threshold=np.full(shape, below, np.float32),
                        metadata={"mfp_rule": "fires iff v >= theta_fire; NIR fires iff v > threshold, so "
                                              "threshold = nextafter(float32(theta_fire), -inf)",
                                  "theta_fire": info["theta_fire"], "v_threshold": info["v_threshold"],
                                  "membrane_bits": int(info["membrane_bits"] or 0),
                                  "membrane_quantizer": "transient Q_b folded into theta_fire = theta - Delta/2"
                                                        if info["membrane_bits"] else "none"})
    return li, thr


def _pair(v) -> Tuple[int, int]:
    return tuple(int(u) for u in v) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _pool_nodes(nir, op) -> List[Tuple[str, object]]:
    g = op.geometry
    k, s, p = _pair(g["kernel_size"]), _pair(g["stride"] or g["kernel_size"]), _pair(g["padding"])
    if isinstance(op, OrPool):
        if _pair(g.get("dilation", 1)) != (1, 1) or g.get("ceil_mode"):
            raise ValueError(f"{op.name}: a dilated or ceil_mode MaxPool2d has no NIR form")
        pool = nir.SumPool2d(kernel_size=np.array(k), stride=np.array(s), padding=np.array(p),
                             metadata={"mfp_op": "MaxPool2d over spikes = OR = [window sum >= 1]"})
        orr = nir.Threshold(threshold=np.full(tuple(op.out_shape), 0.5, np.float32),
                            metadata={"mfp_op": "OR of the pooled spikes"})
        return [(op.name, pool), (f"{op.name}.or", orr)]
    return [(op.name, nir.AvgPool2d(kernel_size=np.array(k), stride=np.array(s), padding=np.array(p)))]


def to_nir(model_or_net: Union[nn.Module, IntegerNetwork], *, dt: float = 1.0, **compile_kwargs):
    """A ``nir.NIRGraph`` of a compiled network (or of ``deploy.compile(model, **compile_kwargs)``).

    ``dt``: the length of one time step in NIR's continuous time (default 1).
    Write it with ``nir.write(path, graph)``.
    """
    nir = _nir()
    if not float(dt) > 0:
        raise ValueError(f"dt must be a positive time step, got {dt!r}")
    net = model_or_net if isinstance(model_or_net, IntegerNetwork) else compile_model(model_or_net, **compile_kwargs)
    net.require_chain("to_nir")
    windows = [op for op in net.ops if isinstance(op, DelayWindow)]
    if windows:
        raise UnsupportedLayerError(windows[0].name, None, "a causal window (CausalWindow) has no NIR form: NIR "
                                    "has Delay but no concatenation of delayed copies; compile and run it with "
                                    "deploy.compile instead")
    nodes: Dict[str, object] = {"input": nir.Input(input_type={"input": np.array(net.input_shape)})}
    order = ["input"]

    def add(name, node):
        if name in nodes:
            raise ValueError(f"duplicate NIR node name {name!r}")
        nodes[name] = node
        order.append(name)

    for op in net.ops:
        if isinstance(op, (SpikingLayer, Readout)):
            add(op.name, _weight_node(nir, op, op.info))
            if isinstance(op, Readout) and op.info["bn_affine"] is not None:
                raise ValueError(f"{op.name}: a BatchNorm after the readout has no NIR form here")
            if op.info["bn_affine"] is not None:
                add(op.info["bn"], _bn_scale(nir, op, op.info))
            if isinstance(op, SpikingLayer):
                li, thr = _neuron_nodes(nir, op, float(dt))
                add(f"{op.info['neuron']}.li", li)
                add(f"{op.info['neuron']}.threshold", thr)
        elif isinstance(op, (OrPool, SumPool)):
            for name, node in _pool_nodes(nir, op):
                add(name, node)
        elif isinstance(op, Flatten):
            add(op.name, nir.Flatten(input_type={"input": np.array(op.in_shape)}, start_dim=0, end_dim=-1))
        else:  # pragma: no cover - every op kind is handled above
            raise TypeError(f"no NIR form for {type(op).__name__}")
    add("output", nir.Output(output_type={"output": np.array(net.readout.out_shape)},
                             metadata={"aggregation": f"the prediction is the argmax of the last of T={net.T} "
                                                      "steps' outputs" if net.readout.last else
                                                      f"the prediction is the argmax of the mean over T={net.T} "
                                                      "steps of the per-step outputs"}))
    edges = list(zip(order[:-1], order[1:]))
    meta = {"source": "mfp_plugin.deploy.to_nir", "T": net.T, "input_type": net.input_type, "dt": float(dt),
            "encoding": "direct: the analog input is presented at every step" if net.input_type == "static"
                        else "frames: one input per step",
            "integer_engine_input": f"round(x * 2^{net.input_frac_bits}) in {net.input_bits} bits"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)
