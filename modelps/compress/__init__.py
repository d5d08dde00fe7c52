"""Compression algorithms behind the ``prune_channels`` and ``quantize_int8`` edits.

* :mod:`modelps.compress.channels`: channel dependency groups found on the ONNX graph (the result's
  types in :mod:`modelps.compress.groups`);
* :mod:`modelps.compress.prune`: importance scores, channel selection and graph surgery;
* :mod:`modelps.compress.reconstruct`: least-squares reconstruction of the layers after a pruned group;
* :mod:`modelps.compress.calib`: calibration inputs (``.npz``, image folders, bundled sample images);
* :mod:`modelps.compress.quantize`: static INT8 quantization in QDQ form through ONNX Runtime.

Only numpy, onnx, onnx_ir and onnxruntime are used (no torch).
"""

from modelps.compress.channels import Analysis, ChannelGroup, analyze
from modelps.compress.prune import PruneError, channel_scores, keep_count, prune, select_channels

__all__ = [
    "Analysis",
    "ChannelGroup",
    "PruneError",
    "analyze",
    "channel_scores",
    "keep_count",
    "prune",
    "select_channels",
]
