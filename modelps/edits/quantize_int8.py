"""``quantize_int8``: static post-training INT8 quantization in QDQ form (whole-model transform)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Literal

from modelps.edits._base import Edit, register
from modelps.tape import Tape

if TYPE_CHECKING:
    import numpy as np
    import onnx_ir as ir

__all__ = ["QuantizeInt8"]


@register
@dataclasses.dataclass(frozen=True)
class QuantizeInt8(Edit):
    """Quantize weights and activations to INT8 with QuantizeLinear/DequantizeLinear pairs.

    Parameters: ``calib`` is the calibration source (``"samples"``: bundled images; ``"random"``;
    an ``.npz`` path keyed by input names; a folder of images), ``calib_sha256`` the fingerprint
    of a file source checked on replay, ``calib_samples``/``seed``/``normalize`` how inputs are
    drawn, ``method`` the calibration method (``minmax``, ``entropy``, ``percentile``),
    ``per_channel`` per-output-channel weight scales, ``activation_type``/``weight_type`` the
    integer types (x86 CPUs: ``uint8`` activations, ``int8`` weights), ``exclude`` node names kept
    in float (sensitive layers), ``op_types`` the operator types to quantize (all supported ones
    by default), ``symmetric`` symmetric activation ranges, ``reduce_range`` 7-bit weights (for
    CPUs without VNNI), ``preprocess`` ORT's ``quant_pre_process`` first (shape inference, BatchNorm
    folding and other graph optimizations), ``input_shapes`` the shapes of inputs with dynamic
    dimensions for generated calibration sources (an ``.npz`` brings its own); ``finetune_steps``
    (PyTorch) then trains the quantized model's integer weights and biases for that many steps, with
    the rounding and clipping of INT8 inference simulated, to reproduce the model before this edit on
    the calibration inputs (quantization-aware distillation, :mod:`modelps.compress.fake_quant`;
    scales and zero points stay as calibrated; ``finetune_lr`` is relative to each tensor's scale).

    Handles any model ONNX Runtime can quantize; opsets below 13 are upgraded first (per-channel
    QDQ needs 13). Refuses: excluded nodes that do not exist, a changed calibration file, inputs
    the calibration source cannot feed (give an ``.npz``).
    """

    op = "quantize_int8"
    calib: str = "samples"
    calib_sha256: str | None = None
    calib_samples: int = 32
    seed: int = 0
    normalize: Literal["imagenet", "unit", "none"] = "imagenet"
    method: Literal["minmax", "entropy", "percentile"] = "minmax"
    per_channel: bool = True
    activation_type: Literal["uint8", "int8"] = "uint8"
    weight_type: Literal["int8", "uint8"] = "int8"
    exclude: tuple[str, ...] = ()
    op_types: tuple[str, ...] = ()
    symmetric: bool = False
    reduce_range: bool = False
    preprocess: bool = True
    input_shapes: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    finetune_steps: int = 0
    finetune_lr: float = 1e-4

    def apply(self, tape: Tape) -> None:
        """Build the transformed model and swap it in through ``tape``."""
        from modelps.compress.calib import load_calibration
        from modelps.compress.quantize import quantize_static_qdq

        model = tape.model
        if self.finetune_steps < 0 or self.finetune_lr <= 0:
            got = f"{self.finetune_steps}, {self.finetune_lr}"
            raise self.fail(f"finetune_steps must be >= 0 and finetune_lr > 0, got {got}")
        if any(node.domain == "" and node.op_type in ("QuantizeLinear", "QLinearConv") for node in model.graph):
            raise self.fail("the model is already quantized")
        feeds = load_calibration(
            model,
            self.calib,
            count=self.calib_samples,
            seed=self.seed,
            normalize=self.normalize,
            expected_sha256=self.calib_sha256,
            shapes=self.input_shapes,
        )
        quantized = quantize_static_qdq(
            model,
            feeds,
            method=self.method,
            per_channel=self.per_channel,
            activation_type=self.activation_type,
            weight_type=self.weight_type,
            exclude=self.exclude,
            op_types=self.op_types or None,
            symmetric=self.symmetric,
            reduce_range=self.reduce_range,
            preprocess=self.preprocess,
        )
        if self.finetune_steps:
            quantized = self._finetuned(quantized, model, feeds)
        tape.replace_model(quantized)

    def _finetuned(self, quantized: ir.Model, model: ir.Model, feeds: list[dict[str, np.ndarray]]) -> ir.Model:
        """Quantization-aware distillation of ``model`` into ``quantized`` (PyTorch, imported there)."""
        from modelps.compress.distill import distill_for_edit

        steps, lr = self.finetune_steps, self.finetune_lr
        return distill_for_edit(quantized, model, feeds, steps=steps, lr=lr, seed=self.seed, error=self.fail)
