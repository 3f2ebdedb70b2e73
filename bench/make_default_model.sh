#!/usr/bin/env bash
# The shipped default model, end to end, by one command (CPU only; a 2-core machine takes about 1.5 h):
#   bench/make_default_model.sh CORPUS [OUT [extra pretrain options]]
# CORPUS: what ../shared/corpus/fetch.sh made (manifest.csv + unpacked packages); OUT: models/ by default.
# 1. the corpus decoded once (cached); 2. musicnn's own virtualenv (build time only) labels every usable
# track of the corpus (10 three-second patches spread over each: max_pool + tags), which is the teacher
# for training and the peer of the evaluation; 3. the student (training.student's defaults = the
# shipped recipe), trained on the training packages and kept at its best validation step; 4. the table
# of models/MODEL_CARD.md and docs/benchmarks.md on the test packages.
# The contrast-only ablation: pass --distill-weight 0 --tag-pair-weight 0 after OUT (the teacher is
# then only the evaluation's peer).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=$(cd "${1:?usage: bench/make_default_model.sh CORPUS [OUT]}" && pwd)
out=${2:-models}
cache=${SONGSIM_CORPUS_FEATURES:-$HOME/.cache/songsim-corpus-features}
teacher="$cache/musicnn-peer"  # the folder bench/eval_retrieval.py reads the peer from: labelled once
mkdir -p "$cache"
[ -x .venv/bin/python ] || ./dev.sh setup
bench/setup_musicnn.sh
.venv/bin/python - "$corpus" "$cache" > "$cache/corpus-files.txt" <<'EOF'
import sys
from songsim_desktop.core.features import FrontEndConfig
from songsim_desktop.training.corpus import prepare_corpus
for t in prepare_corpus(sys.argv[1], FrontEndConfig(), sys.argv[2])[0]:
    print(t.track.path)
EOF
.venv-musicnn/bin/python bench/musicnn_teacher.py --list "$cache/corpus-files.txt" --out "$teacher" --max-patches 10
.venv/bin/python -m songsim_desktop.training.pretrain --corpus "$corpus" --cache "$cache" --teacher "$teacher" \
  --out "$out" --threads 2 "${@:3}"
.venv/bin/python bench/eval_retrieval.py --corpus "$corpus" --cache "$cache" --model "songsim default=$out/songsim-default.onnx"
