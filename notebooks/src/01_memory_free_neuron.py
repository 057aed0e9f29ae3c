# %% [markdown]
# # 01 · The memory-free neuron (`MFNode`) against a quantized and a float LIF
#
# A quantized SNN (QSNN) stores each neuron's membrane potential at low precision between time
# steps. This notebook puts one neuron of each kind on the same input and looks at what happens
# to that stored state:
#
# | name here | class | what it keeps between time steps |
# |---|---|---|
# | **float LIF** | SpikingJelly `neuron.LIFNode` | a float32 membrane |
# | **QLIF 2-bit** | `mfp_plugin.QLIFNode(membrane_bits=2)`: the vanilla QSNN baseline | a 2-bit membrane |
# | **MF exact** | `mfp_plugin.MFNode()` | nothing (multi-step mode) |
# | **MF 2-bit** | `mfp_plugin.MFNode(membrane_bits=2)` | nothing; the potential is quantized to 2 bits *transiently* |
#
# The equations (this project's definition, see `docs/method.md`), with decay
# $\beta = 1 - 1/\tau$, threshold $\theta = 1$ and the signed 2-bit grid
# $Q_2(u) = \Delta\,\mathrm{clamp}(\mathrm{round}(u/\Delta), -2, 1)$, $\Delta = \theta$:
#
# * QLIF: $H[t] = \beta\,\hat U[t-1] + X[t]$, spike $S[t] = [H[t] \ge \theta]$, hard reset to 0, then the
#   stored state is **rounded**: $\hat U[t] = Q_2(U[t])$.
# * MF: $H[t] = \sum_{i \le t} \beta^{t-i} X[i]$ is recomputed from the whole input history at every step;
#   $\tilde H[t] = Q_2(H[t])$ is used to fire and then thrown away; $S[t] = [\tilde H[t] \ge \theta]$.
#   There is no reset.
#
# What you will see:
# 1. a slow, sub-threshold input that the float LIF and MF integrate to a spike, while the 2-bit QLIF
#    rounds it away at every step (its history is erased);
# 2. the same effect over a sweep of input strengths (a dead zone of the 2-bit QLIF);
# 3. that MF keeps nothing between calls;
# 4. that streaming one step at a time gives exactly the multi-step spikes;
# 5. that a transient 2-bit quantizer is nothing but a threshold offset: fire iff $H \ge \theta - \Delta/2$.

# %%
import importlib.metadata as md
import platform

import matplotlib.pyplot as plt
import numpy as np
import torch
from spikingjelly.activation_based import neuron

import mfp_plugin as mfp
from mfp_plugin import functional as mff

print(f"python {platform.python_version()}, torch {torch.__version__}, spikingjelly {md.version('spikingjelly')}, "
      f"snntorch {md.version('snntorch')}, mfp_plugin {mfp.__version__}")

# %% [markdown]
# ## The four neurons
#
# SpikingJelly's `LIFNode` integrates $H = V + (X - V)/\tau$ by default (`decay_input=True`). With
# `decay_input=False` and `v_reset=0` it computes $H[t] = \beta V[t-1] + X[t]$ with a hard reset to 0, the
# same recurrence as `QLIFNode` without the rounding, so the four neurons differ only in what the
# equations above say. All of them run in multi-step mode on a `[T, N]` tensor (T time steps, N
# independent neurons) and record their potentials (`store_v_seq=True`).

# %%
TAU = 10.0  # beta = 0.9: a slow leak


def make_neurons(tau=TAU):
    return {
        "float LIF": neuron.LIFNode(tau=tau, decay_input=False, v_reset=0.0, step_mode="m", store_v_seq=True),
        "QLIF 2-bit": mfp.QLIFNode(tau=tau, membrane_bits=2, store_v_seq=True),
        "MF exact": mfp.MFNode(tau=tau, store_v_seq=True),
        "MF 2-bit": mfp.MFNode(tau=tau, membrane_bits=2, store_v_seq=True),
    }


for name, node in make_neurons().items():
    print(f"{name:11s} {node}")

# %% [markdown]
# ## 1. A slow sub-threshold input
#
# Input $X[t] = 0.12$ for the first 20 of $T = 32$ steps, then 0. Each single step is far below the
# threshold $\theta = 1$; only a neuron that accumulates the steps can reach it: the float potential
# tends to $0.12 / (1 - \beta) = 1.2$.

# %% tags=["check"]
T = 32
x = torch.zeros(T, 1)
x[:20] = 0.12
neurons = make_neurons()
spikes = {name: node(x) for name, node in neurons.items()}
for name, s in spikes.items():
    times = (s[:, 0].nonzero().flatten() + 1).tolist()
    print(f"{name:11s} {int(s.sum()):2d} spikes at t = {times}")

# %%
t = np.arange(1, T + 1)
fig, (ax_in, ax_v, ax_s) = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True, height_ratios=[1, 2.2, 1.2])
ax_in.step(t, x[:, 0], where="mid", color="k")
ax_in.set(ylabel="input X[t]", title="Slow input: 0.12 per step for 20 steps (tau = 10, beta = 0.9)")

lif, qlif, mf, mf2 = (neurons[k] for k in ("float LIF", "QLIF 2-bit", "MF exact", "MF 2-bit"))
ax_v.plot(t, lif.v_seq[:, 0], "o-", ms=3, label="float LIF: V[t] (after reset)")
ax_v.plot(t, qlif.h_seq[:, 0], "s-", ms=3, label="QLIF 2-bit: H[t] before rounding")
ax_v.plot(t, qlif.v_seq[:, 0], "s--", ms=3, label="QLIF 2-bit: stored Q2(U[t])")
ax_v.plot(t, mf.h_seq[:, 0], "-", color="grey", lw=2.5, alpha=0.6, label="MF: exact H[t] (never stored)")
ax_v.plot(t, mf2.v_seq[:, 0], "^-", ms=3, label="MF 2-bit: transient Q2(H[t])")
ax_v.axhline(1.0, color="r", lw=0.8, ls=":", label="threshold theta = 1")
ax_v.axhline(0.5, color="m", lw=0.8, ls=":", label="theta - Delta/2 = 0.5")
ax_v.set(ylabel="potential", title="Potentials over time")
ax_v.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))

for row, (name, s) in enumerate(spikes.items()):
    ax_s.eventplot(t[s[:, 0].bool().numpy()], lineoffsets=row, linelengths=0.7, colors=f"C{row}")
ax_s.set(yticks=range(4), yticklabels=list(spikes), ylim=(-0.6, 3.6), xlabel="time step t", ylabel="neuron",
         title="Spikes")
fig.tight_layout()
plt.show()

# %% [markdown]
# What the figure shows:
#
# * **QLIF 2-bit** (squares): its pre-rounding potential $H[t]$ is 0.12 at every step. The stored state
#   $Q_2(0.12) = 0$ because 0.12 is smaller than half a grid step ($\Delta/2 = 0.5$), so the next step
#   starts from 0 again. Twenty steps of input leave no trace: this is the *loss of historical
#   information* of a stored low-bit membrane. It never fires.
# * **Float LIF** integrates to $\theta$ at $t = 18$, fires once and resets.
# * **MF exact** computes the same $H[t]$ as the float LIF's trajectory before the spike (grey line). It
#   reaches $\theta$ at $t = 18$ too, but MF has **no reset**: it fires for as long as $H[t] \ge \theta$
#   (three steps), then the potential decays once the input stops.
# * **MF 2-bit** quantizes the *exact* $H[t]$ to $\{-2, -1, 0, 1\}$ only to decide whether to fire; nothing
#   rounded is fed back. It fires as soon as $H[t] \ge 0.5$ (section 5 explains why 0.5) and stops seven
#   steps after the input ends, when $H$ has leaked below 0.5.
#
# The quantization error of MF stays within $\Delta/2$ at each step and never compounds; the error of
# QLIF is fed back into the recurrence.

# %% [markdown]
# ## 2. A sweep of input strengths
#
# One call of each neuron on N = 101 neurons at once, neuron $n$ receiving the constant input
# $a_n \in [0, 1]$ for all 32 steps. The plot counts spikes per neuron.

# %% tags=["check"]
amplitudes = torch.arange(201) / 200                 # 0, 0.005, ..., 1
x_sweep = amplitudes.expand(T, -1).contiguous()      # [T, N]: neuron n gets amplitudes[n] at every step
counts = {name: node(x_sweep).sum(0) for name, node in make_neurons().items()}

beta = 1 - 1 / TAU
reach = sum(beta**i for i in range(T))               # H[T] for a constant input of 1
predicted = {"float LIF": 1.0 / reach, "QLIF 2-bit": 0.5, "MF exact": 1.0 / reach, "MF 2-bit": 0.5 / reach}
for name, c in counts.items():
    print(f"{name:11s} fires from input {amplitudes[c > 0].min().item():.3f} on (predicted: {predicted[name]:.4f})")

# %%
fig, ax = plt.subplots(figsize=(7, 4))
for name, c in counts.items():
    ax.plot(amplitudes, c, label=name, lw=2 if "MF" in name else 1.5)
ax.axvline(0.5, color="grey", ls=":", lw=0.8)
ax.text(0.51, 2, "Delta/2 = 0.5", color="grey", fontsize=8)
ax.set(xlabel="constant input per step", ylabel="spikes in T = 32 steps",
       title="Spike count against input strength (tau = 10)")
ax.legend()
plt.show()

# %% [markdown]
# A constant input $a$ brings the exact potential to $H[T] = a \sum_{i<T} \beta^i \approx 9.66\,a$ after
# 32 steps. The float LIF starts firing once that reaches $\theta$, at $a \approx 0.104$ (printed: the
# first grid point above it). MF exact fires from the same point, and more often than the LIF at the same
# input because it does not reset. MF 2-bit fires from half of that input: its effective threshold is
# $\theta - \Delta/2 = 0.5$. The 2-bit QLIF has a **dead zone**: any input below
# $\Delta/2 = 0.5$ per step is rounded to zero before it can accumulate, whatever $\tau$ is. In a trained
# network such inputs are common: most pre-activations are small.

# %% [markdown]
# ## 3. MF keeps nothing between calls
#
# In multi-step mode (`step_mode="m"`, the default) MF consumes a whole `[T, ...]` sequence and keeps no
# state afterwards, so calling it twice gives the same spikes and `functional.reset_net` is harmless but
# unnecessary. QLIF, like every SpikingJelly neuron, carries its stored membrane into the next call and
# must be reset between samples.

# %% tags=["check"]
torch.manual_seed(0)
x_rand = torch.rand(8, 4, 16)  # [T, B, N]

mf = mfp.MFNode(tau=2.0, membrane_bits=2)
first, second = mf(x_rand), mf(x_rand)
print("MF:   second call equals the first:", torch.equal(first, second))
print("      memories after the calls:", dict(mf.named_memories()), "| state_dict keys:", list(mf.state_dict()))

qlif = mfp.QLIFNode(tau=2.0, membrane_bits=2)
first, second = qlif(x_rand), qlif(x_rand)
print("QLIF: second call equals the first:", torch.equal(first, second))
print("      memories after the calls:", {k: tuple(v.shape) for k, v in qlif.named_memories()})
mfp.reset_states(qlif)
print("      after reset_states, a third call equals the first:", torch.equal(qlif(x_rand), first))

# %% [markdown]
# `named_memories()` is SpikingJelly's list of a neuron's state. MF has two slots, `acc` and `history`,
# used only by the streaming mode of the next section; after multi-step calls both are `None`, and its
# `state_dict` is empty (the exp kernel with a fixed $\tau$ has no parameters). The
# QLIF membrane `v` has the shape of one time step of the input, `[B, N]`.

# %% [markdown]
# ## 4. Streaming equals multi-step
#
# For online use, `step_mode="s"` feeds one time step `[B, ...]` per call. MF then keeps one exact
# float accumulator $A[t] = \beta A[t-1] + X[t]$ (equal to $H[t]$) and quantizes it transiently, so its
# spikes equal the multi-step ones. Between sequences, reset it with `mfp.reset_states` (or SpikingJelly's
# `functional.reset_net`). The cell below streams two different sequences through one streaming neuron
# and asserts that each matches the multi-step result bit for bit.

# %% tags=["check"]
torch.manual_seed(1)
sequences = [torch.rand(16, 8, 100) * 0.6, torch.rand(16, 8, 100) * 0.6]  # two sequences [T, B, N]

multi = mfp.MFNode(tau=2.0, membrane_bits=2)                   # step_mode="m"
stream = mfp.MFNode(tau=2.0, membrane_bits=2, step_mode="s")
for k, seq in enumerate(sequences):
    expected = multi(seq)
    streamed = torch.stack([stream(seq[t]) for t in range(seq.shape[0])])
    state = {name: None if v is None else tuple(v.shape) for name, v in stream.named_memories()}
    assert torch.equal(streamed, expected), "streaming and multi-step spikes differ"
    print(f"sequence {k}: {int(expected.sum())} spikes, streaming == multi-step; streaming state {state}")
    mfp.reset_states(stream)  # next sequence starts from A = 0

# %% [markdown]
# Without the `reset_states` call the second sequence would start from the first one's accumulator, as
# with any stateful SpikingJelly neuron in single-step mode.

# %% [markdown]
# ## 5. A transient quantizer is a threshold offset
#
# Since $Q_b$ rounds half up, $Q_b(H) \ge \theta$ exactly when $H \ge \theta - \Delta/2$. Quantizing the
# potential *transiently* (outside any recurrence) therefore changes only where the neuron fires:
# `mfp_plugin.functional.firing_threshold(theta, bits)` returns that point. The cell prints it for several
# widths and checks it on an `MFNode`: with T = 1 the potential is the input itself, so we can feed a fine
# grid of potentials and compare the spikes with $[H \ge \theta']$.

# %% tags=["check"]
theta = 1.0
h = (torch.arange(-512, 1537) / 1024).reshape(1, -1)  # T = 1: H[1] = X[1], a grid of step 1/1024
for bits in (2, 3, 4, 8, None):
    thr = mff.firing_threshold(theta, bits)
    s = mfp.MFNode(membrane_bits=bits, v_threshold=theta)(h)
    assert torch.equal(s, (h >= thr).to(s.dtype))
    first = h[s.bool()].min().item()
    delta = f"{mff.membrane_step(theta, bits):.4f}" if bits else "  -   "
    print(f"membrane_bits={str(bits):4s} Delta={delta}  fires iff H >= {thr:.4f}  (lowest firing H on the grid: {first:.4f})")

# %%
h_line = torch.linspace(-0.5, 1.5, 801)
fig, (ax_q, ax_f) = plt.subplots(1, 2, figsize=(10, 3.8))
for bits, style in ((2, "-"), (3, "--"), (4, ":")):
    ax_q.plot(h_line, mff.quantize_membrane(h_line, theta, bits), style, label=f"Q_{bits}(H)")
    ax_f.plot(h_line, (h_line >= mff.firing_threshold(theta, bits)).float(), style,
              label=f"{bits}-bit: theta' = {mff.firing_threshold(theta, bits):.3f}")
ax_q.plot(h_line, h_line, color="grey", lw=0.8, label="H (exact)")
ax_f.plot(h_line, (h_line >= theta).float(), color="grey", lw=0.8, label="exact: theta' = 1")
ax_q.axhline(theta, color="r", ls=":", lw=0.8)
ax_q.set(xlabel="exact potential H", ylabel="quantized potential", title="Transient quantizer Q_b (theta = 1)")
ax_f.set(xlabel="exact potential H", ylabel="spike S", title="Firing rule: S = [Q_b(H) >= theta] = [H >= theta']")
ax_q.legend(fontsize=8)
ax_f.legend(fontsize=8, loc="upper left")
fig.tight_layout()
plt.show()

# %% [markdown]
# Left: $Q_b$ is a staircase whose top step sits exactly at $\theta$. Right: the spike as a function of the
# exact potential is a single step at $\theta' = \theta - \Delta/2$ ($0.5$ for 2 bits, $0.833$ for 3, $0.929$
# for 4). Because the neuron fires on $[H \ge \theta']$, the surrogate gradient of `MFNode` is centred
# at $\theta'$ and sees the exact potential (see `docs/method.md`, "Backward of the spike").
#
# **Takeaways.** A stored low-bit membrane (QLIF) forgets any input smaller than $\Delta/2$ per step. MF
# recomputes the exact potential from the input history at each step, so its quantizer only moves the
# threshold; it keeps no state between multi-step calls and streams step by step with identical spikes.
# Next: [02_swap_into_spikingjelly.ipynb](02_swap_into_spikingjelly.ipynb) puts MF neurons into an
# existing SpikingJelly network and trains it.
