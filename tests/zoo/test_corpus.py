"""The foreign-model corpus: every model builds, passes the checker, runs, and is what it claims to be."""

from __future__ import annotations

import re

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from zoo import corpus
from zoo.corpus.registry import ENTRIES
from zoo.errors import UnknownModelError

_FLOATING = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16}
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def _params() -> list:
    return [pytest.param(n, marks=pytest.mark.slow) if ENTRIES[n].slow else n for n in corpus.names()]


# ---- tag predicates, written against the raw proto (independent of the corpus package) ----


def _subgraphs(graph: onnx.GraphProto):
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield attr.g
                yield from _subgraphs(attr.g)
            for g in attr.graphs:
                yield g
                yield from _subgraphs(g)


def _float_constants(nodes, min_size: int = 16) -> list[np.ndarray]:
    out = []
    for node in nodes:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type in _FLOATING and np.prod(attr.t.dims) >= min_size:
                    out.append(onnx.numpy_helper.to_array(attr.t))
    return out


def _float_initializers(graph: onnx.GraphProto, min_size: int = 16) -> list[onnx.TensorProto]:
    return [t for t in graph.initializer if t.data_type in _FLOATING and np.prod(t.dims) >= min_size]


def _dims(values) -> list[onnx.TensorShapeProto.Dimension]:
    return [d for v in values for d in v.type.tensor_type.shape.dim]


def _is_dynamo(m: onnx.ModelProto) -> bool:
    return any(p.key.startswith("pkg.torch.onnx") for n in m.graph.node for p in n.metadata_props)


def _ranks(m: onnx.ModelProto) -> list[int]:
    return [len(o.type.tensor_type.shape.dim) for o in m.graph.output]


def _default_opset(m: onnx.ModelProto) -> int:
    return next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))


def _has_external(m: onnx.ModelProto) -> bool:
    return any(t.data_location == onnx.TensorProto.EXTERNAL for t in m.graph.initializer)


def _fp16_overflow(m: onnx.ModelProto, path) -> bool:
    full = onnx.load(str(path))
    arrays = [onnx.numpy_helper.to_array(t) for t in _float_initializers(full.graph, 1)]
    arrays += _float_constants(full.graph.node, 1)
    return any(np.abs(a).max() > 65504 for a in arrays if a.size)


TAG_CHECKS = {
    "paddle": lambda m, p: "paddle" in m.graph.name.lower(),
    "pytorch": lambda m, p: m.producer_name == "pytorch",
    "torchscript": lambda m, p: m.producer_name == "pytorch" and not _is_dynamo(m),
    "dynamo": lambda m, p: m.producer_name == "pytorch" and _is_dynamo(m),
    "skl2onnx": lambda m, p: m.producer_name == "skl2onnx",
    "onnxscript": lambda m, p: m.producer_name == "onnxscript",
    "dynamic-dims": lambda m, p: any(not d.HasField("dim_value") or d.dim_value < 0 for d in _dims(m.graph.input)),
    "odd-dim-names": lambda m, p: any(d.dim_param and not _PLAIN_NAME.match(d.dim_param) for d in _dims(m.graph.input)),
    "negative-dims": lambda m, p: any(d.HasField("dim_value") and d.dim_value < 0 for d in _dims(m.graph.input)),
    "constant-weights": lambda m, p: len(_float_constants(m.graph.node)) > 10 and not _float_initializers(m.graph),
    "batchnorm": lambda m, p: any(n.op_type == "BatchNormalization" for n in m.graph.node),
    "fp16-overflow": _fp16_overflow,
    "subgraphs": lambda m, p: any(True for _ in _subgraphs(m.graph)),
    "if": lambda m, p: any(n.op_type == "If" for n in m.graph.node),
    "loop": lambda m, p: any(n.op_type == "Loop" for n in m.graph.node),
    "subgraph-weights": lambda m, p: any(_float_constants(g.node) + _float_initializers(g) for g in _subgraphs(m.graph)),  # noqa: E501
    "functions": lambda m, p: bool(m.functions) and any(n.domain == m.functions[0].domain for n in m.graph.node),
    "function-weights": lambda m, p: any(_float_constants(f.node) for f in m.functions),
    "ml-domain": lambda m, p: any(n.domain == "ai.onnx.ml" for n in m.graph.node),
    "external-data": lambda m, p: _has_external(m) and (p.parent / f"{p.name}.data").is_file(),
    "int64-inputs": lambda m, p: any(i.type.tensor_type.elem_type == onnx.TensorProto.INT64 for i in m.graph.input),
    "kv-cache": lambda m, p: {"past_key_values", "present"} <= {v.name.split(".")[0] for v in (*m.graph.input, *m.graph.output)},  # noqa: E501
    "multi-output": lambda m, p: len(m.graph.output) > 1,
    "rank3-outputs": lambda m, p: 3 in _ranks(m),
    "rank4-outputs": lambda m, p: 4 in _ranks(m),
}  # fmt: skip


@pytest.mark.parametrize("name", _params())
def test_corpus_model_builds_checks_runs_and_has_its_tags(name: str) -> None:
    model = corpus.get(name)
    assert model.name == name and model.path.is_file()
    onnx.checker.check_model(str(model.path), full_check=False)
    proto = onnx.load(str(model.path), load_external_data=False)

    for tag in sorted(model.tags):
        if tag.startswith("opset"):
            assert _default_opset(proto) == int(tag.removeprefix("opset")), tag
        else:
            assert TAG_CHECKS[tag](proto, model.path), f"{name} claims {tag!r}, the proto disagrees"
    assert any(t.startswith("opset") for t in model.tags)

    assert model.param_count is not None and model.param_count > 0
    assert model.meta["nodes"] == len(proto.graph.node)

    feeds = model.inputs(2)
    assert len(feeds) == 2
    assert model.inputs(2) and all(
        np.array_equal(a[k], b[k]) for a, b in zip(feeds, model.inputs(2), strict=True) for k in a
    ), "inputs are deterministic given the seed"
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(model.path), options, providers=["CPUExecutionProvider"])
    assert {i.name for i in session.get_inputs()} == set(feeds[0])
    for feed in feeds:
        outputs = session.run(None, feed)
        assert len(outputs) == len(proto.graph.output)
        assert all(np.isfinite(o).all() for o in outputs if np.issubdtype(o.dtype, np.floating))


def test_names_and_unknown_model() -> None:
    fast = corpus.names(include_slow=False)
    assert set(fast) < set(corpus.names())
    assert {"ppocr-det", "ppocr-rec", "sklearn-digits", "variant-if-loop"} <= set(fast)
    with pytest.raises(UnknownModelError, match="no corpus model 'nope'"):
        corpus.get("nope")


def test_cache_is_reused(tmp_path) -> None:
    first = corpus.get("sklearn-digits", cache_dir=tmp_path)
    stamp = first.path.stat().st_mtime_ns
    again = corpus.get("sklearn-digits", cache_dir=tmp_path)
    assert again.path == first.path and again.path.stat().st_mtime_ns == stamp
    assert again.param_count == first.param_count


def test_param_counts_match_the_source_framework() -> None:
    from zoo.corpus.counting import count_weights

    sk = corpus.get("sklearn-digits")
    assert sk.param_count == 64 + 64 + 640 + 10  # scaler mean/scale, coefficients, intercepts
    assert count_weights(onnx.load(str(sk.path))).by_place["ml-attribute"] == sk.param_count
    fn = corpus.get("onnxscript-functions")
    assert fn.param_count == 64 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10
    places = {"initializer": 64 * 64 + 64 + 32 * 10 + 10, "function-constant": 64 * 32 + 32}
    assert fn.meta["weights_by_place"] == places


def test_variants_keep_the_zoo_models_function() -> None:
    import zoo

    base = ort.InferenceSession(str(zoo.export("face-mobilefacenet")), providers=["CPUExecutionProvider"])
    x = np.concatenate([f["input"] for f in corpus.get("variant-opset11").inputs(3)])
    expected = base.run(None, {"input": x})[0]
    for name in ("variant-constants", "variant-opset11", "variant-opset21", "variant-multi-output",
                 "variant-if-loop", "variant-external-data"):  # fmt: skip
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(str(corpus.get(name).path), options, providers=["CPUExecutionProvider"])
        actual = session.run(None, {"input": x})[0]
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max(), err_msg=name)


_TASK_FLOOR = {"ppocr-det": 0.3, "ppocr-rec": 0.75, "sklearn-digits": 0.85, "onnxscript-functions": 0.85}


@pytest.mark.parametrize("name", sorted(_TASK_FLOOR))
def test_trained_models_do_their_task(name: str) -> None:
    from zoo.corpus import tasks

    model, task = corpus.get(name), tasks.task(name)
    assert model.trained and task.model == name
    feeds, labels = task.labelled(12, 3)
    session = ort.InferenceSession(str(model.path), providers=["CPUExecutionProvider"])
    assert task.score([session.run(None, f) for f in feeds], labels) > _TASK_FLOOR[name]


def test_models_without_a_task() -> None:
    from zoo.corpus import tasks

    assert set(tasks.TASKS) == {n for n in corpus.names() if ENTRIES[n].trained}
    with pytest.raises(UnknownModelError, match="has no task"):
        tasks.task("vit-dynamo")


@pytest.mark.slow
def test_segmentation_model_is_trained() -> None:
    from zoo.corpus import tasks

    model, task = corpus.get("seg-shapes"), tasks.task("seg-shapes")
    feeds, labels = task.labelled(32, 1)
    session = ort.InferenceSession(str(model.path), providers=["CPUExecutionProvider"])
    outputs = [session.run(None, f) for f in feeds]
    assert outputs[0][0].shape == (1, 4, 32, 32)
    chance = task.score([[np.zeros_like(o[0])] for o in outputs], labels)  # everything "background"
    assert task.score(outputs, labels) > max(0.45, chance + 0.2)
    big = session.run(None, {"image": np.zeros((2, 3, 48, 64), np.float32)})[0]
    assert big.shape == (2, 4, 48, 64)  # batch, height and width are free


def test_public_api_is_pinned() -> None:
    assert corpus.__all__ == ["CORPUS_VERSION", "CorpusModel", "get", "names"]
    from zoo.corpus import tasks

    assert tasks.__all__ == ["TASKS", "Task", "task"]


def test_table_command(capsys) -> None:
    from zoo.corpus.__main__ import main

    assert main(["sklearn-digits"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("| model |") and out[2].startswith("| `sklearn-digits` | yes | 3 | 778 |")
