"""The prune_channels and quantize_int8 edits: reconstruction, replay, calibration sources, opset 11/12."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest

from modelps import runtime
from modelps.compress import analyze, keep_count, prune, select_channels
from modelps.compress.calib import load_calibration, source_sha256
from modelps.compress.pruning import activation_scores
from modelps.compress.reconstruct import reconstruct
from modelps.errors import EditError
from modelps.io import model_bytes, save
from modelps.model import Model
from modelps.recipe import Recipe
from tests.modelps.compress import nets


def centered_cos(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean(0)
    b = b - b.mean(0)
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def outputs(model: ir.Model, feeds: list[dict[str, np.ndarray]]) -> np.ndarray:
    session = runtime.session_for(model)
    return np.concatenate([session.run(None, f)[0] for f in feeds])


@pytest.fixture(scope="module")
def r50() -> ir.Model:
    return nets.resnet50(width=8, shape=(1, 3, 64, 32))


def test_least_squares_reconstruction_beats_plain_pruning(r50: ir.Model) -> None:
    calib = load_calibration(r50, "samples", count=16, seed=1)
    held = load_calibration(r50, "samples", count=12, seed=99)
    analysis = analyze(r50)
    groups = [g for g in analysis.prunable if not g.residual]
    scores = activation_scores(r50, analysis, groups, calib)
    keep = {g.name: select_channels(scores[g.name], keep_count(g.size, 0.5)) for g in groups}
    by_id = {analysis.group(n).id: k for n, k in keep.items()}
    reference = outputs(r50, held)
    plain = prune(r50, keep, analysis)
    fitted = prune(r50, keep, analysis)
    done = reconstruct(r50, fitted, analysis, by_id, calib)
    assert sorted(done) == sorted({c for g in groups for c in g.consumers})  # every consumer re-fit
    plain_cos = centered_cos(reference, outputs(plain, held))
    fitted_cos = centered_cos(reference, outputs(fitted, held))
    plain_err = np.linalg.norm(outputs(plain, held) - reference)
    fitted_err = np.linalg.norm(outputs(fitted, held) - reference)
    assert fitted_cos > plain_cos + 0.01, (plain_cos, fitted_cos)  # on held-out inputs
    assert fitted_err < 0.8 * plain_err
    shapes = [tuple(n.inputs[1].const_value.shape) for n in fitted.graph if n.op_type in ("Conv", "Gemm")]
    assert shapes == [tuple(n.inputs[1].const_value.shape) for n in plain.graph if n.op_type in ("Conv", "Gemm")]


def _redundant_pair_net() -> ir.Model:
    """Conv -> ReLU -> Conv where channel 7 of the middle tensor is exactly twice channel 0."""
    net = nets.Net(shape=(1, 3, 16, 16), seed=3)
    h = net.relu(net.conv(net.x, 8))
    producer = net.nodes[-2]
    for index in (1, 2):
        array = producer.inputs[index].const_value.numpy().copy()
        array[7] = 2.0 * array[0]  # ReLU(2a) = 2 ReLU(a): a redundant channel with a large norm
        producer.inputs[index].const_value = ir.tensor(array, name=producer.inputs[index].name)
    return net.build(net.conv(h, 4))


@pytest.mark.parametrize("importance", ["ls", "l2"])
def test_ls_importance_removes_the_channel_the_others_can_replace(importance: str) -> None:
    base = _redundant_pair_net()
    model = Model(base.clone())
    model.apply(
        {"op": "prune_channels", "groups": {"conv1": 0.125}, "importance": importance, "round_to": 1,
         "reconstruct": "random", "calib_samples": 16}
    )  # fmt: skip
    held = load_calibration(base, "random", count=8, seed=7)
    err = np.linalg.norm(outputs(model.ir, held) - outputs(base, held)) / np.linalg.norm(outputs(base, held))
    if importance == "ls":  # one of the pair goes; the re-fit gives its part to the other
        assert err < 1e-2, err
    else:  # the smallest-norm channel goes, and the others cannot make it up
        assert err > 5e-2, err


def test_ls_elimination_prices_the_redundant_channel_at_zero() -> None:
    from modelps.compress.pruning import ls_elimination

    base = _redundant_pair_net()
    analysis = analyze(base)
    elim = ls_elimination(base, analysis, [analysis.group("conv1")], load_calibration(base, "random", count=8))["conv1"]
    first = int(np.argmin(elim.ranks))
    assert first in (0, 7) and sorted(elim.ranks) == list(range(8))
    assert elim.costs[0] < 1e-3 * elim.energy[first]  # the other one of the pair takes its part
    assert elim.reconstruction_factor(1) < 1e-2
    assert 0 < elim.reconstruction_factor(4) <= 1.0  # independent channels: a re-fit helps, never hurts
    assert elim.reconstruction_factor(0) == 1.0


def test_ls_elimination_skips_groups_with_fewer_rows_than_channels() -> None:
    from modelps.compress.pruning import ls_elimination, ls_scores

    net = nets.Net(shape=(1, 3, 8, 8), seed=5)
    head = net.gemm(net.flatten(net.gap(net.relu(net.conv(net.x, 16)))), 4)
    model = net.build(head)
    analysis = analyze(model)
    group = analysis.group("conv1")
    few = load_calibration(model, "random", count=8)  # 8 pooled rows for 16 channels: singular
    assert ls_elimination(model, analysis, [group], few) == {}
    np.testing.assert_allclose(
        ls_scores(model, analysis, [group], few)["conv1"], activation_scores(model, analysis, [group], few)["conv1"]
    )
    assert "conv1" in ls_elimination(model, analysis, [group], load_calibration(model, "random", count=24))


def test_prune_channels_edit_validates_replays_and_undoes(r50: ir.Model, tmp_path) -> None:
    path = tmp_path / "r50.onnx"
    save(r50, path)
    model = Model.load(path)
    before = model.to_bytes()
    edit = {
        "op": "prune_channels",
        "ratio": 0.5,
        "importance": "error",
        "round_to": 4,
        "reconstruct": "samples",
        "calib_samples": 8,
    }
    model.apply(edit)
    pruned_bytes = model.to_bytes()
    assert len(pruned_bytes) < len(before)
    recipe = Recipe.from_json(model.recipe.to_json())
    replay = Model.load(path)
    replay.apply_recipe(recipe)
    assert replay.to_bytes() == pruned_bytes  # deterministic replay
    model.undo()
    assert model.to_bytes() == before
    feeds = runtime.make_inputs(replay.ir, seed=0)
    assert runtime.run(replay.ir, feeds)["y"].shape == (1, 10)


def test_prune_channels_edit_errors(r50: ir.Model) -> None:
    model = Model(r50.clone())
    with pytest.raises(EditError, match="no channel group named 'nope'"):
        model.apply({"op": "prune_channels", "groups": {"nope": 0.5}})
    with pytest.raises(EditError, match="group 'x' cannot be pruned: it is the model input 'x'"):
        model.apply({"op": "prune_channels", "groups": {"x": 0.5}})
    with pytest.raises(EditError, match=r"ratio must be in \[0, 1\), got 1.0"):
        model.apply({"op": "prune_channels", "ratio": 1.0})
    assert model.history == []


def test_per_group_ratios_and_residual_scope(r50: ir.Model) -> None:
    analysis = analyze(r50)
    stream = [g for g in analysis.prunable if g.residual][0]
    model = Model(r50.clone())
    model.apply({"op": "prune_channels", "ratio": 0.25})  # residual streams untouched by default
    after = analyze(model.ir)
    assert after.group(stream.name).size == stream.size
    model.apply({"op": "prune_channels", "groups": {stream.name: 0.5}})
    assert analyze(model.ir).group(stream.name).size == stream.size // 2


def test_calibration_sources(tmp_path, r50: ir.Model) -> None:
    from skimage import io as skio

    npz = tmp_path / "calib.npz"
    np.savez(npz, x=np.random.default_rng(0).standard_normal((5, 3, 64, 32)).astype(np.float32))
    feeds = load_calibration(r50, str(npz), count=10)
    assert len(feeds) == 5 and feeds[0]["x"].shape == (1, 3, 64, 32)
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        skio.imsave(str(folder / f"{i}.png"), np.full((40, 30, 3), 40 * i, np.uint8), check_contrast=False)
    images = load_calibration(r50, str(folder), count=8, normalize="unit")
    assert len(images) == 3
    np.testing.assert_allclose(images[2]["x"], 80 / 255, rtol=1e-5)
    sha = source_sha256(str(npz))
    np.savez(npz, x=np.zeros((5, 3, 64, 32), np.float32))
    with pytest.raises(EditError, match="changed since the recipe was made"):
        load_calibration(r50, str(npz), expected_sha256=sha)
    with pytest.raises(EditError, match="lacks input"):
        np.savez(npz, y=np.zeros((1, 3, 64, 32), np.float32))
        load_calibration(r50, str(npz))
    with pytest.raises(EditError, match="no such file or folder"):
        source_sha256(str(tmp_path / "missing"))


@pytest.mark.parametrize("opset", [11, 12])
def test_quantize_int8_on_old_opsets(opset: int) -> None:
    base = nets.resnet18(opset=opset, shape=(1, 3, 32, 32))
    model = Model(base.clone())
    model.apply({"op": "quantize_int8", "calib_samples": 8})
    q = model.ir
    assert q.opset_imports[""] >= 13
    ops = [n.op_type for n in q.graph]
    assert ops.count("QuantizeLinear") > 10 and ops.count("DequantizeLinear") > ops.count("QuantizeLinear")
    # per-channel weights: the Conv weight scales are vectors
    convs = [n for n in q.graph if n.op_type == "Conv"]
    scale = convs[1].inputs[1].producer().inputs[1].const_value
    assert scale.shape.numpy()[0] > 1
    feeds = load_calibration(base, "samples", count=8, seed=5)
    cos = centered_cos(outputs(base, feeds), outputs(q, feeds))
    assert cos > 0.95, cos
    assert len(model.to_bytes()) < 0.5 * len(model_bytes(base))


def test_quantize_int8_deterministic_exclude_and_methods() -> None:
    base = nets.resnet18(shape=(1, 3, 32, 32))
    first = Model(base.clone())
    first.apply({"op": "quantize_int8", "calib_samples": 4, "exclude": ["conv1"], "method": "percentile"})
    second = Model(base.clone())
    second.apply(Recipe.from_json(first.recipe.to_json()).edits[0])
    assert first.to_bytes() == second.to_bytes()
    conv1 = next(n for n in first.ir.graph if n.name == "conv1")
    assert conv1.inputs[1].producer() is None  # excluded: float weights, no DequantizeLinear
    with pytest.raises(EditError, match=r"nodes to exclude not found: \['nope'\]"):
        Model(base.clone()).apply({"op": "quantize_int8", "exclude": ["nope"]})
    with pytest.raises(EditError, match="already quantized"):
        first.apply({"op": "quantize_int8"})


def _weights_as_constants(model: ir.Model) -> ir.Model:
    """The same model with every initializer stored in a Constant node (as Paddle exports do)."""
    graph = model.graph
    for name, value in list(graph.initializers.items()):
        graph.initializers.pop(name)
        out = ir.Value(name=f"{name}_const", type=value.type, shape=value.shape)
        node = ir.Node("", "Constant", [], [ir.AttrTensor("value", value.const_value)], outputs=[out], name=name)
        graph.insert_before(graph[0], node)
        for user, index in list(value.uses()):
            user.replace_input_with(index, out)
    return model


def test_pruning_leaves_no_dead_weights(tmp_path) -> None:
    # regression: a pruned model kept its old weights in unused Constant nodes (13.6 MB vs 10.9 MB)
    base = _weights_as_constants(nets.resnet18(width=8))
    save(base, tmp_path / "base.onnx")
    model = Model(base)
    original = model.to_bytes()
    model.apply({"op": "prune_channels", "ratio": 0.5})
    graph = model.ir.graph
    dead = [n.name for n in graph if n.op_type == "Constant" and not any(v.uses() for v in n.outputs)]
    assert dead == []
    save(model.ir, tmp_path / "pruned.onnx")
    assert (tmp_path / "pruned.onnx").stat().st_size < 0.6 * (tmp_path / "base.onnx").stat().st_size
    model.undo()
    assert model.to_bytes() == original


def test_removing_a_consumer_drops_the_weights_it_alone_read() -> None:
    model = Model(nets.resnet18(width=8))
    before = set(model.ir.graph.initializers)
    fc = next(n for n in model.ir.graph if n.op_type == "Gemm")
    model.apply({"op": "extract", "inputs": [model.ir.graph.inputs[0].name], "outputs": [fc.inputs[0].name]})
    assert not any(name in model.ir.graph.initializers for name in (fc.inputs[1].name, fc.inputs[2].name))
    assert set(model.ir.graph.initializers) < before
    model.undo()
    assert set(model.ir.graph.initializers) == before


def test_quantizer_sessions_do_not_flood_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    # regression: foreign models made ORT print one "Removing initializer ... not used" line per weight
    base = nets.resnet18(width=8)
    for index in range(3):
        unused = ir.Value(name=f"unused_{index}", type=ir.TensorType(ir.DataType.FLOAT), shape=ir.Shape([4]))
        unused.const_value = ir.tensor(np.ones(4, np.float32), name=unused.name)
        base.graph.register_initializer(unused)
    model = Model(base, validation="structure")
    model.apply({"op": "quantize_int8", "calib_samples": 4})
    assert "Removing initializer" not in capfd.readouterr().err
