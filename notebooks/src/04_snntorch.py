# %% [markdown]
# # 04 · snnTorch: `MFLeaky` as a drop-in for `snn.Leaky`
#
# snnTorch users write a network as a Python loop over time steps, carrying each neuron's membrane by hand:
#
# ```python
# mem = lif.init_leaky()
# for step in range(num_steps):
#     spk, mem = lif(cur, mem)
# ```
#
# `mfp_plugin.snntorch.MFLeaky` keeps that interface. This notebook takes the network of snnTorch's
# tutorial 5 (`Linear(784, H) -> Leaky -> Linear(H, 10) -> Leaky`, a loop over 25 steps), replaces `snn.Leaky`
# with `MFLeaky` and changes nothing else, then:
#
# 1. reads `MFLeaky`'s contract: what `mem` is, and the three ways to call it;
# 2. trains the network briefly on Fashion-MNIST with `snntorch.functional.ce_rate_loss`;
# 3. draws spike rasters with `snntorch.spikeplot.raster`;
# 4. trains with `snntorch.functional.mse_membrane_loss`, which needs gradients through `mem`;
# 5. shows that the whole sequence in one call, `spk, mem = lif(x_seq)`, equals the step loop;
# 6. converts an existing, trained snnTorch network with `mfp.swap_neurons(net, MFLeaky, old=snn.Leaky)`.

# %%
import copy
import importlib.metadata as md
import platform
import time

import matplotlib.pyplot as plt
import numpy as np
import snntorch as snn
import snntorch.functional as SF
import torch
import torch.nn as nn

import mfp_plugin as mfp
from mfp_plugin.data import FMNIST_CLASSES, find_fashion_mnist_files, get_dataset
from mfp_plugin.snntorch import MFLeaky, reset

print(f"python {platform.python_version()}, torch {torch.__version__}, spikingjelly {md.version('spikingjelly')}, "
      f"snntorch {md.version('snntorch')}, mfp_plugin {mfp.__version__}")
torch.set_num_threads(1)  # small networks: one thread is as fast here, and the numbers do not depend on the core count

# %% [markdown]
# ## 1. What `MFLeaky` computes, and how a call is read
#
# snnTorch's `Leaky` integrates step by step, $U[t] = \beta U[t-1] + X[t] - S[t-1]\,\theta$ (reset by
# subtraction). `MFLeaky` is the memory-free neuron of notebook 01 with snnTorch's names (`beta`, `threshold`,
# `spike_grad`, `init_hidden`, `output`): it fires on the exact leaky integral of its input and **never
# resets**,
#
# $$H[t] = \sum_{i \le t} \beta^{t-i} X[i], \qquad S[t] = \Theta\big(Q_b(H[t]) - \theta\big),$$
#
# with the transient quantizer $Q_b$ only if you pass `membrane_bits=b`. What a call means is decided by its
# arguments, never guessed from the input's shape:
#
# | call | input | `mem` |
# |---|---|---|
# | `spk, mem = lif(x, mem)` | **one step** `[B, ...]` (snnTorch's loop) | the carried state: the exact accumulator $A[t] = \beta A[t-1] + X[t] = H[t]$, unquantized, with gradients; start with `mem = lif.init_leaky()` |
# | `spk, mem = lif(x_seq)` | **a whole sequence** `[T, B, ...]` in one pass of the kernel | the transient potential $Q_b(H[t])$ of every step, `[T, B, ...]` (equal to the loop's `mem` without `membrane_bits`) |
# | `MFLeaky(..., init_hidden=True)`, `spk = lif(x)` | **one step** `[B, ...]` per call, as snnTorch's `init_hidden` (for `nn.Sequential` models) | kept inside, in `lif.mem` (the accumulator $A[t]$); `output=True` returns `(spk, mem)`; reset between sequences with `mfp_plugin.snntorch.reset(net)` or `lif.reset_mem()` |
#
# Passing `mem` together with `init_hidden=True` is a `TypeError`, as in snnTorch; a 2-D input without `mem`
# (and without `init_hidden`) is refused rather than read as a sequence, since it is usually one `[B, N]`
# step. `reset_mechanism` accepts snnTorch's values but none applies: there is no membrane to reset. The cell
# checks each row on a small input.

# %% tags=["check"]
torch.manual_seed(0)
x_seq = torch.rand(6, 2, 3)                              # [T, B, N]
lif = MFLeaky(beta=0.5, membrane_bits=2)

mem = lif.init_leaky()
print(f"init_leaky(): {mem!r} (read as zeros by the first step)")
spk_steps, mem_steps = [], []
for t in range(6):
    spk, mem = lif(x_seq[t], mem)                        # one step [B, N] per call
    spk_steps.append(spk)
    mem_steps.append(mem)
spk_steps, mem_steps = torch.stack(spk_steps), torch.stack(mem_steps)

spk_seq, mem_seq = lif(x_seq)                            # the whole sequence at once
assert torch.equal(spk_seq, spk_steps)
assert torch.equal(mem_seq, mfp.functional.quantize_membrane(mem_steps, 1.0, 2))  # sequence mem = Q_2(loop mem)
print("neuron 0 of sample 0, exact H[t] (loop mem):", [round(v, 3) for v in mem_steps[:, 0, 0].tolist()])
print("                      Q_2(H[t]) (sequence mem):", mem_seq[:, 0, 0].tolist())
print("                      spikes:                 ", spk_seq[:, 0, 0].tolist())

hidden = MFLeaky(beta=0.5, membrane_bits=2, init_hidden=True)
spk_hidden = torch.stack([hidden(x_seq[t]) for t in range(6)])  # one step per call, state kept inside
assert torch.equal(spk_hidden, spk_steps) and torch.equal(hidden.mem, mem_steps[-1])
print("init_hidden=True: one step per call returns spk only; lif.mem holds the last A[t],", tuple(hidden.mem.shape))
reset(hidden)
print("after reset(hidden): lif.mem is", hidden.mem)

# %% [markdown]
# The loop's `mem` is the exact potential, the sequence's `mem` is that potential on the 2-bit grid, and both
# fire at the same steps: whenever $H[t] \ge \theta - \Delta/2 = 0.5$ (0.738, 0.598, 0.604 here), with no
# reset after a spike.
#
# ## 2. The snnTorch tutorial network, with `MFLeaky`
#
# This is the fully connected network of snnTorch's tutorial 5, written as the tutorial writes it; the only
# edit is `MFLeaky(beta=beta)` where the tutorial has `snn.Leaky(beta=beta)`. The static image is the input
# current at every one of the 25 steps. We use 256 hidden neurons instead of the tutorial's 1,000 to keep the
# CPU time small.

# %%
num_inputs, num_hidden, num_outputs = 28 * 28, 256, 10
num_steps, beta = 25, 0.95


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(num_inputs, num_hidden)
        self.lif1 = MFLeaky(beta=beta)          # snnTorch's tutorial: snn.Leaky(beta=beta)
        self.fc2 = nn.Linear(num_hidden, num_outputs)
        self.lif2 = MFLeaky(beta=beta)          # snnTorch's tutorial: snn.Leaky(beta=beta)

    def forward(self, x):
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        spk1_rec, spk2_rec, mem2_rec = [], [], []
        for step in range(num_steps):
            cur1 = self.fc1(x.flatten(1))
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = self.fc2(spk1)
            spk2, mem2 = self.lif2(cur2, mem2)
            spk1_rec.append(spk1)
            spk2_rec.append(spk2)
            mem2_rec.append(mem2)
        self.spk1_rec = torch.stack(spk1_rec)   # hidden spikes [T, B, H], kept for the rasters below
        return torch.stack(spk2_rec), torch.stack(mem2_rec)


torch.manual_seed(0)
net = Net()
print(net)

# %% [markdown]
# ### Data
#
# Training uses the Fashion-MNIST training images if they are installed (`/usr/share/datasets/fashion-mnist`,
# Debian's `dataset-fashion-mnist`, or `$MFP_DATA`; nothing is downloaded), testing the 2,000-image test subset
# bundled with mfp-plugin. Images are normalised with the Fashion-MNIST mean and standard deviation. Without
# the training files the cell says so and falls back, as notebook 02 does, to a fixed random half of the bundled
# test subset for training and the other half for testing: a demonstration of the workflow only.

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
x_test = torch.stack([test_set[i][0] for i in range(len(test_set))])
y_test = torch.tensor([test_set[i][1] for i in range(len(test_set))])
print("training on:", DATA)
print("testing on: ", f"{len(test_set):,} images of the bundled Fashion-MNIST test subset")

# %% [markdown]
# ### Training with `ce_rate_loss`
#
# snnTorch's rate-coded cross-entropy, `SF.ce_rate_loss()`, applies a cross-entropy to the output spikes of
# every step and averages over steps: the target class should fire at every step, the others never.
# `SF.accuracy_rate` counts spikes per class. Adam with a learning rate of 2e-3 (the tutorial's 5e-4 is
# for a longer run), batches of 128, 200 steps: about two fifths of an epoch. Seeds and the data order are fixed.

# %%
BATCH, STEPS, LR = 128, 200, 2e-3


def train(model, loss_fn, steps, output="spk", lr=LR, seed=0):
    """Plain snnTorch-style loop; ``output`` picks what the loss sees: the spikes or the membrane."""
    torch.manual_seed(seed)
    loader = torch.utils.data.DataLoader(train_set, batch_size=BATCH, shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999))
    history, step = [], 0
    model.train()
    while step < steps:
        for data, targets in loader:
            spk_rec, mem_rec = model(data)
            loss = loss_fn(spk_rec if output == "spk" else mem_rec, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(loss.item())
            step += 1
            if step == steps:
                break
    return history


@torch.inference_mode()
def evaluate(model):
    """Test accuracy (%) by spike count (``SF.accuracy_rate``) and by the mean output membrane."""
    model.eval()
    spk_rec, mem_rec = model(x_test)
    by_spikes = 100.0 * SF.accuracy_rate(spk_rec, y_test)
    by_mem = 100.0 * (mem_rec.mean(0).argmax(1) == y_test).float().mean().item()
    return by_spikes, by_mem


start = time.perf_counter()
ce_history = train(net, SF.ce_rate_loss(), STEPS)
print(f"{STEPS} steps in {time.perf_counter() - start:.0f} s; loss {np.mean(ce_history[:20]):.3f} (first 20) "
      f"-> {np.mean(ce_history[-20:]):.3f} (last 20)")

# %% tags=["check"] check_atol=3.0 check_needs="fashion-mnist-train"
acc_spk, acc_mem = evaluate(net)
print(f"MFLeaky net, ce_rate_loss, {STEPS} steps on {DATA}")
print(f"test accuracy: {acc_spk:.1f} % by spike count, {acc_mem:.1f} % by mean output membrane ({len(y_test):,} images)")

# %% [markdown]
# About seven in ten test images are right after less than half an epoch, with a two-layer network. The point is
# that snnTorch's training loop, loss and accuracy functions work unchanged on the memory-free neuron; section 6
# trains the same network with `snn.Leaky` for comparison.
#
# ## 3. Spike rasters
#
# `snntorch.spikeplot.raster(data, ax)` scatters the `(time step, neuron)` coordinates of the spikes of a
# `[T, N]` tensor. `snntorch.spikeplot` imports `pandas` at the top, which neither snnTorch nor mfp-plugin
# requires, so the cell falls back to the same two-line scatter where `pandas` is missing and says which it
# used.

# %%
try:
    import snntorch.spikeplot as splt
    raster, RASTER = splt.raster, "snntorch.spikeplot.raster"
except ImportError as exc:  # snntorch.spikeplot imports pandas
    def raster(data, ax, **kwargs):  # what snntorch.spikeplot.raster does
        return ax.scatter(*torch.where(data.cpu()), **kwargs)
    RASTER = f"the scatter of snntorch.spikeplot.raster (snntorch.spikeplot not importable: {exc})"
print("rasters drawn with", RASTER)

SAMPLE = 0
with torch.inference_mode():
    net.eval()
    spk_out, _ = net(x_test[SAMPLE:SAMPLE + 1])
hidden_spk, out_spk = net.spk1_rec[:, 0], spk_out[:, 0]      # [T, 256], [T, 10]
first = torch.where(hidden_spk.any(0), hidden_spk.argmax(0), num_steps)  # first spike step per neuron (T: never)
order = torch.argsort(first, stable=True)                    # neurons sorted by when they start firing

fig, (ax_h, ax_o) = plt.subplots(1, 2, figsize=(12, 4), width_ratios=[2, 1])
raster(hidden_spk[:, order], ax_h, s=2, c="black")
ax_h.set(xlabel="time step", ylabel="hidden neuron (sorted by first spike)", xlim=(-0.5, num_steps - 0.5),
         ylim=(-3, num_hidden + 2),
         title=f"hidden layer: {int(hidden_spk.sum())} spikes ({100 * hidden_spk.mean():.0f} % of neuron-steps)")
raster(out_spk, ax_o, s=20, c="C3")
ax_o.set_yticks(range(10), FMNIST_CLASSES, fontsize=8)
ax_o.set(xlabel="time step", ylabel="output neuron (class)", xlim=(-0.5, num_steps - 0.5), ylim=(-0.5, 9.5),
         title=f"output layer (label: {FMNIST_CLASSES[int(y_test[SAMPLE])]})")
fig.suptitle(f"Spike rasters of the MFLeaky net for test image {SAMPLE}")
fig.tight_layout()
plt.show()

# %% tags=["check"]
# The check: what holds on any CPU. (How many neurons start when depends on the trained weights, which move a
# little with the CPU's floating-point order, so the counts below are shown, not compared.)
assert bool((hidden_spk[1:] >= hidden_spk[:-1]).all())      # once a hidden neuron fires, it fires at every later step
print(f"all {num_hidden} hidden neurons of image {SAMPLE}: once fired, firing at every later step")

# %%
starts = torch.bincount(first, minlength=num_steps + 1)
print(f"hidden neurons of image {SAMPLE}: {int(starts[0])} fire from step 0, {int(starts[1:num_steps].sum())} start "
      f"later (at steps {sorted(set(first[(first > 0) & (first < num_steps)].tolist()))}), {int(starts[num_steps])} never fire")
print(f"output spikes per class: {dict(zip(FMNIST_CLASSES, out_spk.sum(0).int().tolist()))}")

# %% [markdown]
# The raster looks nothing like the irregular spike trains of an `snn.Leaky` network, and the reason is worth
# knowing. The input current of a hidden neuron is the same at every step (the static image), so its exact
# potential $H[t] = X\,(1 - \beta^{t+1})/(1 - \beta)$ only rises (for $X > 0$) or only falls: without a reset,
# nothing brings it back below the threshold once it is above. Every hidden neuron therefore either never fires
# or fires at every step from its first spike on (the cell asserts it); most of those that fire start at step 0,
# where $H = X \ge 1$, and a few start later. The information is *which* neurons fire and from *when*, not a
# rate; a `Leaky` neuron with the same current would reset and fire at a regular rate. The output layer sees the
# hidden spikes switch on and, for this image, only the correct class fires.
#
# ## 4. Training on the membrane: `mse_membrane_loss`
#
# snnTorch's `SF.mse_membrane_loss()` pulls the output membrane of every step to 1 for the target class and 0
# for the others. It works only if gradients flow through `mem`, which they do in `MFLeaky`'s step form (`mem`
# is the differentiable accumulator, not a detached copy). A fresh network, 100 steps; accuracy is read from the
# mean output membrane.

# %%
torch.manual_seed(1)
net_mem = Net()
start = time.perf_counter()
mse_history = train(net_mem, SF.mse_membrane_loss(), 100, output="mem", seed=1)
print(f"100 steps in {time.perf_counter() - start:.0f} s")

# %% tags=["check"] check_atol=5.0 check_needs="fashion-mnist-train"
net_mem.zero_grad()
spk_rec, mem_rec = net_mem(x_test[:BATCH])
SF.mse_membrane_loss()(mem_rec, y_test[:BATCH]).backward()
print(f"gradient of the membrane loss reaches fc1: |grad| = {net_mem.fc1.weight.grad.norm():.4f}")
print(f"mse_membrane_loss: {np.mean(mse_history[:10]):.3f} (first 10 steps) -> {np.mean(mse_history[-10:]):.3f} (last 10)")
_, acc_mem_only = evaluate(net_mem)
print(f"test accuracy by mean output membrane after 100 steps: {acc_mem_only:.1f} %")

# %%
fig, ax = plt.subplots(figsize=(7, 3.6))
ax.plot(np.arange(1, len(ce_history) + 1), ce_history, label="ce_rate_loss (spikes), section 2")
ax.plot(np.arange(1, len(mse_history) + 1), mse_history, label="mse_membrane_loss (membrane), section 4")
ax.set(xlabel="training step (batch of 128)", ylabel="loss", yscale="log",
       title="snnTorch losses on the MFLeaky network")
ax.legend()
plt.show()

# %% [markdown]
# Both losses fall (their scales are not comparable: a cross-entropy against a mean squared error). The membrane
# loss starts very high: without a reset, an output potential sums up to $1/(1 - \beta) = 20$ steps' worth of
# input current, far from the targets 0 and 1, and the first steps mostly teach the network to scale its currents
# down. After 100 steps the membrane readout is still well behind the spike-trained network: the point here is
# that the gradient flows through `mem`, not that this loss suits this network.
#
# ## 5. The whole sequence in one call equals the step loop
#
# The loop above calls each neuron 25 times. Called without `mem` on `[T, B, ...]`, `MFLeaky` computes all 25
# steps in one pass of its kernel (the fused C scan on the CPU): the same network without a Python loop over
# time. Where the sequence runs the C scan it rounds $\beta A + X$ exactly as the step does, so the spikes and
# the membrane agree **bit for bit**; the cell asserts it on 500 test images.

# %% tags=["check"]
with torch.inference_mode():
    net.eval()
    t0 = time.perf_counter()
    spk_loop, mem_loop = net(x_test[:500])                                   # 25 calls per neuron
    t_loop = time.perf_counter() - t0

    t0 = time.perf_counter()
    cur1 = net.fc1(x_test[:500].flatten(1)).unsqueeze(0).repeat(num_steps, 1, 1)  # [T, B, H]: the same current each step
    spk1, _ = net.lif1(cur1)                                                 # one call for all 25 steps
    spk2, mem2 = net.lif2(net.fc2(spk1))
    t_seq = time.perf_counter() - t0

assert torch.equal(spk1, net.spk1_rec) and torch.equal(spk2, spk_loop) and torch.equal(mem2, mem_loop)
print(f"hidden spikes {tuple(spk1.shape)}, output spikes {tuple(spk2.shape)} and output membrane: "
      f"sequence form == step loop, bit for bit")

# %%
print(f"time on 500 images: step loop {1000 * t_loop:.0f} ms, sequence form {1000 * t_seq:.0f} ms")


# %% [markdown]
# The sequence form is what `MFNode` runs in SpikingJelly's multi-step mode, and what a layer-by-layer
# (asynchronous) deployment executes (notebook 05); the step form is what an online, streaming system runs. Part
# of the speed-up is that the sequence form computes `fc1` of the static image once instead of 25 times; the rest
# is one kernel pass per neuron layer instead of 25 Python calls.
#
# ## 6. Converting an existing snnTorch network with `swap_neurons`
#
# Suppose the network already exists with `snn.Leaky`, perhaps trained. `mfp.swap_neurons(net, MFLeaky,
# old=snn.Leaky)` replaces every `snn.Leaky` at any depth in place and carries over what means the same:
# `beta` (and `learn_beta` if it is a parameter), `threshold`, `spike_grad`, `init_hidden`, `output`,
# `reset_mechanism`; extra keyword arguments (`membrane_bits=2`) are added. The weights are untouched and the
# forward code keeps working, since `MFLeaky` takes the same calls.
#
# Here is the tutorial network exactly as snnTorch writes it (the same class with `snn.Leaky`), trained with
# the same recipe as section 2: it is also the reference for that section.

# %%
class LeakyNet(Net):
    """The tutorial network as snnTorch writes it: snn.Leaky(beta=beta)."""

    def __init__(self):
        super().__init__()
        self.lif1 = snn.Leaky(beta=beta)
        self.lif2 = snn.Leaky(beta=beta)


torch.manual_seed(0)
leaky_net = LeakyNet()
start = time.perf_counter()
leaky_history = train(leaky_net, SF.ce_rate_loss(), STEPS)
print(f"snn.Leaky net: {STEPS} steps in {time.perf_counter() - start:.0f} s")

# %% tags=["check"] check_atol=3.0 check_needs="fashion-mnist-train"
acc_leaky, _ = evaluate(leaky_net)
swapped = mfp.swap_neurons(copy.deepcopy(leaky_net), MFLeaky, old=snn.Leaky)
print("after swap_neurons:", {name: type(m).__name__ for name, m in swapped.named_children()})
print(f"  lif1: beta = {float(swapped.lif1.beta):.2f}, threshold = {swapped.lif1.threshold}, "
      f"membrane_bits = {swapped.lif1.node.membrane_bits}, reset_mechanism = {swapped.lif1.reset_mechanism!r}")
acc_swapped, _ = evaluate(swapped)
fine_tune = train(swapped, SF.ce_rate_loss(), 50)
acc_tuned, _ = evaluate(swapped)
print(f"test accuracy by spike count ({len(y_test):,} images):")
for what, acc in ((f"snn.Leaky net, trained {STEPS} steps", acc_leaky),
                  ("the same weights with MFLeaky, no training", acc_swapped),
                  ("... after 50 fine-tuning steps", acc_tuned),
                  (f"MFLeaky net trained from scratch, {STEPS} steps (section 2)", acc_spk)):
    print(f"  {what:58s} {acc:5.1f} %")

# %% [markdown]
# `reset_mechanism` stays snnTorch's default `"subtract"`, accepted and ignored: an `MFLeaky` has nothing to
# reset. The converted network's weights were trained for neurons that subtract the threshold after every spike,
# yet it loses only about a point without any training, and 50 more steps with the same loop bring it above the
# `snn.Leaky` net (it has then trained 50 steps longer, so that is no comparison of the neurons). The network
# trained from scratch with `MFLeaky` (section 2) is a few points below the `snn.Leaky` one after the same 200
# steps; single runs this short say little about which neuron is better (see `docs/results.md` for the
# comparisons this project has run).
# `mfp_plugin.snntorch.reset(net)` resets every neuron of a model at any depth (snnTorch's own
# `utils.reset` looks only at the top level); the loop here does not need it, since each forward starts from
# `init_leaky()`.
#
# **Takeaways.** `MFLeaky` runs snnTorch code unchanged: `init_leaky()`, `spk, mem = lif(cur, mem)`, the
# `snntorch.functional` losses (the membrane loss too, since `mem` carries gradients), `spikeplot`. The same
# module computes a whole sequence in one call with bit-identical results, and `swap_neurons(net, MFLeaky,
# old=snn.Leaky)` converts an existing snnTorch model. Next: [05_integer_deployment.ipynb](05_integer_deployment.ipynb)
# compiles a trained memory-free network to integer arithmetic.
