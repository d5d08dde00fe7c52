"""Static post-training INT8 quantization in QDQ form, through ONNX Runtime's quantization tools.

Pipeline: upgrade the default-domain opset to >= 13 when needed (per-channel QDQ needs it), run
ORT's ``quant_pre_process`` (shape inference and graph optimization, e.g. folding BatchNorm into
Conv), calibrate on the given feeds, and insert QuantizeLinear/DequantizeLinear pairs with
per-channel INT8 weights. On x86 CPUs activations are unsigned (``uint8``) and weights signed
(``int8``): ORT's fast U8S8 kernels then run every convolution in INT8 (S8S8 left convolutions
unquantized and ran slower than FP32 in our measurements).
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
import onnx_ir as ir

from modelps.errors import EditError

__all__ = ["METHODS", "Method", "quantize_static_qdq", "upgrade_opset"]

logger = logging.getLogger(__name__)

Method = Literal["minmax", "entropy", "percentile"]
METHODS: tuple[str, ...] = ("minmax", "entropy", "percentile")
MIN_OPSET = 13


def upgrade_opset(model: onnx.ModelProto, target: int = MIN_OPSET) -> onnx.ModelProto:
    """Convert the default-domain opset up to ``target`` when it is lower (no-op otherwise)."""
    version = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if version is None or version >= target:
        return model
    from onnx import version_converter

    try:
        converted = version_converter.convert_version(model, target)
    except Exception as exc:  # noqa: BLE001  the converter raises many types
        raise EditError(f"cannot upgrade the model from opset {version} to {target} for quantization: {exc}") from exc
    logger.info("upgraded opset %d -> %d for quantization", version, target)
    return converted


class _Reader:
    """An ORT ``CalibrationDataReader`` over a list of feeds."""

    def __init__(self, feeds: Sequence[Mapping[str, np.ndarray]]) -> None:
        self._feeds = list(feeds)
        self._iter: Iterator[Mapping[str, np.ndarray]] = iter(self._feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        item = next(self._iter, None)
        return None if item is None else dict(item)

    def rewind(self) -> None:
        self._iter = iter(self._feeds)

    def __len__(self) -> int:
        return len(self._feeds)

    def set_range(self, start_index: int, end_index: int) -> None:
        """Serve only ``feeds[start_index:end_index]`` (ORT's strided calibration)."""
        self._iter = iter(self._feeds[start_index:end_index])


CALIB_STRIDE = 4
"""Calibration inputs whose activations ORT holds at once (its calibrators keep every activation of
every input until ranges are computed: 32 text pages of 320x320 took 5 GB at once)."""


def _stride(count: int) -> int:
    """The largest divisor of ``count`` up to :data:`CALIB_STRIDE` (ORT needs the stride to divide it)."""
    return next(d for d in range(min(CALIB_STRIDE, max(count, 1)), 0, -1) if count % d == 0)


def quantize_static_qdq(
    model: ir.Model,
    feeds: Sequence[Mapping[str, np.ndarray]],
    *,
    method: Method = "minmax",
    per_channel: bool = True,
    activation_type: Literal["uint8", "int8"] = "uint8",
    weight_type: Literal["int8", "uint8"] = "int8",
    exclude: Sequence[str] = (),
    op_types: Sequence[str] | None = None,
    preprocess: bool = True,
    symmetric: bool = False,
    reduce_range: bool = False,
) -> ir.Model:
    """Return a QDQ-quantized copy of ``model`` calibrated on ``feeds``.

    Raises:
        EditError: The model cannot be upgraded, pre-processed or quantized; or ``exclude`` names
            nodes the model does not have.
    """
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    names = {node.name for node in model.graph}
    unknown = sorted(set(exclude) - names)
    if unknown:
        raise EditError(f"nodes to exclude not found: {unknown}", op="quantize_int8")
    from modelps.io import has_external_data, weight_bytes

    if has_external_data(model) and weight_bytes(model) < 1_800_000_000:
        model = model.clone()
        ir.external_data.load_to_model(model)  # the quantizer reads weights from its own temporary copy
    proto = upgrade_opset(ir.to_proto(model))
    calib = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    qtype = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
    reader = type("Reader", (_Reader, CalibrationDataReader), {})(feeds)
    with tempfile.TemporaryDirectory(prefix="modelps-quant-") as folder, _quiet_sessions(ort):
        src, pre, out = Path(folder, "in.onnx"), Path(folder, "pre.onnx"), Path(folder, "out.onnx")
        large = proto.ByteSize() > 1_800_000_000
        onnx.save_model(proto, str(src), save_as_external_data=large)
        current = src
        if preprocess:
            try:
                quant_pre_process(str(src), str(pre), skip_symbolic_shape=True, save_as_external_data=large)
                current = pre
            except Exception as exc:  # noqa: BLE001  pre-processing is an optimization
                logger.warning("ORT quant_pre_process failed (%s); quantizing without it", exc)
        kept = _surviving(current, exclude)
        chatter = io.StringIO()  # ORT's histogram calibrators print to stdout: keep --json output clean
        try:
            with contextlib.redirect_stdout(chatter), _root_logs_to_debug(), _numpy_quiet():
                quantize_static(
                    str(current),
                    str(out),
                    reader,
                    quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=list(op_types) if op_types else None,
                    per_channel=per_channel,
                    activation_type=qtype[activation_type],
                    weight_type=qtype[weight_type],
                    nodes_to_exclude=kept,
                    calibrate_method=calib[method],
                    use_external_data_format=large,
                    reduce_range=reduce_range,
                    extra_options={
                        "CalibTensorRangeSymmetric": False,
                        "ActivationSymmetric": symmetric,
                        "CalibStridedMinMax": _stride(len(reader)),  # any calibrator, despite the name
                    },
                )
        except Exception as exc:  # noqa: BLE001  ORT raises many types
            raise EditError(f"ONNX Runtime could not quantize the model: {exc}", op="quantize_int8") from exc
        if chatter.getvalue():
            logger.debug("onnxruntime quantization: %s", chatter.getvalue().strip())
        loaded = onnx.load(str(out), load_external_data=True)
    quantized = ir.serde.deserialize_model(loaded)
    for graph in quantized.graphs():  # the quantizer may leave Loop/If bodies' producers out of order
        graph.sort()
    return quantized


@contextlib.contextmanager
def _quiet_sessions(ort: Any) -> Iterator[None]:
    """Silence the warnings of the sessions ORT's quantizer makes itself, unless debugging.

    Foreign models make ONNX Runtime warn once per weight it folds away ("Removing initializer
    ... not used": about a hundred lines on a Paddle export). The quantizer's own sessions take
    ORT's default logger, so its severity is raised to errors for the call; with this module's
    logger at DEBUG (``modelps -v``) ORT's warnings stay on.
    """
    if logger.isEnabledFor(logging.DEBUG):
        yield
        return
    ort.set_default_logger_severity(3)
    try:
        yield
    finally:
        ort.set_default_logger_severity(2)


@contextlib.contextmanager
def _numpy_quiet() -> Iterator[None]:
    """The quantizer's numpy warnings (a zero range gives a NaN zero point) go to debug; the result is checked."""
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always", RuntimeWarning)
        yield
    for item in caught:
        logger.debug("onnxruntime quantization: %s", item.message)


class _ToDebug(logging.Filter):
    """Re-log records sent to the root logger at debug level under this module's logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        logger.debug("onnxruntime quantization: %s", record.getMessage())
        return False


@contextlib.contextmanager
def _root_logs_to_debug() -> Iterator[None]:
    """Keep ORT quantizer notes sent to the root logger out of the user's stderr (``-v`` shows them).

    They are benign, e.g. a per-tensor fallback for the 1-D weight of a BatchNorm.
    """
    root = logging.getLogger()
    quiet = _ToDebug()
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)


def _surviving(path: Path, exclude: Sequence[str]) -> list[str]:
    """Names from ``exclude`` present after pre-processing (fusion may rename or drop nodes)."""
    if not exclude:
        return []
    names = {n.name for n in onnx.load(str(path), load_external_data=False).graph.node}
    missing = [n for n in exclude if n not in names]
    if missing:
        logger.warning("excluded nodes fused away by pre-processing: %s", missing)
    return [n for n in exclude if n in names]
