#!/usr/bin/env bash
# The shipped default model, end to end, by one command (CPU only; a 2-core machine takes about an hour):
#   bench/make_default_model.sh CORPUS [OUT]
# CORPUS: what ../shared/corpus/fetch.sh made (manifest.csv + unpacked packages); OUT: models/ by default.
# 1. musicnn's own virtualenv (build time only); 2. the teacher over every corpus file (cached);
# 3. the student, trained on the training packages and kept at its best validation step;
# 4. the table of models/MODEL_CARD.md and docs/benchmarks.md on the test packages.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=$(cd "${1:?usage: bench/make_default_model.sh CORPUS [OUT]}" && pwd)
out=${2:-models}
cache=${SONGSIM_CORPUS_FEATURES:-$HOME/.cache/songsim-corpus-features}
teacher="$cache/musicnn"
mkdir -p "$cache"
[ -x .venv/bin/python ] || ./dev.sh setup
bench/setup_musicnn.sh
tail -n +2 "$corpus/manifest.csv" | .venv/bin/python -c "
import csv, sys
for row in csv.reader(sys.stdin): print('$corpus/' + row[0])" > "$cache/corpus-files.txt"
.venv-musicnn/bin/python bench/musicnn_teacher.py --list "$cache/corpus-files.txt" --out "$teacher" --max-patches 8
.venv/bin/python -m songsim_desktop.training.pretrain --corpus "$corpus" --teacher "$teacher" --cache "$cache" \
  --out "$out" "${@:3}"
.venv/bin/python bench/eval_retrieval.py --corpus "$corpus" --cache "$cache" --model "songsim default=$out/songsim-default.onnx"
