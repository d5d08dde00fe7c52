"""Serve zoo models (runs once the zoo package is available; skipped with the reason otherwise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as httpclient

import serving

zoo = pytest.importorskip("zoo", reason="the zoo package is not installed in this checkout yet")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["face-mobilefacenet", "fedssl-byol-resnet18"])
def test_zoo_model_served_equals_in_process(name: str, tmp_path: Path) -> None:
    export = zoo.export
    path = tmp_path / f"{name}.onnx"
    export(name, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {}
    rng = np.random.default_rng(0)
    for value in session.get_inputs():
        shape = [d if isinstance(d, int) else 2 for d in value.shape]
        feeds[value.name] = rng.standard_normal(shape).astype(np.float32)
    expected = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds), strict=True))
    serving.publish(path, tmp_path / "repo", "zm")
    with serving.start_background(tmp_path / "repo") as server:
        client = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
        for binary in (True, False):
            inputs = []
            for key, array in feeds.items():
                tensor = httpclient.InferInput(key, list(array.shape), "FP32")
                tensor.set_data_from_numpy(array, binary_data=binary)
                inputs.append(tensor)
            outputs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in expected]
            result = client.infer("zm", inputs, outputs=outputs)
            for key, want in expected.items():
                assert np.abs(result.as_numpy(key) - want).max() < 1e-5
        client.close()
