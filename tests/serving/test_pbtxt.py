from __future__ import annotations

import pytest

from serving import pbtxt
from serving.errors import ConfigError

TRITON_EXAMPLE = """
# a config as Triton's documentation writes it
name: "densenet_onnx"
platform: "onnxruntime_onnx"
max_batch_size : 0
input [
  {
    name: "data_0"
    data_type: TYPE_FP32
    format: FORMAT_NCHW
    dims: [ 3, 224, 224 ]
    reshape { shape: [ 1, 3, 224, 224 ] }
  }
]
output {
  name: 'fc6_1'
  data_type: TYPE_FP32
  dims: [ 1000 ]
  label_filename: "densenet_labels.txt"
}
instance_group [ { count: 2, kind: KIND_GPU, gpus: [ 0 ] } ]
dynamic_batching { preferred_batch_size: 4 preferred_batch_size: 8 max_queue_delay_microseconds: 100 }
optimization { execution_accelerators { gpu_execution_accelerator : [ { name : "tensorrt" } ] } }
parameters: { key: "x" value: { string_value: "a \\"quoted\\" value" } }
"""


def test_reads_triton_documentation_style() -> None:
    data = pbtxt.loads(TRITON_EXAMPLE)
    assert data["name"] == "densenet_onnx"
    assert data["max_batch_size"] == 0
    assert data["input"][0]["dims"] == [3, 224, 224]
    assert data["input"][0]["reshape"] == {"shape": [1, 3, 224, 224]}
    assert data["input"][0]["data_type"] == "TYPE_FP32"
    assert isinstance(data["output"], list) and data["output"][0]["name"] == "fc6_1"
    assert data["instance_group"] == [{"count": 2, "kind": "KIND_GPU", "gpus": [0]}]
    assert data["dynamic_batching"]["preferred_batch_size"] == [4, 8]
    accel = data["optimization"]["execution_accelerators"]["gpu_execution_accelerator"]
    assert accel == [{"name": "tensorrt"}]
    assert data["parameters"]["value"]["string_value"] == 'a "quoted" value'


@pytest.mark.parametrize(
    "message",
    [
        {"name": "m", "max_batch_size": 4, "flag": True, "ratio": 0.5},
        {
            "input": [
                {"name": "a", "data_type": "TYPE_INT64", "dims": [-1]},
                {"name": 'q"x', "data_type": "TYPE_BOOL", "dims": [1, 2]},
            ]
        },
        {"dynamic_batching": {"max_queue_delay_microseconds": 0, "default_queue_policy": {"max_queue_size": 3}}},
        {"version_policy": {"all": {}}},
    ],
)
def test_round_trip(message: dict) -> None:
    assert pbtxt.loads(pbtxt.dumps(message)) == message


@pytest.mark.parametrize(
    "text,error",
    [
        ('name: "m"\ninput [ { name: "x" ', "unexpected end of text"),
        ("name: @", "line 1: unexpected character '@'"),
        ("a { b: 1 }\n}", "line 2: expected a field name, found '}'"),
        ("3: 4", "line 1: expected a field name, found '3'"),
    ],
)
def test_errors_name_the_line(text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error.replace("(", r"\(").replace("[", r"\[")):
        pbtxt.loads(text)
