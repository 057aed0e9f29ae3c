"""The engine's Trainer/train_one_epoch/evaluate on networks that are not zoo models, checked against
hand-computed values and straight runs."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from mfp_plugin.engine import Trainer, TrainConfig, evaluate, train_one_epoch


class NoisyBlobs(Dataset):
    """Two Gaussian classes; ``__getitem__`` adds fresh torch noise: augmentation drawn in the DataLoader workers."""

    def __init__(self, n=48):
        g = torch.Generator().manual_seed(0)
        self.y = torch.arange(n) % 2
        self.x = torch.randn(n, 6, generator=g) + 2.0 * self.y[:, None].float()

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i] + 0.3 * torch.randn(6), int(self.y[i])


class SpikingClassifier(nn.Module):
    """A network a user builds with SpikingJelly: repeat the input over T steps, LIF, average the output."""

    def __init__(self, T=3):
        super().__init__()
        from spikingjelly.activation_based import neuron

        self.T = T
        self.fc1 = nn.Linear(6, 16)
        self.lif = neuron.LIFNode(tau=2.0, detach_reset=True)  # single-step: keeps v between calls
        self.fc2 = nn.Linear(16, 2)
        self.v_at_start = []

    def forward(self, x):
        self.v_at_start.append(self.lif.v if isinstance(self.lif.v, float) else float(self.lif.v.abs().sum()))
        out = 0.0
        for _ in range(self.T):
            out = out + self.fc2(self.lif(self.fc1(x)))
        return out / self.T


def config(**kw):
    return TrainConfig(**{"epochs": 2, "batch_size": 8, "lr": 0.01, "progress": False, **kw})


def test_a_spikingjelly_network_trains_with_its_state_reset_before_every_batch():
    torch.manual_seed(0)
    model = SpikingClassifier()
    data = NoisyBlobs()
    history = Trainer(model, data, data, config(), device="cpu", verbose=False).fit()
    assert [r["epoch"] for r in history] == [1, 2]
    assert history[-1]["test_acc"] > 80.0  # two well separated blobs
    assert model.v_at_start and all(v == 0.0 for v in model.v_at_start)  # reset_states, every batch
    # the reset makes evaluation order-independent: the same loader twice gives the same numbers
    loader = DataLoader(TensorDataset(data.x, data.y), batch_size=5)
    assert evaluate(model, loader, "cpu", progress=False) == evaluate(model, loader, "cpu", progress=False)


def fresh(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_equals_a_straight_run(tmp_path, workers):
    data = NoisyBlobs()
    straight = fresh()
    Trainer(straight, data, data, config(workers=workers), device="cpu", verbose=False).fit()
    first = Trainer(fresh(), data, data, config(workers=workers), device="cpu", output=tmp_path, verbose=False)
    first.fit(stop_after=1)
    first.close()
    torch.manual_seed(123)  # whatever happens in between is undone by the saved RNG states
    resumed_model = fresh(seed=7)
    resumed = Trainer(resumed_model, data, data, config(workers=workers), device="cpu", output=tmp_path,
                      verbose=False)
    resumed.resume(tmp_path / "last.pt")
    resumed.fit()
    for (k, a), b in zip(straight.state_dict().items(), resumed_model.state_dict().values()):
        assert torch.equal(a, b), k


def test_augmentation_differs_between_epochs_and_workers():
    # the resume test above would pass trivially if every epoch drew the same noise: it does not
    from mfp_plugin.engine import set_epoch, train_loader

    loader = train_loader(NoisyBlobs(16), 4, workers=2, seed=0)
    draws = []
    for epoch in (0, 0, 1):
        set_epoch(loader, epoch, seed=0)
        draws.append(torch.cat([x for x, _ in loader]))
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])


def test_train_one_epoch_stops_on_a_non_finite_loss_before_the_step():
    model = nn.Linear(2, 2)
    before = [p.detach().clone() for p in model.parameters()]
    bad = [(torch.tensor([[float("nan"), 0.0]]), torch.tensor([0]))]
    with pytest.raises(FloatingPointError, match="non-finite"):
        train_one_epoch(model, bad, torch.optim.SGD(model.parameters(), lr=0.1), "cpu", progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_evaluate_hand_computed_top1_top5_and_loss():
    logits = torch.tensor([[5.0, 1, 0, 0, 0, 0], [0, 5.0, 4, 3, 2, 1], [1.0, 2, 3, 4, 5, 6]])
    y = torch.tensor([0, 2, 0])
    model = nn.Identity()
    res = evaluate(model, [(logits, y)], "cpu", progress=False)
    # sample 0 right; sample 1: class 2 is 2nd (top-5 hit); sample 2: class 0 is last of 6 (no hit)
    assert res["n"] == 3 and res["top1"] == pytest.approx(100 / 3) and res["top5"] == pytest.approx(200 / 3)
    expected = -(torch.log_softmax(logits, 1)[torch.arange(3), y]).mean()
    assert res["loss"] == pytest.approx(float(expected))


def test_bad_config_and_model_are_refused():
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="lamb")
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=0.0)
    with pytest.raises(TypeError, match="nn.Module"):
        Trainer(lambda x: x, [], [], device="cpu")
