import pytest
import torch
import torch.nn as nn
import snntorch as snn
import snntorch.surrogate as st
import snntorch.utils

import mfp_plugin as mfp
from mfp_plugin.functional import exp_kernel
from mfp_plugin.snntorch import MFLeaky, reset
from _reference import mf_reference


def test_mfleaky_conventions_and_values():
    lif = MFLeaky(beta=0.8, threshold=0.9, membrane_bits=2)
    x = torch.rand(7, 3, 4, dtype=torch.float64) * 0.8
    spk, mem = lif(x)
    s_ref, ht_ref, h_ref = mf_reference(x, 0.8, 0.9, 2)
    assert torch.equal(spk, s_ref)
    torch.testing.assert_close(mem, ht_ref)
    # init_hidden=True is snnTorch's one step per call, the accumulator A[t] = H[t] kept in self.mem
    hidden = MFLeaky(beta=0.8, threshold=0.9, membrane_bits=2, init_hidden=True)
    out = torch.stack([hidden(x[t]) for t in range(x.shape[0])])
    assert torch.equal(out, spk)
    torch.testing.assert_close(hidden.mem, h_ref[-1])
    with_mem = MFLeaky(beta=0.8, threshold=0.9, membrane_bits=2, init_hidden=True, output=True)
    steps = [with_mem(x[t]) for t in range(x.shape[0])]
    assert torch.equal(torch.stack([s for s, _ in steps]), spk)
    torch.testing.assert_close(torch.stack([m for _, m in steps]), h_ref)


def test_mfleaky_with_snntorch_spike_grad():
    x = (torch.rand(5, 2, 3, dtype=torch.float64) * 1.5).requires_grad_(True)
    lif = MFLeaky(beta=0.5, spike_grad=st.fast_sigmoid(slope=25))
    spk, _ = lif(x)
    spk.sum().backward()
    # reference: K^T * sigma'(H - theta), sigma' of snnTorch's fast sigmoid
    K = exp_kernel(0.5, 5, dtype=torch.float64)
    h = (K @ x.detach().reshape(5, -1))
    expected = K.t() @ (1.0 / (1.0 + 25 * (h - 1.0).abs()) ** 2)
    torch.testing.assert_close(x.grad.reshape(5, -1), expected)


def test_mfleaky_in_a_snntorch_model_trains():
    net = nn.Sequential(nn.Linear(4, 8), MFLeaky(beta=0.9, init_hidden=True, learn_beta=True), nn.Linear(8, 2))
    x = torch.rand(6, 5, 4)
    out = torch.stack([net(x[t]) for t in range(6)])  # snnTorch's init_hidden loop: one step per call
    assert out.shape == (6, 5, 2)
    out.sum().backward()
    assert net[1].node.decay_logit.grad is not None


def test_reset_helper_reaches_nested_neurons():
    inner = snn.Leaky(beta=0.9, init_hidden=True)
    net = nn.Sequential(nn.Sequential(nn.Linear(3, 3), inner), nn.Sequential(MFLeaky(beta=0.5, init_hidden=True)),
                        mfp.QLIFNode())
    inner(torch.ones(2, 3) * 0.5)
    net[1][0](torch.rand(4, 2, 3))
    net[2](torch.rand(4, 2, 3))
    assert inner.mem.abs().sum() > 0 and net[1][0].mem is not None and net[2].v is not None
    snntorch.utils.reset(net)  # snnTorch's own helper looks only at the top level
    assert inner.mem.abs().sum() > 0
    reset(net)
    assert inner.mem.abs().sum() == 0 and net[1][0].mem is None and net[2].v is None


def test_bad_arguments():
    with pytest.raises(ValueError, match="beta must lie in"):
        MFLeaky(beta=1.0)
    with pytest.raises(TypeError, match="beta must be a float"):
        MFLeaky(beta="0.5")
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
        MFLeaky(beta=0.5)(torch.zeros(3))


# ---------------------------------------------------------------- snnTorch's step-by-step contract
def test_classic_snntorch_loop_carries_the_exact_accumulator():
    # mem = lif.init_leaky(); spk, mem = lif(cur, mem) per step: mem is A[t] = beta A[t-1] + X[t]
    # (unquantized), spikes fire on Q_b(A), and gradients flow through mem (membrane losses).
    lif = MFLeaky(beta=0.7, threshold=0.9, membrane_bits=2)
    x = (torch.rand(6, 3, 4, dtype=torch.float64) * 0.8).requires_grad_(True)
    mem = lif.init_leaky()
    assert isinstance(mem, torch.Tensor) and mem.numel() == 0  # lazily shaped, as snnTorch's
    spks, mems = [], []
    for t in range(6):
        spk, mem = lif(x[t], mem)
        spks.append(spk)
        mems.append(mem)
    spk, mem_seq = torch.stack(spks), torch.stack(mems)
    xr = x.detach().clone().requires_grad_(True)
    s_ref, _, h_ref = mf_reference(xr, 0.7, 0.9, 2)
    assert torch.equal(spk, s_ref)
    torch.testing.assert_close(mem_seq, h_ref)  # the exact potential, not Q_b of it
    w = torch.randn(6, 3, 4, dtype=torch.float64)
    ((mem_seq * w).sum() + spk.sum()).backward()
    ((h_ref * w).sum() + s_ref.sum()).backward()
    torch.testing.assert_close(x.grad, xr.grad)


@pytest.mark.parametrize("bits", [None, 2])
@pytest.mark.parametrize("learn_beta", [False, True])
def test_step_loop_and_sequence_call_agree(bits, learn_beta):
    torch.manual_seed(3)
    x0 = torch.randn(8, 4, 50) * 0.7 + 0.4
    lif = MFLeaky(beta=0.6, membrane_bits=bits, learn_beta=learn_beta)
    xs = x0.clone().requires_grad_(True)
    spk_seq, mem_seq = lif(xs)
    xl = x0.clone().requires_grad_(True)
    mem, spks, mems = lif.init_leaky(), [], []
    for t in range(8):
        spk, mem = lif(xl[t], mem)
        spks.append(spk)
        mems.append(mem)
    spk_loop, h_loop = torch.stack(spks), torch.stack(mems)
    from mfp_plugin.backends import cpu_kernel as ck

    if learn_beta or not ck.is_available():  # the GEMM sums in another order: spikes may differ only at the threshold
        theta = 1.0 if bits is None else 0.5
        far = (h_loop.detach() - theta).abs() > 1e-5
        assert torch.equal(spk_seq[far], spk_loop[far])
    else:  # the C scan rounds beta A + X as the step does
        assert torch.equal(spk_seq, spk_loop)
    ht_loop = h_loop if bits is None else mfp.functional.quantize_membrane(h_loop, 1.0, bits)
    torch.testing.assert_close(mem_seq, ht_loop)
    w = torch.randn(8, 4, 50)
    (spk_seq.sum() + (mem_seq * w).sum()).backward()
    (spk_loop.sum() + (ht_loop * w).sum()).backward()
    torch.testing.assert_close(xs.grad, xl.grad, rtol=1e-4, atol=1e-5)


def test_sequence_runs_the_node_kernel_once(monkeypatch):
    # The sequence form used to run the GEMM and again for mem; now the node's C scan yields both.
    from mfp_plugin.backends import cpu_kernel as ck, scan

    if not ck.is_available():
        pytest.skip("no C compiler: the GEMM path is used")
    calls = []
    real = scan.ExpScan.apply
    monkeypatch.setattr(scan.ExpScan, "apply", lambda x, launcher, *a: calls.append((launcher.name, a[-1])) or real(x, launcher, *a))
    lif = MFLeaky(beta=0.5, membrane_bits=2)
    x = (torch.rand(5, 2, 7) * 1.5).requires_grad_(True)
    spk, mem = lif(x)
    assert calls == [("cpu", True)]
    mem.sum().backward()  # mem used to be detached
    K = exp_kernel(0.5, 5)
    h = K @ x.detach().reshape(5, -1)
    inside = (h > -2.0) & (h < 1.0)  # Q_2's clamp range [-2, 1] in units of D = 1: gradient 1 inside
    torch.testing.assert_close(x.grad.reshape(5, -1), K.t() @ inside.float())


def test_one_step_rules_are_unambiguous():
    lif = MFLeaky(beta=0.5)
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\].*init_leaky"):
        lif(torch.rand(4, 3))  # a [B, N] step without mem is not read as a sequence of T = B
    spk, mem = lif(torch.rand(4, 3), lif.init_leaky())  # ... with mem it is one step
    assert spk.shape == mem.shape == (4, 3)
    with pytest.raises(ValueError, match="init_leaky"):
        lif(torch.rand(5, 3), mem)  # the carried mem must match the step
    with pytest.raises(TypeError, match="init_hidden"):
        MFLeaky(beta=0.5, init_hidden=True)(torch.rand(4, 3), mem)
    with pytest.raises(ValueError, match="kernel='learnable'"):
        MFLeaky(beta=0.5, kernel="learnable", T=4)(torch.rand(4, 3), lif.init_leaky())
    with pytest.raises(TypeError, match="mem"):
        lif(torch.rand(4, 3), [0.0])


def test_reset_mechanism_and_state_helpers():
    x = torch.rand(6, 2, 3) * 1.5
    outs = [MFLeaky(beta=0.5, reset_mechanism=m)(x)[0] for m in ("subtract", "zero", "none")]
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[1], outs[2])  # MF never resets
    with pytest.raises(ValueError, match="reset_mechanism"):
        MFLeaky(beta=0.5, reset_mechanism="soft")
    lif = MFLeaky(beta=0.5, init_hidden=True)
    lif(x)
    assert lif.mem is not None
    mem0 = lif.reset_mem()
    assert lif.mem is None and mem0.numel() == 0


def test_swap_snntorch_leaky_carries_its_hyper_parameters():
    sg_fn = st.fast_sigmoid(slope=10)
    net = nn.Sequential(nn.Linear(3, 4), snn.Leaky(beta=0.75, threshold=0.5, spike_grad=sg_fn, init_hidden=True,
                                                     output=True, reset_mechanism="zero"),
                        nn.Linear(4, 2), snn.Leaky(beta=0.5, learn_beta=True))
    mfp.swap_neurons(net, MFLeaky, old=snn.Leaky, membrane_bits=2)
    a, b = net[1], net[3]
    assert isinstance(a, MFLeaky) and isinstance(b, MFLeaky)
    assert a.beta == pytest.approx(0.75) and a.threshold == pytest.approx(0.5) and a.spike_grad is sg_fn
    assert a.init_hidden and a.output and a.reset_mechanism == "zero" and a.node.membrane_bits == 2
    assert b.node.learnable_decay and b.beta.item() == pytest.approx(0.5) and not b.init_hidden and not b.output
    spk, mem = a(torch.rand(5, 2, 4))  # init_hidden + output: (spk, mem)
    assert spk.shape == mem.shape == (5, 2, 4)


def test_snntorch_tutorial_network_trains_one_step():
    import snntorch.functional as SF

    torch.manual_seed(0)
    T, B, n_in, n_hidden, n_out = 5, 8, 6, 12, 3

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(n_in, n_hidden)
            self.lif1 = MFLeaky(beta=0.8, membrane_bits=2)
            self.fc2 = nn.Linear(n_hidden, n_out)
            self.lif2 = MFLeaky(beta=0.8, learn_beta=True)

        def forward(self, x):
            mem1 = self.lif1.init_leaky()
            mem2 = self.lif2.init_leaky()
            spk2_rec, mem2_rec = [], []
            for step in range(x.shape[0]):
                cur1 = self.fc1(x[step])
                spk1, mem1 = self.lif1(cur1, mem1)
                cur2 = self.fc2(spk1)
                spk2, mem2 = self.lif2(cur2, mem2)
                spk2_rec.append(spk2)
                mem2_rec.append(mem2)
            return torch.stack(spk2_rec), torch.stack(mem2_rec)

    net = Net()
    x = torch.rand(T, B, n_in) * 2
    targets = torch.randint(0, n_out, (B,))
    before = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    spk_rec, mem_rec = net(x)
    loss = SF.ce_rate_loss()(spk_rec, targets) + SF.mse_membrane_loss()(mem_rec, targets)
    opt.zero_grad()
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    opt.step()
    assert all(not torch.equal(p0, p) for p0, p in zip(before, net.parameters()))
