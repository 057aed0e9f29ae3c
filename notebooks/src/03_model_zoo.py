# %% [markdown]
# # 03 · The model zoo: a trained memory-free 2-bit checkpoint, inside and out
#
# mfp-plugin ships a timm-style model zoo (`model_zoo.create_model`, `list_models`, `list_pretrained`) with
# trained checkpoints for Fashion-MNIST and its sequential and event versions (notebook 06). This notebook
# loads the default Fashion-MNIST one, `mf_vgg_small.fmnist_w2_m2` (MF
# neurons with a 2-bit transient membrane, 2-bit weights, 8-bit first and last layer, T = 4), and looks at it
# the way you would look at any trained SNN:
#
# 1. its accuracy on the 2,000-image Fashion-MNIST test subset bundled with the package, and a confusion
#    matrix;
# 2. per-layer firing rates, collected with forward hooks on the `MFNode` modules;
# 3. the integer codes of a 2-bit layer and their histogram;
# 4. the model size at the stored bit widths.
#
# Everything runs on the CPU without a network connection, in well under a minute.

# %%
import importlib.metadata as md
import platform

import matplotlib.pyplot as plt
import numpy as np
import torch

import mfp_plugin as mfp
import model_zoo
from mfp_plugin.data import FMNIST_CLASSES, get_dataset
from mfp_plugin.quant import dequantize, model_size

print(f"python {platform.python_version()}, torch {torch.__version__}, spikingjelly {md.version('spikingjelly')}, "
      f"snntorch {md.version('snntorch')}, mfp_plugin {mfp.__version__}")

# %% [markdown]
# ## 1. What the zoo holds
#
# `list_models()` names the architectures (any of them can be built with random weights);
# `list_pretrained()` names the checkpoints, `architecture.tag`. Each checkpoint has a card, the
# `pretrained_cfg`: how it was built, trained and measured.

# %%
print("architectures:", model_zoo.list_models())

# %% tags=["check"]
print("checkpoints:  ", model_zoo.list_pretrained())
model = model_zoo.create_model("mf_vgg_small", pretrained=True).eval()  # default tag; sha256-checked
cfg = model.pretrained_cfg
for key in ("tag", "T", "neuron", "neuron_kwargs", "weight_bits", "first_last_bits", "mean", "std",
            "top1", "subset_top1", "size_kib"):
    print(f"  {key:16s} {cfg[key]}")

# %% [markdown]
# `top1` is the card's accuracy on the full 10,000-image test set, `subset_top1` on the bundled subset that
# we use below. The model takes static images `[B, 1, 28, 28]`, repeats the first conv + BN output over
# T = 4 steps (direct encoding), and returns logits averaged over time:

# %%
print(model)

# %% [markdown]
# ## 2. Accuracy, confusion matrix and firing rates in one pass
#
# The test images are normalised with the card's mean and standard deviation (`cfg=model.pretrained_cfg`).
# A forward hook on each `MFNode` adds up the spikes it emits and the number of neuron-steps, so one pass
# over the 2,000 images gives both the predictions and the firing rate of every spiking layer. No
# `reset_net` is needed between batches: the MF neurons keep nothing between calls (notebook 01).

# %%
test_set = get_dataset("fmnist-bundled", cfg=cfg)
loader = torch.utils.data.DataLoader(test_set, batch_size=250, shuffle=False)

spike_layers = [(name, m) for name, m in model.named_modules() if isinstance(m, mfp.MFNode)]
spike_sum = {name: 0.0 for name, _ in spike_layers}
neuron_steps = {name: 0 for name, _ in spike_layers}


def count_spikes(name):
    def hook(module, inputs, output):  # output: spikes [T, B, C, H, W]
        spike_sum[name] += output.sum().item()
        neuron_steps[name] += output.numel()
    return hook


handles = [m.register_forward_hook(count_spikes(name)) for name, m in spike_layers]
predictions, labels = [], []
with torch.inference_mode():
    for img, label in loader:
        predictions.append(model(img).argmax(1))
        labels.append(label)
for h in handles:
    h.remove()
predictions, labels = torch.cat(predictions), torch.cat(labels)

# %% tags=["check"] check_atol=0.3
accuracy = 100.0 * (predictions == labels).float().mean().item()
print(f"top-1 on the bundled subset: {accuracy:.2f} % of {len(labels)} images (card: {cfg['subset_top1']} %)")

# %% [markdown]
# The number matches the card's `subset_top1`. (The tolerance the test suite allows is a few images:
# spikes of potentials that lie within float rounding of a threshold may flip on another CPU.) On 2,000
# images the binomial standard error is about 0.6 points, so this estimates the full-test-set 93.2 %.

# %%
confusion = torch.zeros(10, 10, dtype=torch.long)
for t, p in zip(labels.tolist(), predictions.tolist()):
    confusion[t, p] += 1

fig, ax = plt.subplots(figsize=(7.5, 6.5))
im = ax.imshow(confusion, cmap="Blues")
for t in range(10):
    for p in range(10):
        if confusion[t, p]:
            ax.text(p, t, int(confusion[t, p]), ha="center", va="center", fontsize=8,
                    color="white" if confusion[t, p] > confusion.max() / 2 else "black")
ax.set_xticks(range(10), FMNIST_CLASSES, rotation=45, ha="right")
ax.set_yticks(range(10), FMNIST_CLASSES)
ax.set(xlabel="predicted class", ylabel="true class",
       title=f"{cfg['architecture']}.{cfg['tag']}: confusion on 2,000 test images")
fig.colorbar(im, ax=ax, label="images")
fig.tight_layout()
plt.show()

# %% tags=["check"] check_atol=1.5
per_class = 100.0 * confusion.diag() / confusion.sum(1)
for name, acc in sorted(zip(FMNIST_CLASSES, per_class.tolist()), key=lambda kv: kv[1]):
    print(f"  {name:12s} {acc:5.1f} %")

# %% [markdown]
# The diagonal holds the correct answers (200 images per class). As for every Fashion-MNIST classifier, the
# errors concentrate among the upper-body garments: *Shirt* is confused with *T-shirt/top*, *Pullover* and
# *Coat*. Trousers, bags, sandals and sneakers are nearly perfect.
#
# ### Firing rates
# The fraction of neuron-steps with a spike, per `MFNode` layer (`features.N` is the index in the
# model's `features` stack printed above):

# %% tags=["check"] check_atol=0.2
rates = {name: 100.0 * spike_sum[name] / neuron_steps[name] for name, _ in spike_layers}
for name, r in rates.items():
    print(f"  {name:12s} {r:5.1f} % of neuron-steps spike")
print(f"  {'overall':12s} {100.0 * sum(spike_sum.values()) / sum(neuron_steps.values()):5.1f} %")

# %%
fig, ax = plt.subplots(figsize=(7, 3.8))
bars = ax.bar(range(len(rates)), list(rates.values()), color="C2")
ax.bar_label(bars, fmt="%.1f", fontsize=8)
ax.set_xticks(range(len(rates)), [f"{n}\n({m.membrane_bits}-bit)" for n, m in spike_layers])
ax.set(xlabel="MFNode layer (transient membrane bits)", ylabel="firing rate (% of neuron-steps)",
       title="Firing rate per spiking layer, bundled test subset, T = 4")
plt.show()

# %% [markdown]
# Between about 15 % and 30 % of neuron-steps carry a spike; the last conv layer, whose output feeds the
# classifier after pooling, fires least. Recall from notebook 01 that a 2-bit MF neuron fires
# whenever its exact potential is at least $\theta - \Delta/2 = 0.5$ and has no reset, so its rate is a
# direct function of how much input current the layer receives; there is no stored membrane to drain.
#
# ## 3. The integer codes of a 2-bit layer
#
# `quantize_model` (and the zoo builders) attach a weight quantizer to each conv/linear layer; the latent
# float weights stay in `layer.weight` for training. `mfp.export_layer(layer)` returns what a deployment
# would store: `int8` codes plus the scale, with `codes * scale` exactly equal to the weights used in the
# forward pass (`layer.quantized_weight()`). Here the third conv, `features.7` (64 to 128 channels, 2-bit
# LSQ, one learned step per tensor):

# %% tags=["check"]
layer = model.features[7]
exported = mfp.export_layer(layer)
codes = exported["codes"]
assert torch.equal(dequantize(exported), layer.quantized_weight())
print(f"layer features.7: {exported['quantizer']}, {exported['bits']}-bit codes in {layer.weight_quantizer.code_range}, "
      f"scale {exported['scale'].flatten().tolist()[0]:.5f}, per_channel={exported['per_channel']}")
print(f"codes: shape {tuple(codes.shape)}, dtype {codes.dtype}")
values, counts = torch.unique(codes, return_counts=True)
for v, c in zip(values.tolist(), counts.tolist()):
    print(f"  code {v:+d}: {c:6d} weights ({100 * c / codes.numel():4.1f} %)  -> value {v * exported['scale'].flatten()[0].item():+.5f}")

# %%
first = mfp.export_layer(model.features[0])  # the 8-bit first conv, for contrast
print(f"features.0: {first['codes'].numel()} weights use {len(torch.unique(first['codes']))} of 256 codes, "
      f"from {first['codes'].min().item()} to {first['codes'].max().item()}")
fig, (ax2, ax8) = plt.subplots(1, 2, figsize=(11, 3.8))
ax2.bar(values.numpy(), counts.numpy(), width=0.6, color="C0")
ax2.set_xticks(values.numpy())
ax2.set(xlabel="integer code", ylabel="number of weights", title="features.7: 2-bit LSQ codes (73,728 weights)")
lo, hi = model.features[0].weight_quantizer.code_range
ax8.hist(first["codes"].flatten().numpy(), bins=np.arange(lo, hi + 2, 4) - 0.5, color="C1")
ax8.set(xlabel="integer code", ylabel="number of weights per 4 codes",
        title=f"features.0: 8-bit LSQ codes ({first['codes'].numel()} weights)")
fig.tight_layout()
plt.show()

# %% [markdown]
# The 2-bit layer uses all four codes of its asymmetric grid $\{-2, -1, 0, +1\}$ (LSQ's default grid,
# `narrow_range=False`): two thirds of the weights are 0 or $+1$ step, a quarter $-1$, and the extra negative
# level $-2$ holds the fewest. The 8-bit first conv, for contrast, spreads its 576 weights over most of its
# 256 levels (printed above): at 8 bits the grid is almost continuous.
#
# ## 4. Model size at the stored bit widths
#
# `mfp_plugin.quant.model_size(model)` counts each quantized weight at its code width and every other
# inference tensor (BatchNorm statistics and affine parameters, biases, LSQ steps) at its dtype width. The
# card's `size_kib` was computed the same way.

# %% tags=["check"]
size = model_size(model)
float_kib = sum(p.numel() for p in model.parameters() if p.is_floating_point()) * 4 / 1024  # params at float32
print(f"stored size: {size.total_kib:.1f} KiB (card: {cfg['size_kib']} KiB)")
print(f"  quantized weights: {size.weight_bits / 8 / 1024:6.1f} KiB")
print(f"  everything else:   {size.other_bits / 8 / 1024:6.1f} KiB (BatchNorm, biases, quantizer steps)")
print(f"the same parameters at float32: {float_kib:.1f} KiB ({float_kib / size.total_kib:.1f}x larger)")
print("largest tensors:")
for name, bits in sorted(size.per_tensor.items(), key=lambda kv: -kv[1])[:5]:
    print(f"  {name:28s} {bits / 8 / 1024:6.1f} KiB")

# %% [markdown]
# The FC classifier (6,272 x 10 weights at 8 bits) and the two 128-channel 2-bit convs dominate. The neurons
# contribute nothing: no parameters with a fixed $\tau$, and no stored membrane, which is where a vanilla QSNN
# would need $b$ bits per neuron of run-time state.
#
# **Takeaways.** `create_model(name, pretrained=True)` gives a checksum-verified, trained memory-free QSNN
# whose card records how it was made; standard PyTorch tools (forward hooks, `inference_mode`) work on
# it unchanged; `export_layer` and `model_size` expose the integer form and the real storage cost. The
# training commands of both checkpoints are in their cards (`cfg["train_command"]`), and
# `docs/results.md` compares MF with the vanilla QSNN and a full-precision SNN on the same recipe.
