"""musicnn (MSD_musicnn, ISC licence) over audio files: the teacher for the default model and a peer
in bench/eval_retrieval.py.  Build-time only; runs in its own virtualenv (bench/setup_musicnn.sh),
never inside the app.

    .venv-musicnn/bin/python bench/musicnn_teacher.py --list files.txt --out CACHE_DIR [--threads 1]

For every file listed (one path a line) it writes ``CACHE_DIR/<sha256(path)[:16]>.npz`` with, per
3-second patch (up to --max-patches of the non-overlapping ones, spread evenly over the file) (musicnn's own front end: 16 kHz, 96 mel bands, 187-frame patches):
``max_pool`` (n, 753) float16 (the layer the issue names for similarity), ``taggram`` (n, 50) the
50 MSD tag probabilities, ``starts_s`` (n,) patch start times, and ``seconds_model`` (the network's
CPU time, decoding and the spectrogram excluded) and ``seconds_total``.  Existing outputs are kept, so a
re-run only does what is missing.  The graph is built and the weights restored once (musicnn's own
extractor() rebuilds both for every file).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

# songsim is not installed in musicnn's virtualenv, but these two modules need nothing beyond numpy:
# the cache's file names and the atomic write stay one definition each.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from songsim_desktop.atomic import atomic_path  # noqa: E402
from songsim_desktop.training.teacher import cache_name  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", type=Path, required=True, help="text file: one audio path a line")
    parser.add_argument("--out", type=Path, required=True, help="cache folder for the .npz outputs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default="MSD_musicnn")
    parser.add_argument("--max-patches", type=int, default=16,
                        help="patches per file, spread evenly over it (the network costs ~0.2 s of one core "
                             "per patch, so every patch of 500 tracks would take hours)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import librosa
    import tensorflow as tf
    tf.compat.v1.disable_eager_execution()
    from musicnn import configuration as config
    from musicnn import models

    files = [line.strip() for line in args.list.read_text().splitlines() if line.strip()]
    todo = [f for f in files if not (args.out / cache_name(f)).exists()]
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"musicnn: {len(files)} files, {len(todo)} to do", file=sys.stderr, flush=True)
    if not todo:
        return 0
    n_frames = librosa.time_to_frames(3, sr=config.SR, n_fft=config.FFT_SIZE, hop_length=config.FFT_HOP) + 1
    labels = config.MSD_LABELS if "MSD" in args.model else config.MTT_LABELS
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, n_frames, config.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        y, _timbral, _temporal, _c1, _c2, _c3, _mean_pool, max_pool, _pen = models.define_model(
            x, is_training, args.model, len(labels))
        tags = tf.nn.sigmoid(y)
    session_config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=args.threads,
                                              inter_op_parallelism_threads=1)
    sess = tf.compat.v1.Session(config=session_config)
    sess.run(tf.compat.v1.global_variables_initializer())
    import musicnn
    tf.compat.v1.train.Saver().restore(sess, os.path.join(os.path.dirname(musicnn.__file__), args.model) + "/")
    failed = 0
    for i, path in enumerate(todo):
        started = time.process_time()
        try:
            audio, sr = librosa.load(path, sr=config.SR)
        except Exception as exc:  # a teacher run reports and goes on; the file gets no targets
            print(f"while decoding {path} for musicnn: {exc}", file=sys.stderr)
            failed += 1
            continue
        # exactly musicnn's batch_data(): librosa mel power, float16, log10(10000 x + 1)
        rep = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=config.FFT_HOP, n_fft=config.FFT_SIZE,
                                             n_mels=config.N_MELS).T.astype(np.float16)
        rep = np.log10(10000 * rep + 1)
        if rep.shape[0] < n_frames:  # shorter than one patch: pad with silence, as a tile would mislead
            rep = np.concatenate([rep, np.zeros((n_frames - rep.shape[0], rep.shape[1]), rep.dtype)])
        starts = np.arange(0, rep.shape[0] - n_frames + 1, n_frames)
        if len(starts) > args.max_patches:  # evenly spread, as the peer vector and the crops are
            starts = starts[np.round((np.arange(args.max_patches) + 0.5) * len(starts) / args.max_patches
                                     - 0.5).astype(int)]
        batch = np.stack([rep[s: s + n_frames] for s in starts]).astype(np.float32)
        model_started = time.process_time()
        pools, taggrams = [], []
        for b in range(0, len(batch), 64):
            t_out, p_out = sess.run([tags, max_pool], feed_dict={x: batch[b: b + 64], is_training: False})
            taggrams.append(t_out)
            pools.append(p_out)
        now = time.process_time()
        with atomic_path(args.out / cache_name(path)) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, max_pool=np.concatenate(pools).astype(np.float16),
                     taggram=np.concatenate(taggrams).astype(np.float16),
                     starts_s=(starts * config.FFT_HOP / config.SR).astype(np.float32),
                     seconds_model=np.float32(now - model_started), seconds_total=np.float32(now - started),
                     labels=np.array(labels))
        if i % 20 == 0:
            print(f"musicnn: {i + 1}/{len(todo)} {path} ({now - started:.1f} s cpu)", file=sys.stderr, flush=True)
    print(f"musicnn: done, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
