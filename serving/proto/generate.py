"""Regenerate ``_descriptor.py`` from ``inference.proto`` (needs ``grpcio-tools``).

Run ``python -m serving.proto.generate`` after editing the ``.proto``; ``--check`` exits 1 when the
checked-in descriptor is stale. ``grpcio-tools`` is only needed here: the server loads the serialized
descriptor with the plain ``protobuf`` runtime, into its own descriptor pool (so it can share a
process with ``tritonclient.grpc``, whose generated code registers the same message names).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

__all__ = ["compile_descriptor", "main"]

HERE = Path(__file__).resolve().parent
PROTO = HERE / "inference.proto"
TARGET = HERE / "_descriptor.py"
_HEAD = '''"""Serialized ``FileDescriptorSet`` of ``inference.proto``: generated, do not edit.

Regenerate with ``python -m serving.proto.generate`` (needs ``grpcio-tools``).
"""

__all__ = ["SERIALIZED"]

SERIALIZED = (
'''


def compile_descriptor() -> bytes:
    """Compile ``inference.proto`` and return its serialized ``FileDescriptorSet``.

    Raises:
        RuntimeError: ``protoc`` (from ``grpcio-tools``) failed.
    """
    from grpc_tools import protoc  # type: ignore[import-untyped]

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "inference.desc"
        code = protoc.main(["protoc", f"-I{HERE}", f"--descriptor_set_out={out}", str(PROTO)])
        if code != 0:
            raise RuntimeError(f"protoc failed on {PROTO} (exit {code})")
        return out.read_bytes()


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check``, compare) ``_descriptor.py``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the checked-in file is stale")
    args = parser.parse_args(argv)
    data = compile_descriptor()
    if args.check:
        from serving.proto._descriptor import SERIALIZED

        stale = data != SERIALIZED
        if stale:
            sys.stderr.write(f"{TARGET} is stale: run python -m serving.proto.generate\n")
        return int(stale)
    lines = [f"    {data[i : i + 48]!r}\n" for i in range(0, len(data), 48)]
    TARGET.write_text(_HEAD + "".join(lines) + ")\n", encoding="utf-8")
    sys.stdout.write(f"wrote {TARGET}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
