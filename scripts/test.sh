#!/usr/bin/env bash
# The test command: the whole suite against SpikingJelly 2.x, then the host-facing tests again
# against SpikingJelly 0.0.0.0.14 (put first on PYTHONPATH). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
echo "== pytest, SpikingJelly 2.x =="
"$PY" -m pytest -q "$@"
echo "== pytest, SpikingJelly 0.0.0.0.14 =="
PYTHONPATH="$PWD/.sj-legacy${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m pytest -q \
    tests/functional tests/neuron tests/integration tests/quant tests/deploy "$@"
