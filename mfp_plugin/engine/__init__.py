"""The training and evaluation engine behind ``mfp train``/``mfp eval``, for any classifier.

A model is any ``nn.Module`` that maps a ``[B, ...]`` batch to ``[B, classes]``
logits: a model_zoo model, or a SpikingJelly/snnTorch network you built (wrap
it to encode the input over time and average its output). Stateful neurons
are reset before every batch (:func:`mfp_plugin.reset_states`).

>>> import torch
>>> from mfp_plugin.engine import Trainer, TrainConfig, evaluate
>>> data = torch.utils.data.TensorDataset(torch.randn(16, 1, 28, 28), torch.arange(16) % 10)
>>> import model_zoo
>>> model = model_zoo.create_model("mf_vgg_mini", T=1)
>>> history = Trainer(model, data, data, TrainConfig(epochs=1, batch_size=8, progress=False),
...                   device="cpu", verbose=False).fit()
>>> len(history), evaluate(model, torch.utils.data.DataLoader(data, batch_size=8), "cpu", progress=False)["n"]
(1, 16)

Modules: :mod:`.trainer` (:class:`Trainer`), :mod:`.epoch` (:func:`train_one_epoch`),
:mod:`.evaluate`, :mod:`.config`, :mod:`.loaders`, :mod:`.seeding`, :mod:`.optim`,
:mod:`.checkpoint` (atomic writes: :mod:`mfp_plugin.atomic_io`), :mod:`.run_dir`, :mod:`.logs`,
:mod:`.overrides` and :mod:`.options` (model options), :mod:`.device`,
:mod:`.distributed`, :mod:`.malloc`.
"""
from ..atomic_io import atomic_write_bytes
from .checkpoint import check_safetensors, load_torch, read_checkpoint, save_torch, save_weights
from .config import TrainConfig
from .device import autocast_dtype, resolve_device
from .epoch import train_one_epoch
from .evaluate import evaluate
from .loaders import eval_loader, seeded_subset, set_epoch, train_loader
from .malloc import tune_malloc
from .overrides import NEURONS, keep_neuron_kwargs, model_overrides, neuron_override
from .run_dir import RunDir
from .seeding import epoch_seed, rng_state, seed_all, set_rng_state
from .trainer import Trainer

__all__ = [
    "Trainer", "TrainConfig", "train_one_epoch", "evaluate",
    "train_loader", "eval_loader", "set_epoch", "seeded_subset",
    "seed_all", "epoch_seed", "rng_state", "set_rng_state",
    "atomic_write_bytes", "save_torch", "load_torch", "save_weights", "check_safetensors", "read_checkpoint",
    "RunDir", "NEURONS", "model_overrides", "neuron_override", "keep_neuron_kwargs",
    "resolve_device", "autocast_dtype", "tune_malloc",
]
