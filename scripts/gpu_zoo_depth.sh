#!/usr/bin/env bash
# One prepared GPU session for scripts/zoo_depth.py: train the rows on the GPU at once, publish the finished
# tagged rows as zoo checkpoints, and leave in $OUT what must come back (at most 8 files, each < 16 MiB).
#
#   OUT=/tmp/out bash scripts/gpu_zoo_depth.sh [KEY ...]      # from the repository root; KEY: rows, default all
#
# Environment: PY (python with a CUDA torch, safetensors, tqdm, matplotlib; default .venv/bin/python, else
# python3), WHEELS (a folder of wheels to install first, e.g. spikingjelly, which model_zoo imports:
# `pip download --no-deps spikingjelly==2.0.0 -d .whl` here), MFP_DATA (a folder holding fashion-mnist/ with
# the four IDX .gz files, when /usr/share/datasets/fashion-mnist is absent), TRAIN_TIMEOUT (seconds, 420),
# JOBS (rows at a time, 7). A row cut by the timeout keeps its last finished epoch in $OUT/<key>.tgz
# (last.pt included): unpack it under runs/zoo_depth/ and the next session's `run` resumes it.
set -uo pipefail
OUT=${OUT:-gpu_zoo_depth}
mkdir -p "$OUT"
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
if [ -n "${WHEELS:-}" ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$WHEELS"/*.whl > "$OUT/env.txt" 2>&1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
ROOT=runs/zoo_depth
ONLY=()
[ $# -gt 0 ] && ONLY=(--only "$@")
{ nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; "$PY" -c "import torch; print(torch.__version__, torch.cuda.is_available())"; } >> "$OUT/env.txt" 2>&1
timeout "${TRAIN_TIMEOUT:-420}" "$PY" scripts/zoo_depth.py run --root "$ROOT" --jobs "${JOBS:-7}" --threads 2 "${ONLY[@]}" \
  > "$OUT/run.txt" 2>&1
echo "run exit $?" >> "$OUT/run.txt"
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
"$PY" scripts/zoo_depth.py publish --root "$ROOT" --hardware "$GPU, 1 GPU" "${ONLY[@]}" > "$OUT/publish.txt" 2>&1
"$PY" scripts/zoo_depth.py report --root "$ROOT" --out "$OUT/zoo_depth.md" >> "$OUT/publish.txt" 2>&1
tar czf "$OUT/published.tgz" model_zoo/weights model_zoo/pretrained_cfgs "$OUT/zoo_depth.md" "$OUT/publish.txt" "$OUT/run.txt" "$OUT/env.txt"
for run in "$ROOT"/*/; do   # one archive per row (log, args, last.pt): 7 rows + published.tgz = 8 files
  tar czf "$OUT/$(basename "$run").tgz" -C "$ROOT" "$(basename "$run")"
done
rm -f "$OUT/zoo_depth.md" "$OUT/publish.txt" "$OUT/run.txt" "$OUT/env.txt"
ls -la "$OUT"
