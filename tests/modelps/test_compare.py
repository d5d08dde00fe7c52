"""Numeric comparison of models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx_ir as ir
import pytest

from modelps import ComparisonError
from modelps.compare import compare, load_inputs
from modelps.runtime import make_inputs
from tests.models import CHAIN, model_from_text, with_conv_weights


def test_identical_models_are_close() -> None:
    result = compare(with_conv_weights(), with_conv_weights())
    assert result.close
    assert result.outputs[0].max_abs == 0.0
    assert result.outputs[0].cosine == pytest.approx(1.0)


def test_perturbed_weights_are_reported() -> None:
    b = with_conv_weights()
    value = b.graph.initializers["fb"]
    value.const_value = ir.tensor(value.const_value.numpy() + np.float32(1.0), name="fb")
    result = compare(with_conv_weights(), b)
    assert not result.close
    assert result.outputs[0].max_abs == pytest.approx(1.0, rel=1e-5)


def test_inputs_from_npz(tmp_path: Path) -> None:
    model = with_conv_weights()
    np.savez(tmp_path / "in.npz", **make_inputs(model, seed=5, batch=3))
    feeds = load_inputs(tmp_path / "in.npz", model)
    assert feeds["x"].shape == (3, 3, 8, 8)
    assert compare(model, with_conv_weights(), inputs=feeds).close


def test_bad_npz(tmp_path: Path) -> None:
    model = with_conv_weights()
    np.savez(tmp_path / "wrong.npz", image=np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(ComparisonError, match=r"inputs missing \['x'\], unknown \['image'\]"):
        load_inputs(tmp_path / "wrong.npz", model)
    np.savez(tmp_path / "dtype.npz", x=np.zeros((1, 3, 8, 8), np.float64))
    with pytest.raises(ComparisonError, match="input 'x' is float64, the model expects float32"):
        load_inputs(tmp_path / "dtype.npz", model)


def test_different_signatures_are_refused() -> None:
    with pytest.raises(ComparisonError, match="the models take different inputs"):
        compare(with_conv_weights(), model_from_text(CHAIN))


def test_huge_declared_input_is_refused() -> None:
    model = model_from_text(CHAIN.replace("float[N, 4] x", "float[N, 100000000000] x"))
    with pytest.raises(ComparisonError, match="has 100000000000 elements; give inputs explicitly"):
        make_inputs(model)
