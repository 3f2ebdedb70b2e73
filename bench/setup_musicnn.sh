#!/usr/bin/env bash
# Build-time only: a separate virtualenv with musicnn (ISC) and TensorFlow, used as the teacher for the
# default model and as a peer in bench/eval_retrieval.py. Never an app dependency.
# musicnn 0.1.0's own pins cannot install on Python 3.11, so it goes in with --no-deps over a working set.
#   usage: bench/setup_musicnn.sh [VENV]    (default: .venv-musicnn in the repo root)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv-musicnn}
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "tensorflow-cpu==2.15.1" "numpy<2" "librosa==0.10.2.post1" soundfile
"$VENV/bin/python" -m pip install -q --no-deps "musicnn==0.1.0"
"$VENV/bin/python" -c "import musicnn, os; print('musicnn at', os.path.dirname(musicnn.__file__))"
