#!/usr/bin/env bash
# Set up a development environment from scratch: .venv with torch, this package (editable, with dev
# extras) and, in .sj-legacy/, SpikingJelly 0.0.0.0.14 for the second test pass. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch 2.14.1 / torchvision 0.29.1 are the builds this project is tested with (CPU and CUDA).
# PyPI's Linux build carries CUDA (about 5.8 GB). On a CPU-only machine with access to PyTorch's
# own index, MFP_TORCH_INDEX=https://download.pytorch.org/whl/cpu installs the CPU build instead.
if [ -n "${MFP_TORCH_INDEX:-}" ]; then
    .venv/bin/python -m pip install -q --index-url "$MFP_TORCH_INDEX" "torch==2.14.1" "torchvision==0.29.1"
else
    .venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
fi
.venv/bin/python -m pip install -q -e ".[dev]"
if [ ! -d .sj-legacy/spikingjelly ]; then
    .venv/bin/python -m pip install -q --no-deps --target .sj-legacy "spikingjelly==0.0.0.0.14"
fi
.venv/bin/python -c "import torch, spikingjelly, snntorch, mfp_plugin, model_zoo; print('mfp-plugin ready: torch', torch.__version__)"
