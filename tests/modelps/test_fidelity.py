"""The one fidelity implementation: any output rank, several outputs, honest about what it cannot compute."""

from __future__ import annotations

import numpy as np
import pytest

from modelps.fidelity import fidelity, score, score_name


def _maps(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_rank3_and_rank4_outputs_together() -> None:
    # a detection map (N, 1, H, W) and a sequence output (N, T, C), as a text detector/recognizer gives
    det, seq = _maps(0, (6, 1, 16, 20)), _maps(1, (6, 40, 97))
    noise = 0.01
    f = fidelity([det, seq], [det + noise * _maps(2, det.shape), seq + noise * _maps(3, seq.shape)])
    assert 0.99 < f["centered_cosine"] < 1.0
    assert f["samples"] == 6
    assert 0 < f["relative_l2"] < 0.02 and 0 < f["max_abs"] < 0.1


def test_worst_output_is_reported() -> None:
    good, bad = _maps(0, (8, 32)), _maps(1, (8, 3, 4, 4))
    f = fidelity({"a": good, "b": bad}, {"a": good, "b": _maps(2, bad.shape)})
    only_bad = fidelity(bad, _maps(2, bad.shape))
    assert f["centered_cosine"] == pytest.approx(only_bad["centered_cosine"])
    assert f["relative_l2"] == pytest.approx(only_bad["relative_l2"])


def test_one_sample_has_no_centered_cosine_and_never_zero() -> None:
    # one held-out sample: centring on the sample mean would zero it; the measure is left out instead
    ref = _maps(0, (1, 512))
    f = fidelity(ref, ref * 1.01 + 0.001)
    assert "centered_cosine" not in f and "topk_agreement" not in f
    assert score_name(f) == "cosine" and score(f) > 0.99


def test_standard_error_shrinks_with_samples() -> None:
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((200, 64))
    cand = ref + 0.3 * rng.standard_normal(ref.shape)
    few, many = fidelity(ref[:8], cand[:8]), fidelity(ref, cand)
    assert many["centered_cosine_se"] < few["centered_cosine_se"]
    assert abs(few["centered_cosine"] - many["centered_cosine"]) < 4 * few["centered_cosine_se"]


def test_non_finite_candidate_scores_nan() -> None:
    ref = _maps(0, (4, 10))
    cand = ref.copy()
    cand[1, 3] = np.inf
    f = fidelity(ref, cand)
    assert f["finite"] == 0.0 and np.isnan(score(f))


def test_integer_outputs_compare_exactly() -> None:
    ids = np.arange(12).reshape(3, 4)
    changed = ids.copy()
    changed[0, 0] = 99
    f = fidelity([ids], [changed])
    assert f["exact_agreement"] == pytest.approx(11 / 12)
    assert score(f) == pytest.approx(11 / 12)


def test_scalar_and_shape_errors() -> None:
    assert fidelity(np.float32(2.0), np.float32(2.0))["samples"] == 1
    with pytest.raises(ValueError, match="same outputs"):
        fidelity([_maps(0, (2, 3))], [_maps(0, (2, 3)), _maps(0, (2, 3))])
    with pytest.raises(ValueError, match="one shape"):
        fidelity(_maps(0, (2, 3)), _maps(0, (2, 4)))
