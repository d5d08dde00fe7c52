"""The onnxscript source of the corpus model with ONNX local functions (imported only to build it).

onnxscript reads type annotations from this module's globals, so it does not use postponed
annotations and imports onnxscript's types at the top.
"""

import numpy as np
import onnx
import onnx_ir as ir
import onnxscript
from onnxscript import FLOAT, script, values
from onnxscript import opset18 as op

__all__ = ["FUNCTION_DOMAIN", "mlp_proto"]

FUNCTION_DOMAIN = "corpus.fn"


def mlp_proto(weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    """A 64-h1-h2-10 MLP over local functions; ``weights`` holds ``w1, b1, w2, b2, w3, b3``.

    Functions of domain ``corpus.fn``: ``Dense`` (weights passed in from the main graph's
    initializers), ``Hidden`` (its weights are ``Constant`` nodes inside the function body; it calls
    ``Dense``) and ``Head`` (Softmax with an attribute parameter ``axis``).
    """
    fn = values.Opset(FUNCTION_DOMAIN, 1)
    w2, b2 = ir.tensor(weights["w2"], name="hidden.weight"), ir.tensor(weights["b2"], name="hidden.bias")

    @script(fn, default_opset=op)
    def Dense(X, W, B):  # noqa: N802, N803 (ONNX names)
        return op.Relu(op.Add(op.MatMul(X, W), B))

    @script(fn, default_opset=op)
    def Hidden(X):  # noqa: N802, N803
        return Dense(X, op.Constant(value=w2), op.Constant(value=b2))

    @script(fn, default_opset=op)
    def Head(X, W, B, axis: int):  # noqa: N802, N803
        return op.Softmax(op.Add(op.MatMul(X, W), B), axis=axis)

    @script(default_opset=op)
    def digits_mlp(pixels: FLOAT["batch", 64], W1: FLOAT, B1: FLOAT, W3: FLOAT, B3: FLOAT) -> FLOAT["batch", 10]:  # noqa: F821, N803
        return Head(Hidden(Dense(pixels, W1, B1)), W3, B3, axis=1)

    model = ir.serde.deserialize_model(digits_mlp.to_model_proto())
    for value in list(model.graph.inputs):
        key = value.name.lower() if value.name else ""
        if key in weights:  # main-graph weights become initializers
            model.graph.inputs.remove(value)
            value.const_value = ir.tensor(weights[key], name=value.name)
            value.shape = value.const_value.shape
            model.graph.register_initializer(value)
    model.graph.outputs[0].name = "probabilities"
    model.producer_name, model.producer_version = "onnxscript", onnxscript.__version__
    return ir.serde.serialize_model(model)
