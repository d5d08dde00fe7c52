"""The corpus table: name, builder, input generator, origin and claimed tags of every model (no heavy imports).

Tags name what is unusual about a graph; the tests check each claim against the proto:

``paddle``, ``pytorch``, ``torchscript``, ``dynamo``, ``skl2onnx``, ``onnxscript`` (producer);
``opsetN`` (default-domain opset); ``dynamic-dims``, ``odd-dim-names``, ``negative-dims`` (inputs);
``constant-weights`` (weights in Constant nodes), ``batchnorm`` (unfolded BatchNormalization),
``fp16-overflow`` (a weight past float16's range); ``subgraphs``, ``if``, ``loop``,
``subgraph-weights``; ``functions``, ``function-weights``; ``ml-domain``; ``external-data``;
``int64-inputs``, ``kv-cache``; ``multi-output``, ``rank3-outputs``, ``rank4-outputs``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ENTRIES", "Entry"]


@dataclass(frozen=True)
class Entry:
    """How to build one corpus model (``module:function`` targets are imported on use)."""

    name: str
    builder: str
    inputs: str
    origin: str
    trained: bool
    tags: frozenset[str]
    slow: bool
    args: tuple[str, ...] = ()


def _e(name: str, builder: str, inputs: str, origin: str, trained: bool, tags: str, slow: bool, *args: str) -> Entry:
    return Entry(
        name, f"zoo.corpus.{builder}", f"zoo.corpus.{inputs}", origin, trained, frozenset(tags.split()), slow, args
    )


_V = "variants:face_inputs"
_TABLE = (
    _e("ppocr-det", "ppocr:build_det", "ppocr:det_inputs",
       "PP-OCRv6_det_small.onnx from the rapidocr==3.10.0 wheel (PaddlePaddle export)", True,
       "paddle opset11 dynamic-dims rank4-outputs", False),
    _e("ppocr-rec", "ppocr:build_rec", "ppocr:rec_inputs",
       "PP-OCRv6_rec_small.onnx from the rapidocr==3.10.0 wheel (PaddlePaddle export, CTC over 18,710 classes)", True,
       "paddle opset11 dynamic-dims rank3-outputs", False),
    _e("sklearn-digits", "digits:build_sklearn", "digits:digits_inputs",
       "scikit-learn StandardScaler + LogisticRegression on digits, converted by skl2onnx (zipmap off)", True,
       "skl2onnx ml-domain multi-output opset18", False),
    _e("onnxscript-functions", "digits:build_functions", "digits:digits_inputs",
       "scikit-learn MLP on digits written as ONNX local functions with onnxscript", True,
       "onnxscript functions function-weights dynamic-dims opset18", False),
    _e("seg-shapes", "segmentation:build_seg", "segmentation:seg_inputs",
       "U-Net trained here on synthetic shapes (torch, a few CPU minutes), TorchScript export", True,
       "pytorch torchscript dynamic-dims rank4-outputs opset17", True),
    _e("variant-constants", "variants:build_constants", _V,
       "zoo face-mobilefacenet, BatchNorm unfolded, every weight a Constant node, some variances > 65504", False,
       "pytorch constant-weights batchnorm fp16-overflow dynamic-dims opset17", False),
    _e("variant-odd-dims", "variants:build_odd_dims", "variants:odd_dims_inputs",
       "zoo fedssl-byol-resnet18 with free image size: batch -1, height/width named oddly", False,
       "pytorch dynamic-dims odd-dim-names negative-dims opset17", False),
    _e("variant-opset11", "variants:build_opset11", _V,
       "zoo face-mobilefacenet exported by the TorchScript exporter at opset 11", False,
       "pytorch opset11 dynamic-dims", False),
    _e("variant-opset21", "variants:build_opset21", _V,
       "zoo face-mobilefacenet converted to opset 21 by onnx.version_converter", False,
       "pytorch opset21 dynamic-dims", False),
    _e("variant-multi-output", "variants:build_multi_output", _V,
       "zoo face-mobilefacenet with its last feature map (rank 4) and tokens (rank 3) as outputs", False,
       "pytorch multi-output rank3-outputs rank4-outputs dynamic-dims opset17", False),
    _e("variant-if-loop", "variants:build_if_loop", _V,
       "zoo face-mobilefacenet whose head is a Loop and an If holding its weights", False,
       "pytorch subgraphs if loop subgraph-weights dynamic-dims opset17", False),
    _e("variant-external-data", "variants:build_external_data", _V,
       "zoo face-mobilefacenet with its weights in model.onnx.data", False,
       "pytorch external-data dynamic-dims opset17", False),
    _e("vit-torchscript", "hf:build", "hf:vit_inputs",
       "transformers ViT (2 layers, 64 wide, random weights), TorchScript exporter", False,
       "pytorch torchscript rank3-outputs dynamic-dims opset17", False, "vit", "torchscript"),
    _e("vit-dynamo", "hf:build", "hf:vit_inputs",
       "transformers ViT (2 layers, 64 wide, random weights), dynamo exporter", False,
       "pytorch dynamo rank3-outputs dynamic-dims opset18", True, "vit", "dynamo"),
    _e("bert-torchscript", "hf:build", "hf:bert_inputs",
       "transformers BERT (2 layers, 64 wide, random weights), TorchScript exporter", False,
       "pytorch torchscript int64-inputs multi-output rank3-outputs dynamic-dims opset17",
       False, "bert", "torchscript"),
    _e("bert-dynamo", "hf:build", "hf:bert_inputs",
       "transformers BERT (2 layers, 64 wide, random weights), dynamo exporter", False,
       "pytorch dynamo int64-inputs multi-output rank3-outputs dynamic-dims opset18", True, "bert", "dynamo"),
    _e("gpt2-torchscript", "hf:build", "hf:gpt2_inputs",
       "transformers GPT-2 decoder (2 layers, 64 wide, random weights) with plain-tensor KV cache, TorchScript", False,
       "pytorch torchscript int64-inputs kv-cache multi-output rank3-outputs rank4-outputs dynamic-dims opset17",
       False, "gpt2", "torchscript"),
    _e("gpt2-dynamo", "hf:build", "hf:gpt2_inputs",
       "transformers GPT-2 decoder (2 layers, 64 wide, random weights) with plain-tensor KV cache, dynamo", False,
       "pytorch dynamo int64-inputs kv-cache multi-output rank3-outputs rank4-outputs dynamic-dims opset18",
       True, "gpt2", "dynamo"),
)  # fmt: skip

ENTRIES: dict[str, Entry] = {e.name: e for e in _TABLE}
