#!/usr/bin/env bash
# One prepared GPU session: the CUDA tests, then the harness's GPU mode; everything lands in $OUT.
#
#   OUT=/tmp/gpu bash bench/gpu_check.sh            # from the repository root, with .venv set up
#
# Writes $OUT/pytest_cuda.txt, $OUT/neuron_cuda.{json,txt,png}, $OUT/network_cuda.{json,txt},
# $OUT/nvidia-smi.txt. Installs cupy (the [cuda12]/[cuda13] extra matching torch's CUDA) if missing.
# Sized for about 8 minutes on one H100; each step is bounded by `timeout`.
set -uo pipefail
OUT=${OUT:-gpu_results}
mkdir -p "$OUT"
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
"$PY" - <<'PY' > "$OUT/env.txt" 2>&1
import torch
print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
PY
if ! "$PY" -c "import cupy" 2>/dev/null; then
  major=$("$PY" -c "import torch; print((torch.version.cuda or '12').split('.')[0])")
  "$PY" -m pip install -q "cupy-cuda${major}x" >> "$OUT/env.txt" 2>&1 || echo "cupy install failed" >> "$OUT/env.txt"
fi
timeout 150 "$PY" -m pytest -q -p no:cacheprovider tests/backends tests/neuron tests/functional -m "cuda or not cuda" \
  > "$OUT/pytest_cuda.txt" 2>&1; echo "pytest exit $?" >> "$OUT/pytest_cuda.txt"
timeout 200 "$PY" -m bench.neuron --device cuda --T 4 8 16 32 --repeats 20 --no-progress \
  --json "$OUT/neuron_cuda.json" --plot "$OUT/neuron_cuda.png" > "$OUT/neuron_cuda.txt" 2>&1
timeout 150 "$PY" -m bench.network --device cuda --T 4 16 --batch 128 --repeats 10 --no-progress \
  --json "$OUT/network_cuda.json" > "$OUT/network_cuda.txt" 2>&1
tail -n 5 "$OUT"/pytest_cuda.txt "$OUT"/neuron_cuda.txt "$OUT"/network_cuda.txt
