# %% [markdown]
# # 02 · Swap memory-free neurons into a SpikingJelly network and train it
#
# You already have a SpikingJelly model. Two calls make it a memory-free, 2-bit quantized SNN:
#
# ```python
# mfp.swap_neurons(net, mfp.MFNode, membrane_bits=2)         # every IF/LIF/PLIF node -> MFNode
# mfp.quantize_model(net, weight_bits=2, first_last_bits=8)   # every Conv2d/Linear -> 2-bit weights (8-bit first/last)
# ```
#
# Everything else stays SpikingJelly: its layers, `functional.set_step_mode`, `functional.reset_net`, its
# training loop. This notebook does that to SpikingJelly's own `FashionMNISTNet` (the Parametric-LIF
# network of Fang et al., ICCV 2021, in `spikingjelly.activation_based.model.parametric_lif_net`), trains
# it for 300 steps on Fashion-MNIST on the CPU, plots the loss and measures the accuracy on the
# 2,000-image test subset bundled with mfp-plugin. The run is deliberately short (about a minute on two
# cores): it shows the workflow, not the accuracy the network reaches when trained to convergence.

# %%
import importlib.metadata as md
import importlib.util
import platform
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional, neuron, surrogate
from spikingjelly.activation_based.model import parametric_lif_net

import mfp_plugin as mfp
from mfp_plugin.data import find_fashion_mnist_files, get_dataset
from mfp_plugin.quant import model_size

print(f"python {platform.python_version()}, torch {torch.__version__}, spikingjelly {md.version('spikingjelly')}, "
      f"snntorch {md.version('snntorch')}, mfp_plugin {mfp.__version__}")

# %% [markdown]
# ## 1. The SpikingJelly network, as SpikingJelly builds it
#
# `FashionMNISTNet(channels, spiking_neuron, **neuron_kwargs)` is conv-BN-PLIF-pool twice, then two fully
# connected layers with PLIF neurons and a voting layer (100 outputs averaged in groups of 10). The paper
# uses `channels=128`; we use 32 to keep the CPU time small. The neurons are built exactly as in
# SpikingJelly's Fashion-MNIST example: `ParametricLIFNode` with an arctan surrogate and `detach_reset`.

# %% tags=["check"]
torch.manual_seed(0)
CHANNELS = 32
net = parametric_lif_net.FashionMNISTNet(
    channels=CHANNELS, spiking_neuron=neuron.ParametricLIFNode,
    init_tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True,
)


def neuron_types(model):
    names = [type(m).__name__ for m in model.modules() if "Node" in type(m).__name__]
    return {n: names.count(n) for n in sorted(set(names))}


print("neurons:", neuron_types(net))
float_kib = model_size(net).total_kib
print(f"size with float32 weights: {float_kib:.1f} KiB")

# %% [markdown]
# ## 2. Memory-free and 2-bit: two calls
#
# `swap_neurons` replaces every SpikingJelly `IFNode`, `LIFNode` and `ParametricLIFNode` in place and carries
# over what means the same in `MFNode`: the threshold, $\tau$ (for PLIF, its learned
# $1/\mathrm{sigmoid}(w)$), the surrogate function and the step mode; the keyword arguments you pass
# (`membrane_bits=2`) are added. `quantize_model` turns every `Conv2d`/`Linear` (SpikingJelly's
# `layer.Conv2d`/`layer.Linear` included) into its quantized class in place, keeping the float weights
# as the latent weights that the optimizer updates: 2-bit LSQ weights inside, 8-bit for the first and the
# last layer. `model_size` counts weights at their stored bit widths and every other tensor (BatchNorm,
# biases, quantizer steps) at float32.
#
# One difference is carried for you: SpikingJelly's PLIF uses `decay_input=True`,
# $H = V + (X - V)/\tau$, while `MFNode` sums undecayed inputs, $H[t] = \sum_i \beta^{t-i} X[i]$, a potential
# $\tau$ times larger. `swap_neurons` therefore sets the threshold to $\tau\,\theta$ (2.0 below, for
# $\theta = 1$ and PLIF's initial $\tau = 2$), so a swapped neuron fires as the PLIF neuron did up to that
# neuron's first reset.

# %% tags=["check"]
mfp.swap_neurons(net, mfp.MFNode, membrane_bits=2)
mfp.quantize_model(net, weight_bits=2, first_last_bits=8)
functional.set_step_mode(net, "m")  # multi-step: every layer takes [T, B, ...] at once

print("neurons:", neuron_types(net))
print("first neuron:", net.conv_fc[2])
for name, m in net.named_modules():
    if hasattr(m, "weight_quantizer"):
        print(f"  {name:10s} {type(m).__name__:12s} {m.weight_bits}-bit weights, {m.weight.numel():>7,d} of them")
print(f"size at stored bit widths: {model_size(net).total_kib:.1f} KiB ({float_kib / model_size(net).total_kib:.1f}x smaller)")

# %% [markdown]
# The size shrinks by more than an order of magnitude: the 3.2 M weights of the first fully connected layer
# now take 2 bits each. The neurons themselves add nothing: `MFNode` with a fixed $\tau$ has no parameters, and no
# membrane is stored in multi-step mode.
#
# ## 3. Data
#
# Training uses the real Fashion-MNIST training images, found by `mfp_plugin.data` in
# `/usr/share/datasets/fashion-mnist` (Debian's `dataset-fashion-mnist` package), `$MFP_DATA` or a folder
# you pass; nothing is downloaded. Test images come from the 2,000-image subset of the official test split
# that ships with mfp-plugin (`get_dataset("fmnist-bundled")`, 200 per class). Both are normalised with the
# Fashion-MNIST mean and standard deviation. If the training files are missing, the cell says so and
# falls back to training on a fixed random half (1,000 images) of the bundled test subset and testing on
# the other half: a demonstration of the workflow only, not a Fashion-MNIST result.

# %%
test_set = get_dataset("fmnist-bundled")
if find_fashion_mnist_files(train=True) is not None:
    train_set = get_dataset("fmnist", "train", augment=False)
    DATA = f"Fashion-MNIST train split ({len(train_set):,} images)"
else:
    print("The Fashion-MNIST training files are NOT installed (e.g. `apt-get install dataset-fashion-mnist`).\n"
          "FALLBACK: training on a fixed random half (1,000 images) of the bundled TEST subset, testing on the other half.")
    order = torch.randperm(len(test_set), generator=torch.Generator().manual_seed(0))
    train_set = torch.utils.data.Subset(test_set, order[:1000].tolist())
    test_set = torch.utils.data.Subset(test_set, order[1000:].tolist())
    DATA = "FALLBACK: 1,000 images of the bundled test subset"
print("training on:", DATA)
print("testing on: ", f"{len(test_set):,} images of the bundled Fashion-MNIST test subset")

# %% [markdown]
# ## 4. A plain SpikingJelly-style training loop
#
# Direct encoding: the static image is repeated over $T = 4$ time steps, `[B, 1, 28, 28]` to
# `[T, B, 1, 28, 28]`. The output of the voting layer is a firing rate per class; averaged over time and
# compared with the one-hot label by a mean-squared error, as in SpikingJelly's own Fashion-MNIST example.
# `functional.reset_net(net)` after every batch is what a SpikingJelly loop always does; for MF neurons in
# multi-step mode it is harmless and unnecessary (notebook 01), but it keeps the loop correct for any
# neuron. Seeds and the data order are fixed, so re-running the notebook on the same machine reproduces
# the numbers.

# %%
T, BATCH, STEPS, LR = 4, 32, 300, 1e-3
torch.manual_seed(0)
loader = torch.utils.data.DataLoader(train_set, batch_size=BATCH, shuffle=True,
                                     generator=torch.Generator().manual_seed(0), drop_last=True)
optimizer = torch.optim.Adam(net.parameters(), lr=LR)


def encode(img):
    return img.unsqueeze(0).repeat(T, 1, 1, 1, 1)  # [B, C, H, W] -> [T, B, C, H, W]


losses, train_acc = [], []
net.train()
start = time.perf_counter()
step = 0
while step < STEPS:
    for img, label in loader:
        rate = net(encode(img)).mean(0)  # [B, 10] firing rates
        loss = F.mse_loss(rate, F.one_hot(label, 10).float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        functional.reset_net(net)
        losses.append(loss.item())
        train_acc.append((rate.argmax(1) == label).float().mean().item())
        step += 1
        if step % 50 == 0:
            print(f"step {step:3d}  loss {np.mean(losses[-50:]):.4f}  train accuracy {100 * np.mean(train_acc[-50:]):5.1f} %"
                  f"  ({time.perf_counter() - start:.0f} s)")
        if step == STEPS:
            break

# %%
window = 20
steps = np.arange(1, len(losses) + 1)
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.8))
for ax, series, label in ((ax_loss, losses, "MSE loss (firing rate vs one-hot)"),
                          (ax_acc, 100 * np.array(train_acc), "training-batch accuracy (%)")):
    ax.plot(steps, series, color="C0", alpha=0.3, lw=0.8, label="per batch")
    ax.plot(steps[window - 1:], np.convolve(series, np.ones(window) / window, mode="valid"), color="C0", lw=2,
            label=f"mean of {window} batches")
    ax.set(xlabel="training step (batch of 32)", ylabel=label)
    ax.legend()
ax_loss.set_title("Training loss")
ax_acc.set_title("Accuracy on the training batches")
fig.suptitle(f"SpikingJelly FashionMNISTNet with MFNode, 2-bit weights and membrane; data: {DATA}", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# The loss falls quickly in the first hundred steps and keeps decreasing slowly, and the accuracy on the
# batches being trained on rises with it; 300 steps of 32 images are 9,600 images, a sixth of one epoch.
# The batch-to-batch noise (light lines) comes from the small batches.
#
# ## 5. Accuracy on the bundled test subset
#
# Evaluation switches BatchNorm and dropout to inference (`net.eval()`) and uses the same encoding.

# %% tags=["check"] check_atol=3.0 check_needs="fashion-mnist-train"
@torch.inference_mode()
def accuracy(model, dataset, batch_size=500):
    model.eval()
    correct = 0
    for img, label in torch.utils.data.DataLoader(dataset, batch_size=batch_size):
        correct += (model(encode(img)).mean(0).argmax(1) == label).sum().item()
        functional.reset_net(model)
    return 100.0 * correct / len(dataset)


print(f"trained on {DATA}, {STEPS} steps")
print(f"test accuracy: {accuracy(net, test_set):.1f} % on {len(test_set):,} images")

# %% [markdown]
# About four out of five test images are classified correctly after a sixth of an epoch, with 2-bit
# weights and 2-bit membranes that are never stored. For a trained reference: `mfp_plugin`'s own
# `mf_vgg_small` with the same bit widths reaches 93.2 % on the full test set (notebook 03,
# `docs/results.md`).
#
# ## 6. On a GPU: the `cupy` backend
#
# SpikingJelly's legacy generation (0.0.0.0.14) selects fused CUDA kernels with `backend="cupy"` on each
# neuron, set for a whole net with `functional.set_backend(net, "cupy")`. `MFNode` follows that convention:
# in multi-step mode `backend="cupy"` runs its scan as one fused CUDA kernel forward and backward (it needs
# `pip install "mfp-plugin[cuda12]"` or `[cuda13]`). SpikingJelly 2.x has no `set_backend`, so we set the
# attribute on the `MFNode` modules. The cell runs the GPU path only where CUDA and cupy exist and otherwise
# prints what it would do.

# %%
mf_nodes = [m for m in net.modules() if isinstance(m, mfp.MFNode)]
if torch.cuda.is_available() and importlib.util.find_spec("cupy") is not None:
    net.cuda()
    if hasattr(functional, "set_backend"):            # SpikingJelly 0.0.0.0.14
        functional.set_backend(net, "cupy", instance=mfp.MFNode)
    else:                                             # SpikingJelly 2.x
        for m in mf_nodes:
            m.backend = "cupy"
    img, label = next(iter(torch.utils.data.DataLoader(test_set, batch_size=256)))
    with torch.inference_mode():
        net.eval()
        pred = net(encode(img.cuda())).mean(0).argmax(1).cpu()
    print(f"cupy backend on {torch.cuda.get_device_name()}: {len(mf_nodes)} MFNode modules, "
          f"accuracy on 256 test images {100 * (pred == label).float().mean():.1f} %")
    for m in mf_nodes:
        m.backend = "torch"
    net.cpu()
else:
    print(f"No CUDA device with cupy here (CUDA available: {torch.cuda.is_available()}, "
          f"cupy installed: {importlib.util.find_spec('cupy') is not None}). On a GPU this cell would:\n"
          f"  net.cuda(); set backend='cupy' on the {len(mf_nodes)} MFNode modules "
          "(functional.set_backend(net, 'cupy', instance=mfp.MFNode) on SpikingJelly 0.0.0.0.14);\n"
          "  then run the same forward pass with fused CUDA kernels (same spikes as backend='torch' up to\n"
          "  float summation order).")

# %% [markdown]
# **Takeaways.** `swap_neurons` + `quantize_model` turn an existing SpikingJelly network into a memory-free
# 2-bit QSNN in place; the rest of the SpikingJelly workflow (step modes, `reset_net`, the training loop,
# the `cupy` backend name) is unchanged. Next: [03_model_zoo.ipynb](03_model_zoo.ipynb) loads a fully
# trained checkpoint of this kind and looks inside it.
