"""SpecAugment masking, gain and time shift on log-mel crops in dB."""

from __future__ import annotations

import torch

from songsim_desktop.training.data import Augment


def crops(batch: int = 16) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(batch, 1, 64, 128) * 10 - 50


def test_time_masks_fill_whole_columns_with_the_example_mean():
    x = crops()
    torch.manual_seed(1)
    y = Augment(gain_db=0, time_mask=30, freq_mask=0, roll=False)(x)
    changed = (y != x).any(dim=2)[:, 0]  # (batch, frames): which columns the mask touched
    assert changed.any(), "some example must have been masked"
    for i in range(len(x)):
        cols = torch.nonzero(changed[i]).flatten()
        if len(cols) == 0:
            continue
        assert len(cols) < 30 and cols.max() - cols.min() + 1 == len(cols)  # one contiguous band
        assert torch.allclose(y[i, 0][:, cols], x[i].mean().expand(64, len(cols)), atol=1e-3)
    masked_examples = int(changed.any(dim=1).sum())
    assert masked_examples > 1  # masks are drawn per example (iid), not one for the whole batch


def test_frequency_masks_fill_whole_bands():
    x = crops()
    torch.manual_seed(2)
    y = Augment(gain_db=0, time_mask=0, freq_mask=12, roll=False)(x)
    changed = (y != x).any(dim=3)[:, 0]  # (batch, mels)
    assert changed.any()
    for i in range(len(x)):
        rows = torch.nonzero(changed[i]).flatten()
        if len(rows):
            assert len(rows) < 12 and rows.max() - rows.min() + 1 == len(rows)
            assert torch.allclose(y[i, 0][rows], x[i].mean().expand(len(rows), 128), atol=1e-3)


def test_gain_is_a_constant_shift_floored_at_minus_100_db():
    x = crops(8)
    x[:, :, :4] = -100.0  # silent bands stay at the floor whatever the gain
    torch.manual_seed(3)
    y = Augment(gain_db=6.0, time_mask=0, freq_mask=0, roll=False)(x)
    shift = (y - x)[:, 0, 10:, :]
    per_example = shift.reshape(8, -1)
    assert torch.allclose(per_example, per_example[:, :1].expand_as(per_example), atol=1e-4)
    assert per_example[:, 0].abs().max() <= 6.0 and per_example[:, 0].abs().min() > 0
    assert torch.all(y[:, :, :4] >= -100.0)


def test_roll_is_a_circular_time_shift():
    x = crops(4)
    torch.manual_seed(4)
    y = Augment(gain_db=0, time_mask=0, freq_mask=0, roll=True)(x)
    for i in range(4):
        assert any(torch.equal(y[i], torch.roll(x[i], s, dims=-1)) for s in range(128))
