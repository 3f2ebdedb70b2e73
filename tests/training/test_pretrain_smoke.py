"""The pretraining entry point on a tiny synthesised corpus: split, cache, teacher, train, export, load."""

from __future__ import annotations

import csv
import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from songsim_desktop.core import synth
from songsim_desktop.core.embedder import Embedder
from songsim_desktop.core.features import FrontEndConfig
from songsim_desktop.training.corpus import prepare_corpus, read_manifest, split_corpus, spread_crops
from songsim_desktop.training.teacher import cache_name, load_teacher

SECONDS = 7.0


def write_corpus(root: Path) -> Path:
    """A fetch.sh-shaped corpus: one package with 3 collections (training: not evaluable), four
    single-collection packages of 6 tracks (evaluable: split between test, validation and training
    by the rule), one jingle that is too short, and a .deb name."""
    rows = []
    layout = [("synth-data", "drones", synth.Family("sine", "drone"), 3),
              ("synth-data", "beats", synth.Family("noise", "straight"), 3),
              ("synth-data", "plucks", synth.Family("pluck", "swing"), 3)]
    layout += [(f"held{i}-data", f"held{i}", synth.Family(w, "sparse"), 6)
               for i, w in enumerate(("saw", "square", "bell", "pluck"))]
    for package, collection, family, count in layout:
        for i in range(count):
            rel = f"{package}/usr/share/music/{collection}/{i:02d}.ogg"
            synth.write_track(root / rel, family, SECONDS, seed=len(rows))
            rows.append((rel, collection, package))
    jingle = "synth-data/usr/share/music/jingle.wav"
    synth.write_track(root / jingle, synth.Family("bell", "sparse"), 1.5, seed=99)
    rows.append((jingle, "drones", "synth-data"))
    with open(root / "manifest.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "collection", "package"])
        writer.writerows(rows)
    (root / "debs").mkdir()
    (root / "debs" / "synth-data_2%3a1.2-3_all.deb").write_bytes(b"")
    return root


def write_teacher(corpus: Path, out: Path, dim: int = 12) -> None:
    """Teacher outputs in bench/musicnn_teacher.py's format (that script needs TensorFlow, which the
    app's environment does not have): per file a few 3-second patches whose embedding and tags
    depend on the collection, so that there is something to learn."""
    labels = np.array([f"tag{i}" for i in range(8)])
    out.mkdir(parents=True)
    for track in read_manifest(corpus):
        rng = np.random.default_rng(zlib.crc32(track.collection.encode()))
        centre, tags = rng.normal(size=dim), rng.uniform(size=len(labels))
        n = 2
        np.savez(out / cache_name(track.path), max_pool=(centre + 0.1 * rng.normal(size=(n, dim))).astype(np.float16),
                 taggram=np.tile(tags, (n, 1)).astype(np.float16), starts_s=np.arange(n, dtype=np.float32) * 3.0,
                 seconds_model=np.float32(0.1), seconds_total=np.float32(0.2), labels=labels)


def test_pretrain_entry_point_writes_a_model_the_app_loads(tmp_path, capsys):
    from songsim_desktop.training.pretrain import main

    corpus = write_corpus(tmp_path / "corpus")
    write_teacher(corpus, tmp_path / "teacher")
    out = tmp_path / "models"
    rc = main(["--corpus", str(corpus), "--teacher", str(tmp_path / "teacher"), "--out", str(out),
               "--cache", str(tmp_path / "cache"), "--steps", "3", "--validate-every", "2",
               "--refs-per-batch", "2", "--min-seconds", "3", "--threads", "1",
               "--distill-weight", "1", "--tag-pair-weight", "0.5", "--channels", "8", "8", "16", "16"])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    model = out / "songsim-default.onnx"
    assert printed["path"] == str(model)
    assert (out / "songsim-default.pt").is_file() and (out / "songsim-default.json").is_file()

    embedder = Embedder(model, threads=1)
    meta = embedder.info.training
    assert embedder.info.id == printed["id"]
    split = split_corpus(prepare_corpus(corpus, FrontEndConfig(), tmp_path / "cache", min_seconds=3)[0])
    assert meta["test_collections"] == sorted({t.track.collection for t in split.test})
    assert meta["train_tracks"] == len(split.train)  # the jingle is dropped as too short
    assert not set(meta["test_collections"]) & set(meta["train_collections"])
    assert meta["packages"]["synth-data"] == "2:1.2-3"
    assert [h["step"] for h in meta["history"]] == [2, 3] and "val_map" in meta["history"][0]
    vector = embedder.embed_file(corpus / "held0-data/usr/share/music/held0/00.ogg").vector
    assert vector.shape == (embedder.info.dim,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_pretrain_refuses_a_corpus_the_teacher_has_not_seen(tmp_path):
    from songsim_desktop.training.pretrain import main

    corpus = write_corpus(tmp_path / "corpus")
    (tmp_path / "teacher").mkdir()
    with pytest.raises(SystemExit, match="teacher outputs"):
        main(["--corpus", str(corpus), "--teacher", str(tmp_path / "teacher"), "--out", str(tmp_path / "m"),
              "--cache", str(tmp_path / "cache"), "--steps", "1", "--min-seconds", "3", "--threads", "1"])
    with pytest.raises(SystemExit, match="ablation"):  # no teacher: the teacher's losses cannot run
        main(["--corpus", str(corpus), "--out", str(tmp_path / "m"), "--cache", str(tmp_path / "cache"),
              "--steps", "1", "--min-seconds", "3", "--threads", "1", "--distill-weight", "1"])


def test_corpus_is_decoded_once_and_cached(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    cfg = FrontEndConfig()
    prepared, skipped = prepare_corpus(corpus, cfg, tmp_path / "cache", min_seconds=3)
    assert len(prepared) == 33 and [why for _, why in skipped] == ["shorter than 3 s"]
    spec = np.asarray(prepared[0].logmel())
    assert spec.dtype == np.float16 and spec.shape[0] == cfg.n_mels
    for t in prepared:  # a second run must not decode: make the audio unreadable and compare
        t.track.path.write_bytes(b"not audio any more")
    again, _ = prepare_corpus(corpus, cfg, tmp_path / "cache", min_seconds=3)
    np.testing.assert_array_equal(np.asarray(again[0].logmel()), spec)
    assert len(read_manifest(corpus)) == 34


def test_spread_crops_cover_the_track_and_tile_short_ones():
    spec = np.arange(10 * 1000, dtype=np.float32).reshape(10, 1000) % 1000
    crops = spread_crops(spec, 100, 5)
    assert crops.shape == (5, 1, 10, 100) and crops.dtype == np.float16
    assert [int(c[0, 0, 0]) for c in crops] == [50, 250, 450, 650, 850]  # centred on 5 segments
    short = spread_crops(spec[:, :30], 100, 2)
    assert short.shape == (2, 1, 10, 100) and float(short[0, 0, 0, 30]) == 0.0  # tiled


def test_degrade_logmel_cuts_the_top_and_raises_the_noise_floor():
    from songsim_desktop.training.corpus import degrade_logmel

    cfg = FrontEndConfig()
    rng = np.random.default_rng(0)
    spec = rng.uniform(-35.0, -25.0, size=(3, 1, cfg.n_mels, 16)).astype(np.float16)
    out = degrade_logmel(spec, cfg, np.random.default_rng(1), cutoff_hz=(3000, 3000), snr_db=(20, 20))
    assert out.shape == spec.shape and out.dtype == spec.dtype
    top, bottom = slice(cfg.n_mels - 8, None), slice(0, 8)
    clean, dirty = spec.astype(np.float32), out.astype(np.float32)
    # above the cutoff only the added noise is left: flat, far below the clean top bands' peak
    assert np.ptp(dirty[:, 0, top], axis=(1, 2)).max() < 0.5
    assert dirty[:, 0, top].max() < clean[:, 0, top].min() - 10.0
    # below it the music survives: noise 20 dB under its power adds well under 1 dB
    assert np.abs(dirty[:, 0, bottom] - clean[:, 0, bottom]).max() < 1.0
    assert (dirty >= clean - 1e-2)[:, 0, bottom].all()  # adding noise power never lowers a band


def test_contrastive_loss_weights_the_self_positive_as_the_recipe_asks():
    import torch

    from songsim_desktop.training.losses import ContrastiveLoss

    d = torch.tensor([0.2, 0.4, 0.3])
    y = torch.tensor([1.0, 1.0, 0.0])
    m = torch.tensor([1.0, 1.0, 1.0])
    per_pair = [0.2**2, 0.4**2, (1.0 - 0.3) ** 2]  # by hand: d^2, d^2, (m - d)^2
    loss = ContrastiveLoss()
    assert float(loss(d, y, m)) == pytest.approx(sum(per_pair) / 3)
    weighted = float(loss(d, y, m, torch.tensor([8.0, 1.0, 1.0])))
    assert weighted == pytest.approx((8 * per_pair[0] + per_pair[1] + per_pair[2]) / 10)
    assert float(loss(d, y, m, torch.ones(3))) == pytest.approx(float(loss(d, y, m)))
