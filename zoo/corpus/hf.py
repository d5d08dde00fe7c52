"""Small transformers built from a config with random weights (no download), exported twice.

* ``vit``: a ViT encoder (the backbone of transformer ReID), 64x64 images in 8x8 patches,
  output ``last_hidden_state`` ``(batch, 65, 64)``.
* ``bert``: a BERT encoder over a 1,000-token vocabulary; inputs ``input_ids``, ``attention_mask``,
  ``token_type_ids`` ``(batch, seq)``; outputs ``last_hidden_state`` and ``pooler_output``.
* ``gpt2``: a GPT-2 decoder with its key/value cache as plain tensors (a thin wrapper builds and
  unpacks transformers' cache object, which the dynamo exporter cannot take): inputs
  ``input_ids (batch, seq)``, ``attention_mask (batch, total)`` and ``past_key_values.{i}.key|value``
  ``(batch, 4, past, 16)``; outputs ``logits`` and ``present.{i}.key|value`` ``(batch, 4, total, 16)``.

Each is exported with the TorchScript exporter (opset 17) and with the dynamo exporter (opset 18,
``torch.onnx.export(..., dynamo=True)``), and checked against torch in ONNX Runtime.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from zoo.corpus.images import photo
from zoo.corpus.store import MODEL_FILE
from zoo.errors import ExportError

__all__ = ["ARCHES", "bert_inputs", "build", "gpt2_inputs", "hf_inputs", "vit_inputs"]

logger = logging.getLogger(__name__)

ARCHES = ("vit", "bert", "gpt2")
_VOCAB, _HIDDEN, _LAYERS, _HEADS = 1000, 64, 2, 4
_IMAGE = 64
_PAD, _CLS, _SEP = 0, 1, 2
_TOL = 1e-4


def _module(arch: str) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(0)
    if arch == "vit":
        from transformers import ViTConfig, ViTModel

        config = ViTConfig(
            hidden_size=_HIDDEN, num_hidden_layers=_LAYERS, num_attention_heads=_HEADS, intermediate_size=2 * _HIDDEN,
            image_size=_IMAGE, patch_size=8,
        )  # fmt: skip
        vit = ViTModel(config, add_pooling_layer=False)

        class ViT(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.vit = vit

            def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
                return self.vit(pixel_values=pixel_values).last_hidden_state

        return ViT().eval()
    if arch == "bert":
        from transformers import BertConfig, BertModel

        config = BertConfig(
            vocab_size=_VOCAB, hidden_size=_HIDDEN, num_hidden_layers=_LAYERS, num_attention_heads=_HEADS,
            intermediate_size=2 * _HIDDEN, max_position_embeddings=128, pad_token_id=_PAD,
        )  # fmt: skip
        bert = BertModel(config)

        class Bert(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor):  # noqa: ANN201
                out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
                return out.last_hidden_state, out.pooler_output

        return Bert().eval()
    from transformers import DynamicCache, GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=_VOCAB, n_embd=_HIDDEN, n_layer=_LAYERS, n_head=_HEADS, n_positions=256,
        bos_token_id=_CLS, eos_token_id=_SEP, pad_token_id=_PAD,
    )  # fmt: skip
    gpt = GPT2LMHeadModel(config)
    # transformers 5 renamed ``past_key_values`` to ``cache`` in later releases
    cache_arg = "cache" if "cache" in inspect.signature(gpt.forward).parameters else "past_key_values"

    class Decoder(nn.Module):
        """GPT-2 with its cache as ``2 * layers`` plain tensors in and out."""

        def __init__(self) -> None:
            super().__init__()
            self.gpt = gpt

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, past: tuple[torch.Tensor, ...]):  # noqa: ANN201
            cache = DynamicCache([(past[2 * i], past[2 * i + 1]) for i in range(_LAYERS)], config=config)
            out = self.gpt(input_ids=input_ids, attention_mask=attention_mask, use_cache=True, **{cache_arg: cache})
            present = getattr(out, "cache", None) or out.past_key_values
            return (out.logits, *(t for layer in present.layers for t in (layer.keys, layer.values)))

    return Decoder().eval()


def _past_names(prefix: str) -> list[str]:
    return [f"{prefix}.{i}.{kv}" for i in range(_LAYERS) for kv in ("key", "value")]


def _signature(arch: str) -> tuple[list[str], list[str], dict[str, dict[int, str]]]:
    """Input names, output names and dynamic axes (name -> {axis: dim name})."""
    if arch == "vit":
        return (
            ["pixel_values"],
            ["last_hidden_state"],
            {"pixel_values": {0: "batch"}, "last_hidden_state": {0: "batch"}},
        )
    if arch == "bert":
        ins = ["input_ids", "attention_mask", "token_type_ids"]
        outs = ["last_hidden_state", "pooler_output"]
        axes = {n: {0: "batch", 1: "seq"} for n in ins} | {outs[0]: {0: "batch", 1: "seq"}, outs[1]: {0: "batch"}}
        return ins, outs, axes
    ins = ["input_ids", "attention_mask", *_past_names("past_key_values")]
    outs = ["logits", *_past_names("present")]
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "total"}}
    axes |= {n: {0: "batch", 2: "past"} for n in _past_names("past_key_values")}
    axes |= {n: {0: "batch", 2: "total"} for n in _past_names("present")} | {"logits": {0: "batch", 1: "seq"}}
    return ins, outs, axes


def _feeds(arch: str, rng: np.random.Generator, batch: int = 1) -> dict[str, np.ndarray]:
    """One realistic input: photos for the ViT, padded sentence pairs for BERT, a continuation for GPT-2."""
    if arch == "vit":
        images = [photo(rng, (_IMAGE, _IMAGE)).astype(np.float32) / 255.0 for _ in range(batch)]
        return {"pixel_values": ((np.stack(images) - 0.5) / 0.5).transpose(0, 3, 1, 2).astype(np.float32)}
    if arch == "bert":
        seq = 24
        ids = np.full((batch, seq), _PAD, np.int64)
        types = np.zeros((batch, seq), np.int64)
        for row in range(batch):
            a, b = int(rng.integers(3, 10)), int(rng.integers(3, 10))
            words = np.minimum(rng.zipf(1.3, a + b) + 2, _VOCAB - 1)  # word frequencies follow Zipf's law
            tokens = [_CLS, *words[:a], _SEP, *words[a:], _SEP]
            ids[row, : len(tokens)] = tokens
            types[row, a + 2 : len(tokens)] = 1
        return {"input_ids": ids, "attention_mask": (ids != _PAD).astype(np.int64), "token_type_ids": types}
    past, seq = int(rng.integers(4, 12)), int(rng.integers(1, 4))
    ids = np.minimum(rng.zipf(1.3, (batch, seq)) + 2, _VOCAB - 1).astype(np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones((batch, past + seq), np.int64)}
    # unit-normal keys and values (export and check only: gpt2_inputs fills the cache by running the model)
    feeds |= {
        n: rng.normal(0, 1, (batch, _HEADS, past, _HIDDEN // _HEADS)).astype(np.float32)
        for n in _past_names("past_key_values")
    }
    return feeds


def _torch_args(arch: str, feeds: dict[str, np.ndarray]) -> tuple[Any, ...]:
    import torch

    tensors = [torch.from_numpy(v) for v in feeds.values()]
    return (tensors[0], tensors[1], tuple(tensors[2:])) if arch == "gpt2" else tuple(tensors)


def _export(arch: str, module: Any, path: Path, exporter: str, example: dict[str, np.ndarray]) -> None:
    import torch

    ins, outs, axes = _signature(arch)
    args = _torch_args(arch, example)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if exporter == "torchscript":
            torch.onnx.export(
                module, args, str(path), input_names=ins, output_names=outs, dynamic_axes=axes, opset_version=17,
                dynamo=False,
            )  # fmt: skip
            return
        shapes: list[Any] = [{a: torch.export.Dim.DYNAMIC for a in axes[n]} for n in ins]
        if arch == "gpt2":
            shapes = [shapes[0], shapes[1], tuple(shapes[2:])]
        program = torch.onnx.export(
            module, args, input_names=ins, output_names=outs, dynamic_shapes=tuple(shapes), opset_version=18,
            dynamo=True, verbose=False,
        )  # fmt: skip
        program.save(str(path))
    _name_dims(path, axes)


def _name_dims(path: Path, axes: dict[str, dict[int, str]]) -> None:
    """Give the dynamo export's generated dim names (``s0``, ``s1``...) the names the TorchScript export has."""
    import onnx_ir as ir

    model = ir.load(path)
    for value in (*model.graph.inputs, *model.graph.outputs):
        if value.name in axes and value.shape is not None:
            dims = list(value.shape)
            for axis, name in axes[value.name].items():
                dims[axis] = name
            value.shape = ir.Shape(dims)
    ir.save(model, path)


def _check(arch: str, module: Any, path: Path, feeds: dict[str, np.ndarray]) -> float:
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    actual = session.run(None, feeds)
    with torch.no_grad():
        expected = module(*_torch_args(arch, feeds))
    expected = expected if isinstance(expected, tuple) else (expected,)
    err = max(float(np.max(np.abs(a - e.numpy()))) for a, e in zip(actual, expected, strict=True))
    if not err < _TOL:
        raise ExportError(f"{arch} ({path.name}): ONNX Runtime differs from torch by {err:.2e}")
    return err


def build(folder: Path, arch: str, exporter: str) -> dict[str, Any]:
    """Build ``arch`` with seed-0 random weights and export it with ``exporter`` (``torchscript``/``dynamo``)."""
    module = _module(arch)
    path = folder / MODEL_FILE
    _export(arch, module, path, exporter, _feeds(arch, np.random.default_rng(0), batch=2))
    err = max(_check(arch, module, path, _feeds(arch, np.random.default_rng(s))) for s in (1, 2))
    logger.info("%s (%s): ONNX Runtime matches torch within %.1e", arch, exporter, err)
    return {"torch_params": int(sum(p.numel() for p in module.parameters())), "max_abs_error": err}


def hf_inputs(arch: str, n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``n`` single-sample feeds for ``arch``."""
    rng = np.random.default_rng(seed)
    return [_feeds(arch, rng) for _ in range(n)]


def vit_inputs(path: Path, n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``n`` photo crops, 1x3x64x64, normalised with mean 0.5 and std 0.5."""
    return hf_inputs("vit", n, seed)


def bert_inputs(path: Path, n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``n`` sentence pairs (Zipf-distributed token ids), ``[CLS] a [SEP] b [SEP]``, padded to 24 tokens."""
    return hf_inputs("bert", n, seed)


def gpt2_inputs(path: Path, n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``n`` decoding steps: 1-3 new tokens after a cache of 4-11 positions.

    The cache is real: the model at ``path`` first reads the prompt with an empty cache (past
    length 0), and its ``present`` keys and values become the step's ``past_key_values``.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    empty = np.zeros((1, _HEADS, 0, _HIDDEN // _HEADS), np.float32)
    feeds = []
    for feed in hf_inputs("gpt2", n, seed):
        past, seq = feed[_past_names("past_key_values")[0]].shape[2], feed["input_ids"].shape[1]
        prompt = np.random.default_rng([seed, len(feeds)]).zipf(1.3, (1, past)) + 2
        prompt_feed = {"input_ids": np.minimum(prompt, _VOCAB - 1).astype(np.int64)}
        prompt_feed["attention_mask"] = np.ones((1, past), np.int64)
        prompt_feed |= {name: empty for name in _past_names("past_key_values")}
        present = session.run(_past_names("present"), prompt_feed)
        feed |= dict(zip(_past_names("past_key_values"), present, strict=True))
        feed["attention_mask"] = np.ones((1, past + seq), np.int64)
        feeds.append(feed)
    return feeds
