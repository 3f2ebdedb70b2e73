"""The MFCC-statistics baseline: shapes, the DCT, standardisation, and that it tells timbres apart."""

from __future__ import annotations

import numpy as np
import pytest

from songsim_desktop.core import synth
from songsim_desktop.core.baseline import (
    N_MFCC,
    Standardiser,
    dct_matrix,
    deltas,
    mfcc,
    mfcc_statistics,
    mfcc_statistics_of_samples,
    standardise,
)
from songsim_desktop.core.features import FrontEndConfig, logmel

CFG = FrontEndConfig()


def test_dct_is_orthonormal_so_mfcc0_is_the_scaled_mean_level():
    basis = dct_matrix(64, 64)
    np.testing.assert_allclose(basis @ basis.T, np.eye(64), atol=1e-5)
    flat = np.full((64, 10), -30.0, dtype=np.float32)  # a spectrum equal in every band
    coeffs = mfcc(flat)
    np.testing.assert_allclose(coeffs[0], -30.0 * np.sqrt(64), rtol=1e-5)
    np.testing.assert_allclose(coeffs[1:], 0.0, atol=1e-3)


def test_shapes_of_mfcc_and_statistics():
    audio = synth.render(synth.Family("saw", "straight"), 3.0, seed=1)
    spec = logmel(audio, CFG)
    assert mfcc(spec).shape == (N_MFCC, spec.shape[1])
    stats = mfcc_statistics(spec)
    assert stats.shape == (4 * N_MFCC,) and stats.dtype == np.float32
    np.testing.assert_allclose(stats, mfcc_statistics_of_samples(audio, CFG), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError):
        mfcc(spec[None])


def test_deltas_of_a_linear_ramp_are_its_slope():
    ramp = np.tile(np.arange(20, dtype=np.float32) * 0.5, (3, 1))
    d = deltas(ramp)
    np.testing.assert_allclose(d[:, 2:-2], 0.5, atol=1e-6)  # interior frames: exact slope


def test_standardise_gives_zero_mean_unit_std_and_survives_constant_dims():
    rng = np.random.default_rng(0)
    data = rng.normal([100.0, -3.0, 0.01, 7.0], [50.0, 1.0, 0.001, 0.0], size=(40, 4))
    z = standardise(data)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(z.std(0)[:3], 1.0, atol=1e-4)
    np.testing.assert_allclose(z[:, 3], 0.0, atol=1e-4)  # constant column: zeros, not NaN
    fitted = Standardiser.fit(data)
    np.testing.assert_allclose(fitted.transform(data[:5]), z[:5], atol=1e-5)


def test_baseline_ranks_tracks_of_the_same_family_nearest():
    families = [synth.Family("pluck", "straight"), synth.Family("noise", "drone"), synth.Family("saw", "straight")]
    vectors, labels = [], []
    for fi, family in enumerate(families):
        for seed in range(4):  # melody, key and tempo differ within a family
            vectors.append(mfcc_statistics_of_samples(synth.render(family, 3.0, seed=100 * fi + seed), CFG))
            labels.append(fi)
    z = standardise(np.stack(vectors))
    dist = np.linalg.norm(z[:, None] - z[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    nearest = dist.argmin(1)
    assert all(labels[i] == labels[j] for i, j in enumerate(nearest))


def test_a_gain_change_moves_only_the_mean_of_mfcc0():
    # Broadband audio, so that no band sits on the -100 dB floor (where a gain change is clipped).
    audio = synth.render(synth.Family("bell", "swing"), 3.0, seed=5)
    audio = audio + 0.01 * np.random.default_rng(0).standard_normal(len(audio)).astype(np.float32)
    loud, quiet = mfcc_statistics_of_samples(audio, CFG), mfcc_statistics_of_samples(audio * 0.1, CFG)
    # -20 dB in every band shifts the log-mel by -20 everywhere, i.e. MFCC 0 by -20 * sqrt(n_mels).
    assert quiet[0] - loud[0] == pytest.approx(-20.0 * np.sqrt(CFG.n_mels), rel=1e-3)
    np.testing.assert_allclose(quiet[1:], loud[1:], atol=2e-2)
