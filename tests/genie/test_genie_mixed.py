"""Mixed precision's simulation of layers kept in float: it must stand for the float layers it replaces."""

from __future__ import annotations

import numpy as np

from genie.inputs import outputs_of
from genie.mixed import keep_in_float, quantized_nodes, search_float_set
from modelps.compress.calib import load_calibration
from modelps.compress.quantize import quantize_static_qdq
from modelps.fidelity import per_sample_scores
from tests.modelps.compress import nets


def test_layers_kept_in_float_see_the_activations_the_quantizer_folded_into_its_ranges() -> None:
    model = nets.resnet18(width=8, shape=(1, 3, 32, 32))
    calib = load_calibration(model, "samples", count=8, seed=1)
    held = load_calibration(model, "samples", count=8, seed=5)
    qdq = quantize_static_qdq(model, calib, method="minmax")
    assert not any(n.op_type == "Relu" for n in qdq.graph)  # ONNX Runtime folds each Relu into the Q's range
    reference = outputs_of(model, held)
    quantized = float(np.mean(per_sample_scores(reference, outputs_of(qdq, held))))
    every = keep_in_float(qdq, quantized_nodes(qdq))
    all_float = float(np.mean(per_sample_scores(reference, outputs_of(every, held))))
    assert all_float > max(quantized, 0.99), (quantized, all_float)  # reading pre-Relu tensors gave 0.097
    none = outputs_of(keep_in_float(qdq, []), held)
    for a, b in zip(none, outputs_of(qdq, held), strict=True):
        np.testing.assert_array_equal(a, b)
    sets = search_float_set(qdq, quantized_nodes(qdq), reference, held, floor=1.1, max_fraction=1.0)
    assert [len(s.names) for s in sets] == [2**k for k in range(len(sets))]
    assert sets[-1].score > quantized  # keeping half or more of the layers in float helps
