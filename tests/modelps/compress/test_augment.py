"""Augmented image inputs: shapes, determinism, content kept close to the source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelps.compress.augment import _resize, augment_images
from modelps.compress.calib import load_calibration, source_sha256
from modelps.errors import EditError
from tests.modelps.compress import nets


def _stripes(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros((1, 3, 32, 48), np.float32)
    x[:, :, 8:24, :] = rng.normal(2.0, 0.5, size=(1, 3, 16, 48))
    return x


def test_augmented_images_are_new_deterministic_and_alike() -> None:
    given = [_stripes(0), _stripes(1)]
    out = augment_images(given, 6, seed=4)
    assert [a.shape for a in out] == [(1, 3, 32, 48)] * 6 and all(a.dtype == np.float32 for a in out)
    assert all(not np.array_equal(a, g) for a in out for g in given)
    again = augment_images(given, 6, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(out, again, strict=True))
    assert not np.array_equal(out[0], augment_images(given, 1, seed=5)[0])
    for k, a in enumerate(out):  # a crop of >= 75% of the source: its content stays close to it
        source = given[k % 2]
        assert abs(a.mean() - source.mean()) < 0.3 * source.std()
        assert 0.7 < a.std() / source.std() < 1.4


def test_resize_keeps_a_constant_and_a_ramp() -> None:
    flat = np.full((1, 1, 5, 7), 3.0, np.float32)
    np.testing.assert_allclose(_resize(flat, 9, 4), 3.0)
    ramp = np.tile(np.arange(8, dtype=np.float32), (1, 1, 2, 1))
    np.testing.assert_allclose(_resize(ramp, 2, 8), ramp)  # same size: unchanged


def test_augment_refuses_non_images() -> None:
    with pytest.raises(ValueError, match="no image"):
        augment_images([], 3, seed=0)
    with pytest.raises(ValueError, match=r"N x C x H x W .*\[3, 4\]"):
        augment_images([np.zeros((3, 4), np.float32)], 3, seed=0)


def test_augmented_source_tops_up_an_npz(tmp_path: Path) -> None:
    model = nets.resnet18()
    name = model.graph.inputs[0].name
    shape = [int(d) for d in model.graph.inputs[0].shape]
    given = np.random.default_rng(0).normal(size=(3, *shape[1:])).astype(np.float32)
    npz = tmp_path / "three.npz"
    np.savez(npz, **{name: given})
    feeds = load_calibration(model, f"{npz}+augmented", count=8, seed=1)
    assert len(feeds) == 8
    np.testing.assert_array_equal(np.concatenate([f[name] for f in feeds[:3]]), given)
    again = load_calibration(model, f"{npz}+augmented", count=8, seed=1)
    assert all(np.array_equal(a[name], b[name]) for a, b in zip(feeds, again, strict=True))
    assert source_sha256(f"{npz}+augmented") == source_sha256(str(npz))
    with pytest.raises(EditError, match="missing.npz'?: no such file"):
        load_calibration(model, f"{tmp_path / 'missing.npz'}+augmented", count=4)
