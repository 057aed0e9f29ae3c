# %% [markdown]
# # 05 · Integer deployment: two schedules, agreement with the float model, SynOps, energy, memory, NIR
#
# A trained memory-free QSNN is meant to run on hardware that has no floating point. `mfp_plugin.deploy`
# compiles the float PyTorch model into **integer-only arithmetic**: int8 weight codes, integer MACs, the
# exp decay $\beta = 1/2$ as a right shift, and BatchNorm, scale, bias and the firing threshold folded into
# one integer threshold per channel and time step. This notebook takes the shipped checkpoint
# `mf_vgg_small.fmnist_w2_m2` (notebook 03) and
#
# 1. compiles it with `deploy.compile` and looks at what came out;
# 2. runs it under both schedules, **layer by layer** (the paper's layer-asynchronous inference) and
#    **streaming** (one time step through the whole net at a time), and checks that every op emits the same
#    integers;
# 3. measures the integer engine against the float model on 300 bundled test images: top-1 of both and the
#    spike agreement of every layer;
# 4. counts what it does on real inputs with `deploy.report`: firing rates, synaptic operations (SynOps)
#    against the MACs of the same network as an ANN, energy under a stated convention, and memory;
# 5. exports it to NIR, the Neuromorphic Intermediate Representation.
#
# The details of the arithmetic are in `docs/deployment.md`; here we use the public API only. Everything
# runs on the CPU without a network connection in well under a minute.

# %%
import importlib.metadata as md
import importlib.util
import platform

import matplotlib.pyplot as plt
import numpy as np
import torch

import mfp_plugin as mfp
import model_zoo
from mfp_plugin import deploy
from mfp_plugin.data import get_dataset

print(f"python {platform.python_version()}, torch {torch.__version__}, spikingjelly {md.version('spikingjelly')}, "
      f"snntorch {md.version('snntorch')}, mfp_plugin {mfp.__version__}")

# %% [markdown]
# ## 1. Compile
#
# `deploy.compile(model)` walks the model as a chain (the zoo VGG's `features`, flatten, `classifier`) and
# turns each conv + BatchNorm + `MFNode` into one **spiking layer** of the integer engine, each max pool into an
# OR of spikes, and the last linear layer into an integer **readout**. It reads $T$, the input shape and the
# direct encoding from the model's card. Anything it cannot express in integers (float weights, a `QLIFNode`,
# a residual branch) is refused with `deploy.UnsupportedLayerError` rather than approximated.

# %% tags=["check"]
model = model_zoo.create_model("mf_vgg_small", pretrained=True).eval()  # fmnist_w2_m2, the default tag
cfg = model.pretrained_cfg
test_set = get_dataset("fmnist-bundled", cfg=cfg)                        # normalised as the model expects
net = deploy.compile(model)
print(f"{cfg['architecture']}.{cfg['tag']} -> {type(net).__name__}")
print(net)

# %% [markdown]
# Reading the listing:
#
# * The input is the float model's own normalised image `[B, 1, 28, 28]`; the engine turns it into a
#   20-bit fixed-point integer with 16 fraction bits, `round(x * 2^16)`, and never touches a float after that.
# * `features.0` is **static**: with direct encoding the image is the same at every step, so the first
#   layer needs one integer MAC per image and a per-step threshold, and no accumulator at all.
# * Every hidden spiking layer keeps an int32 accumulator `acc = 2^F · G[t]` of the integer input history
#   $G[t] = \sum_{i \le t} \beta^{t-i} A[i]$. With $\beta = 1/2$ (`beta=1/2^1`) the decay is `acc >> 1`, and
#   $F = 3$ fraction bits make every shift over $T = 4$ steps exact: the integer history is exact, not an
#   approximation of it.
# * Pooling of spikes is an OR; the readout sums its integer MAC over $T$ in int64 and takes the argmax.
#
# ## 2. Layer by layer or step by step: the same integers
#
# `net.run(x, schedule)` runs the engine. `"layer"` lets each op consume all $T$ input steps and emit all $T$
# output steps before the next op starts: no per-neuron state outlives its layer (memory-free, property
# P3 of `docs/method.md`). `"stream"` pushes one time step through every op, then the next, keeping one
# accumulator per neuron: what an online, event-driven chip would do. With `trace=True` both return the
# output of every op, `[T, B, ...]` integers (spikes are `uint8`), besides the integer logits.

# %% tags=["check"]
BATCH = 32
x = torch.stack([test_set[i][0] for i in range(BATCH)])  # the first 32 bundled test images, [32, 1, 28, 28]
labels = torch.tensor([test_set[i][1] for i in range(BATCH)])
by_layer = net.run(x, "layer", trace=True)
by_step = net.run(x, "stream", trace=True)

assert torch.equal(by_layer.logits_int, by_step.logits_int)
for name, out in by_layer.outputs.items():
    assert torch.equal(out, by_step.outputs[name]), name
    print(f"  {name:12s} {str(list(out.shape)):22s} {str(out.dtype):12s} {int(out.sum()):>9,d} spikes, "
          f"identical under both schedules")
print(f"integer logits: {by_layer.logits_int.dtype} {list(by_layer.logits_int.shape)}, identical; "
      f"predictions {by_layer.prediction[:12].tolist()} ...")

# %% [markdown]
# Every op, from the first layer's spikes to the pooled and flattened trains that enter the readout, emits
# exactly the same integers in both orders, and so do the logits. This is what "memory-free and
# asynchronous" buys on hardware: the network can be scheduled as whole spike trains layer after layer
# (no neuron state kept across layers) or as a stream, without changing a single spike.
#
# `res.logits` is the integer logit times one constant, comparable with the float model's time-averaged
# logits. On this batch:

# %%
with torch.no_grad():
    float_logits = model(x)
int_logits = by_layer.logits.float()
fig, ax = plt.subplots(figsize=(5.2, 4.8))
ax.scatter(float_logits.flatten(), int_logits.flatten(), s=8, alpha=0.6)
lim = [float(min(float_logits.min(), int_logits.min())) - 1, float(max(float_logits.max(), int_logits.max())) + 1]
ax.plot(lim, lim, color="grey", lw=0.8, ls=":", label="y = x")
ax.set(xlabel="float model logit (mean over T)", ylabel="integer engine logit (x one constant)",
       title=f"{BATCH} test images x 10 classes: float vs integer logits")
ax.legend()
plt.show()

# %% tags=["check"] check_atol=3
gap = (int_logits - float_logits).abs()
print(f"largest |integer - float| logit: {gap.max():.4f}; images with any gap above 1e-3: "
      f"{int((gap.max(1).values > 1e-3).sum())} of {BATCH}")
print(f"argmax equal on {int((float_logits.argmax(1) == by_layer.prediction).sum())} of {BATCH} images")

# %% [markdown]
# The points lie on the diagonal. In 24 of the 32 images the two sets of logits agree to float precision; in
# the other 8 a few spikes flipped somewhere in the network (section 3 says where), which moves the
# readout's sum by a few of its weights: at most a quarter of a logit unit on a range of $\pm 20$, and no
# prediction changes.
#
# ## 3. The integer engine against the float model
#
# `deploy.agreement(model, net, data, limit=N)` runs the float model and the integer engine (layer schedule)
# side by side on the first N images and compares every spike. Two numbers per layer:
#
# * **free-running**: the integer network on its own, so a flip in one layer can cause flips downstream;
# * **local**: each layer is fed the *float* model's spikes of the layer before it, so only its own
#   rounding shows.

# %% tags=["check"] check_atol=0.3
N_AGREE = 300
ag = deploy.agreement(model, net, test_set, limit=N_AGREE)
print(f"{ag['n']} bundled test images: top-1 float {ag['top1_float']:.2f} %, integer {ag['top1_integer']:.2f} %, "
      f"same argmax on {100 * ag['argmax_agreement']:.2f} % of images")
print(f"{'layer':12s} {'firing rate':>11s} {'spike agreement, free-running':>30s} {'local':>10s}")
for l in ag["layers"]:
    print(f"{l['name']:12s} {l['firing_rate_float']:11.3f} {100 * l['spike_agreement']:29.4f}% "
          f"{100 * l['spike_agreement_local']:9.4f}%")

# %%
names = [l["name"] for l in ag["layers"]]
per_million = lambda v: 1e6 * (1 - v)  # noqa: E731
xs = np.arange(len(names))
fig, ax = plt.subplots(figsize=(7, 3.8))
ax.bar(xs - 0.2, [per_million(l["spike_agreement"]) for l in ag["layers"]], 0.4, label="free-running")
ax.bar(xs + 0.2, [per_million(l["spike_agreement_local"]) for l in ag["layers"]], 0.4, label="local (float input)")
ax.set_xticks(xs, names)
ax.set(xlabel="spiking layer", ylabel="differing spikes per million",
       title=f"Integer engine vs float model, {ag['n']} test images, T = 4")
ax.legend()
plt.show()

# %% [markdown]
# Both models agree on every prediction, and top-1 is the same. Per layer:
#
# * **Locally, every hidden layer agrees 100 %**: given the same input spikes, the integer arithmetic of
#   layers `features.3`, `.7` and `.10` reproduces the float model's spikes exactly on these images.
# * **All differences start in the first layer.** Its input is the analog image, rounded to $2^{-17}$ by the
#   fixed point, and the float model's own float32 conv and BN round too; a neuron whose potential lies
#   within that of the threshold can flip (a couple of spikes per million). Each flip then moves a few
#   potentials downstream, so the free-running counts grow with depth, to about one spike in ten thousand
#   by the last layer; none of that changes a prediction here.
#
# `docs/deployment.md` has the same measurement on all 2,000 bundled images, and the cost of fewer
# input bits (`deploy.compile(model, input_frac_bits=..., input_bits=...)`).
#
# ## 4. What it costs: SynOps, energy, memory
#
# `deploy.report(model, data, limit=N)` repeats the side-by-side run and, on the way, counts what the integer
# engine really does with the tensors it processes. We run it on 100 images (the command-line equivalent is
# `mfp report mf_vgg_small.fmnist_w2_m2 --data fmnist-bundled`) and print it with `deploy.format_table`.
#
# * **SynOps** (synaptic operations, accumulates): every input spike times the number of output neurons it
#   reaches, summed over $T$. **SNN MACs**: the first layer's multiply-accumulates on the analog image (once per
#   image, static input). **ANN MACs**: the same network run once as an ANN.
# * **Energy** is a **convention, not a hardware estimate**: 0.9 pJ per accumulate and 4.6 pJ per
#   multiply-accumulate, the 32-bit float figures for a 45 nm process of Horowitz, "Computing's energy
#   problem" (ISSCC 2014), which SNN papers use to compare with each other. The same table prices an 8-bit
#   integer add at 0.03 pJ, and memory access, which dominates real chips, is left out.

# %% tags=["check"] check_atol=0.3
rep = deploy.report(model, test_set, net=net, limit=100, name=f"{cfg['architecture']}.{cfg['tag']}")
print(deploy.format_table(rep))

# %% [markdown]
# `deploy.plot_report` draws the same dict: the firing rate of each spiking layer, SynOps against ANN MACs
# per layer (log scale), and the neuron state kept between steps under both schedules.

# %%
fig = deploy.plot_report(rep)
fig.set_size_inches(16, 4.8)                  # a little more room for the titles
ops_ax = fig.axes[1]                          # SynOps vs MACs: headroom so that the legend covers no bar
ops_ax.set_ylim(3e4, 1e9)
ops_ax.legend(fontsize=8, loc="upper center")
fig.tight_layout()
plt.show()

# %% [markdown]
# How to read the report:
#
# * **Firing rates** of 0.14-0.31 spikes per neuron per step, at $T = 4$, mean that a neuron fires about once
#   per image. Each spike reaches $3 \times 3 \times C_\text{out}$ neurons of the next conv, so every hidden
#   layer performs *more* SynOps than the same layer of an ANN performs MACs (11-43 % more here). The SNN is
#   not cheaper because it does fewer operations; under the convention it is cheaper (about 4.3x, 78 against
#   335 µJ per image) only because an accumulate is priced at a fifth of a multiply-accumulate. Lower firing
#   rates or a shorter $T$ are what would cut operations.
# * **Memory.** The weights with the engine's threshold tables take 128 KiB (the float model at its stored
#   bit widths: 130.9 KiB, notebook 03). In the **layer** schedule only one layer is live at a time and no
#   neuron state survives it, so the figure is the largest layer's accumulators while it runs; in the
#   **stream** schedule every neuron of every layer keeps its accumulator between steps. MF's accumulator is
#   *exact* (14-15 bits in the hidden layers, printed as `acc`), so it costs more state than the 2-bit
#   membrane of a vanilla QSNN of the same shape (QLIF-2) and less than a float LIF. What MF gets for it is
#   that this state holds the exact input history: nothing is rounded away (notebook 01).
#
# ## 5. Export to NIR
#
# [NIR](https://neuroir.org) is a common graph format that neuromorphic simulators and chips import.
# `deploy.to_nir(net)` writes each layer with its **dequantized** weights (`codes x scale`, with the bit width
# and scale in the node's `metadata`), BatchNorm as a `Scale`, each `MFNode` as a leaky integrator `LI` with no
# reset followed by a `Threshold`, and max pooling of spikes as a `SumPool2d` + `Threshold` (an OR). NIR
# carries the float semantics that the integer engine reproduces; the shift decay and threshold tables
# themselves are not NIR. The cell runs where the optional `nir` package is installed.

# %% tags=["check"]
if importlib.util.find_spec("nir") is not None:
    graph = deploy.to_nir(net)
    kinds = [type(node).__name__ for node in graph.nodes.values()]
    print(f"NIR graph: {len(graph.nodes)} nodes, {len(graph.edges)} edges (a chain)")
    print("node types:", {k: kinds.count(k) for k in dict.fromkeys(kinds)})
    print("first neuron:", " -> ".join(f"{n} ({type(graph.nodes[n]).__name__})"
                                       for n in ("features.0", "features.1", "features.2.li", "features.2.threshold")))
    thr = graph.nodes["features.2.threshold"].metadata
    print(f"  its threshold metadata: theta_fire = {thr['theta_fire']}, v_threshold = {thr['v_threshold']}, "
          f"membrane_bits = {thr['membrane_bits']}")
    print("graph metadata:", graph.metadata)
else:
    print("The optional `nir` package is not installed (pip install nir); deploy.to_nir would return a "
          "nir.NIRGraph\nof Conv2d/Scale/LI/Threshold/SumPool2d/Flatten/Affine nodes, written with nir.write(path, graph).")

# %% [markdown]
# The 2-bit transient membrane quantizer appears only as the threshold $\theta' = \theta - \Delta/2 = 0.5$
# (notebook 01, section 5); NIR fires on $v > \theta$, so the exported threshold is the float32 number just
# below $\theta'$, and `metadata` records the rule. `nir.write("net.nir", graph)` saves it.
#
# **Takeaways.** `deploy.compile` turns the trained 2-bit memory-free checkpoint into integer-only arithmetic
# whose layer-by-layer and streaming schedules give identical spikes and logits; against the float model it
# agrees on every prediction and, layer by layer, on all but a few spikes per ten thousand, all traced
# back to the rounding of the analog input. `deploy.report` counts SynOps, energy under the stated 45 nm
# convention, and memory on real data; `deploy.to_nir` hands the network to other neuromorphic tools.
# Next: [06_temporal_and_event_data.ipynb](06_temporal_and_event_data.ipynb) leaves static images for
# sequences and event streams.
