#!/usr/bin/env bash
# The shipped default model, end to end, by one command (CPU only; a 2-core machine takes about an hour):
#   bench/make_default_model.sh CORPUS [OUT [extra pretrain options]]
# CORPUS: what ../shared/corpus/fetch.sh made (manifest.csv + unpacked packages); OUT: models/ by default.
# 1. the corpus decoded once (cached); 2. the student (training.student's defaults = the shipped recipe),
# trained on the training packages and kept at its best validation step; 3. musicnn's own virtualenv
# (build time only, for the peer); 4. the table of models/MODEL_CARD.md and docs/benchmarks.md on the
# test packages.  The teacher-student variant: label the corpus first (one path a line in FILES:
#   .venv-musicnn/bin/python bench/musicnn_teacher.py --list FILES --out TEACHER --max-patches 8)
# then pass --teacher TEACHER --distill-weight 1 --tag-pair-weight 0.5 after OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=$(cd "${1:?usage: bench/make_default_model.sh CORPUS [OUT]}" && pwd)
out=${2:-models}
cache=${SONGSIM_CORPUS_FEATURES:-$HOME/.cache/songsim-corpus-features}
mkdir -p "$cache"
[ -x .venv/bin/python ] || ./dev.sh setup
bench/setup_musicnn.sh
.venv/bin/python -m songsim_desktop.training.pretrain --corpus "$corpus" --cache "$cache" --out "$out" \
  --threads 2 "${@:3}"
.venv/bin/python bench/eval_retrieval.py --corpus "$corpus" --cache "$cache" --model "songsim default=$out/songsim-default.onnx"
