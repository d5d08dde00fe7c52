"""``set_initializer``: replace the data of a weight from a ``.npy`` file or an inline list."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import onnx_ir as ir

from modelps.edits._base import Edit, register
from modelps.edits._graphs import file_digest, refresh_types
from modelps.edits._lookup import iter_values
from modelps.tape import Tape

__all__ = ["SetInitializer"]

_MAX_INLINE = 4096


@register
@dataclasses.dataclass(frozen=True)
class SetInitializer(Edit):
    """Replace the data of initializer ``name`` (or of the ``Constant`` node producing ``name``).

    The data comes from ``path``, a ``.npy`` file (read without pickle; relative paths are taken
    from the working directory), or from ``values``, a JSON number or nested list of at most 4096
    numbers, converted to the initializer's element type. For a file, ``sha256`` records its hash:
    it is filled in when the edit is made and checked when a recipe is replayed, so a recipe
    never silently uses different data.

    Refuses: an unknown name or a tensor that is not constant data, giving both or neither of
    ``path`` and ``values``, a missing or unreadable file, a pickled or non-numeric array, a file
    whose hash is not ``sha256``, an element type different from the initializer's (``.npy`` only),
    and a different shape unless ``allow_reshape`` (then declared shapes downstream are
    re-inferred and validation checks the consumers still accept it).
    """

    op = "set_initializer"
    preserves_function = False
    name: str
    path: str | None = None
    values: Any = None
    allow_reshape: bool = False
    sha256: str | None = None

    def __post_init__(self) -> None:
        if self.path is not None and not self.sha256:
            object.__setattr__(self, "sha256", file_digest(self.path, self.op))

    def apply(self, tape: Tape) -> None:
        """Apply the edit through ``tape`` (see the class docstring)."""
        value, constant = self._target(tape.graph)
        old = value.const_value if constant is None else constant.attributes["value"].as_tensor()
        assert old is not None
        array = self._array(old.dtype)
        if array.dtype != old.dtype.numpy():
            raise self.fail(
                f"{self.path!r} holds {array.dtype} data but {self.name!r} is {old.dtype.name}; convert the array first"
            )
        old_shape = tuple(old.shape.numpy())
        if array.shape != old_shape and not self.allow_reshape:
            raise self.fail(
                f"{self._source()} has shape {list(array.shape)} but {self.name!r} has shape {list(old_shape)}; "
                "set allow_reshape to change it"
            )
        tensor = ir.tensor(array, dtype=old.dtype, name=self.name)
        if constant is None:
            tape.set_const_value(value, tensor)
        else:
            tape.set_attribute(constant, "value", ir.AttrTensor("value", tensor))
        if array.shape != old_shape:
            tape.set_value_type(value, ir.TensorType(old.dtype), ir.Shape(array.shape))
            refresh_types(tape, [value])
        elif value.shape is not None and value.shape != ir.Shape(array.shape):
            tape.set_value_type(value, value.type, ir.Shape(array.shape))

    def _target(self, graph: ir.Graph) -> tuple[ir.Value, ir.Node | None]:
        for value in iter_values(graph):
            if value.name != self.name:
                continue
            if value.is_initializer() and value.const_value is not None:
                return value, None
            producer = value.producer()
            if producer is not None and producer.op_type == "Constant" and "value" in producer.attributes:
                return value, producer
            raise self.fail(f"tensor {self.name!r} is not an initializer or a Constant with a tensor value")
        raise self.fail(f"no initializer named {self.name!r}")

    def _source(self) -> str:
        return repr(self.path) if self.path is not None else "values"

    def _array(self, dtype: ir.DataType) -> np.ndarray:
        if (self.path is None) == (self.values is None):
            raise self.fail("give either path (a .npy file) or values (an inline list)")
        if self.values is not None:
            try:
                array = np.asarray(self.values, dtype=dtype.numpy())
            except (ValueError, TypeError) as exc:
                raise self.fail(f"values are not a numeric array of {dtype.name}: {exc}") from None
            if array.size > _MAX_INLINE:
                raise self.fail(f"values has {array.size} numbers; put more than {_MAX_INLINE} in a .npy file")
            return array
        assert self.path is not None
        digest = file_digest(self.path, self.op)
        if digest != self.sha256:
            raise self.fail(
                f"{self.path!r} has changed: its sha256 is {digest[:12]}…, the recipe expects {self.sha256}"
            )
        try:
            # Memory-mapped first: a header that declares more data than the file holds fails here
            # instead of allocating it.
            mapped = np.load(Path(self.path), allow_pickle=False, mmap_mode="r")
            array = np.array(mapped) if isinstance(mapped, np.ndarray) else mapped
        except (ValueError, OSError) as exc:
            raise self.fail(f"{self.path!r} is not a readable .npy array without pickle ({exc})") from None
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "biufc":
            raise self.fail(f"{self.path!r} does not hold a numeric array")
        return np.ascontiguousarray(array)
