"""The branch, the Siamese wrapper, and the ONNX export with its parity check."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch

from songsim_desktop import paths
from songsim_desktop.core.features import FrontEndConfig
from songsim_desktop.errors import ModelError
from songsim_desktop.training import export as export_mod
from songsim_desktop.training.model import (BranchConfig, SiameseNet, build_branch, euclidean,
                                            load_checkpoint)

SMALL = BranchConfig(n_mels=64, channels=(8, 16, 16, 32), dim=16)


def test_branch_gives_unit_vectors_and_same_seed_same_weights():
    a, b = build_branch(SMALL, seed=3).eval(), build_branch(SMALL, seed=3).eval()
    other = build_branch(SMALL, seed=4).eval()
    x = torch.randn(5, 1, 64, 256) * 20 - 50
    with torch.no_grad():
        ya, yb, yo = a(x), b(x), other(x)
    assert ya.shape == (5, 16)
    assert torch.allclose(ya.norm(dim=1), torch.ones(5), atol=1e-5)
    assert torch.equal(ya, yb)
    assert not torch.allclose(ya, yo)


def test_default_branch_is_cpu_sized():
    assert build_branch().n_params() < 1_000_000


def test_branch_ignores_a_constant_gain_shift():
    # Input normalisation is per example, so +6 dB everywhere (a louder copy) embeds the same.
    branch = build_branch(SMALL).eval()
    x = torch.randn(3, 1, 64, 256) * 15 - 40
    with torch.no_grad():
        assert torch.allclose(branch(x), branch(x + 6.0), atol=1e-4)


def test_siamese_shares_one_branch_and_returns_euclidean_distance():
    branch = build_branch(SMALL).eval()
    net = SiameseNet(branch).eval()
    a, b = torch.randn(4, 1, 64, 256), torch.randn(4, 1, 64, 256)
    with torch.no_grad():
        ea, eb, d = net(a, b)
        assert torch.allclose(ea, branch(a), atol=1e-6) and torch.allclose(eb, branch(b), atol=1e-6)
    expected = torch.sqrt(((ea - eb) ** 2).sum(dim=1))
    assert torch.allclose(d, expected, atol=1e-5)
    assert list(net.parameters()) == list(branch.parameters())  # shared weights, not two copies
    # distance of an embedding to itself is ~0 and its gradient finite (eps inside the sqrt)
    v = torch.randn(2, 16, requires_grad=True)
    euclidean(v, v).sum().backward()
    assert torch.isfinite(v.grad).all()


def test_export_writes_contract_metadata_and_passes_parity(tmp_path):
    frontend = FrontEndConfig()
    branch = build_branch(SMALL, seed=1)
    out = tmp_path / "m.onnx"
    export_mod.export_branch(branch, out, frontend, name="tiny", parent="0123456789abcdef",
                             training_meta={"epochs": 0})
    model = onnx.load(str(out))
    meta = json.loads({p.key: p.value for p in model.metadata_props}["songsim"])
    assert meta["format"] == 1 and meta["name"] == "tiny" and meta["dim"] == 16
    assert meta["parent"] == "0123456789abcdef" and meta["training"] == {"epochs": 0}
    assert FrontEndConfig.from_dict(meta["frontend"]) == frontend
    assert [i.name for i in model.graph.input] == ["logmel"]
    assert [o.name for o in model.graph.output] == ["embedding"]
    assert model.opset_import[0].version == export_mod.OPSET
    # dynamic batch axis: any batch size runs, and equals torch on real crops
    crops = export_mod.real_crops(frontend, count=3, seed=7)
    with torch.no_grad():
        expected = branch.eval()(torch.from_numpy(crops)).numpy()
    for n in (1, 3):
        got = export_mod.run_onnx(out, crops[:n])
        assert np.max(np.abs(got - expected[:n])) < 1e-4
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["id"] == export_mod.model_id_of(out) and sidecar["parity_max_abs_diff"] < 1e-4
    assert sidecar["frontend"] == frontend.to_dict()


def test_checkpoint_beside_the_model_restores_the_branch(tmp_path):
    branch = build_branch(SMALL, seed=2).eval()
    out = tmp_path / "m.onnx"
    export_mod.export_branch(branch, out, FrontEndConfig(), name="tiny")
    restored = load_checkpoint(export_mod.checkpoint_path(out)).eval()
    assert restored.config == SMALL
    x = torch.from_numpy(export_mod.real_crops(FrontEndConfig(), count=2))
    with torch.no_grad():
        assert torch.equal(restored(x), branch(x))


def test_parity_check_fails_when_the_onnx_file_differs(tmp_path, monkeypatch):
    """A deliberately wrong ONNX (another seed's weights) must be caught, and nothing is left."""
    real_export = export_mod._torch_to_onnx

    def export_a_different_model(branch, frontend, out):
        real_export(build_branch(branch.config, seed=99).eval(), frontend, out)

    monkeypatch.setattr(export_mod, "_torch_to_onnx", export_a_different_model)
    out = tmp_path / "wrong.onnx"
    with pytest.raises(ModelError, match="disagree") as caught:
        export_mod.export_branch(build_branch(SMALL, seed=1), out, FrontEndConfig(), name="wrong")
    assert str(out) in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # no half-written model, checkpoint or sidecar


def test_parity_check_threshold_is_strict(tmp_path):
    branch = build_branch(SMALL, seed=1).eval()
    out = tmp_path / "m.onnx"
    export_mod.export_branch(branch, out, FrontEndConfig(), name="tiny")
    crops = export_mod.real_crops(FrontEndConfig(), count=2)
    assert export_mod.check_parity(branch, out, crops) < 1e-4
    with torch.no_grad():  # a 1e-3 change in one weight is already a disagreement
        branch.project.bias[0] += 1e-2
    with pytest.raises(ModelError):
        export_mod.check_parity(branch, out, crops)


def test_untrained_script_entry_makes_a_seeded_real_architecture_model(tmp_path):
    """Without a config the untrained model has the shipped default's architecture."""
    out = tmp_path / "untrained.onnx"
    assert export_mod.main(["--untrained", str(out), "--seed", "5"]) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    shipped = json.loads((paths.default_model_path().with_suffix(".json")).read_text())
    assert meta["dim"] == shipped["dim"] and meta["branch"]["channels"] == shipped["branch"]["channels"]
    assert out.with_suffix(".pt").exists()


def test_exported_model_drops_into_the_core_embedder(tmp_path):
    """No code change in the core: Embedder loads the file and gives torch's numbers."""
    from songsim_desktop.core.embedder import Embedder, model_id_of

    frontend = FrontEndConfig()
    branch = build_branch(SMALL, seed=6).eval()
    out = tmp_path / "m.onnx"
    info = export_mod.export_branch(branch, out, frontend, name="tiny", training_meta={"k": 1})
    assert info.id == model_id_of(out) and info.dim == 16 and info.frontend == frontend
    embedder = Embedder(out, threads=1)
    crops = export_mod.real_crops(frontend, count=4, seed=11)
    with torch.no_grad():
        expected = branch(torch.from_numpy(crops)).numpy()
    assert np.max(np.abs(embedder.embed_inputs(crops) - expected)) < 1e-4
