"""A tiny Open Inference Protocol client (standard library only) for "try it" buttons and scripts.

It sends binary tensors and asks for binary outputs; use ``tritonclient`` for anything more.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import numpy as np

from serving.datatypes import from_numpy, to_numpy
from serving.errors import ServingError

__all__ = ["infer", "metadata"]


def _request(url: str, body: bytes | None, headers: Mapping[str, str], timeout: float) -> tuple[bytes, Any]:
    req = urllib.request.Request(url, data=body, headers=dict(headers), method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310 - caller chooses the URL
            return response.read(), response.headers
    except urllib.error.HTTPError as exc:
        detail = exc.read()
        try:
            message = json.loads(detail)["error"]
        except (ValueError, KeyError, TypeError):
            message = detail.decode(errors="replace")[:200]
        raise ServingError(f"{url}: HTTP {exc.code}: {message}") from None
    except urllib.error.URLError as exc:
        raise ServingError(f"{url}: cannot connect ({exc.reason})") from None


def _auth(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def metadata(url: str, model: str, *, api_key: str | None = None, timeout: float = 30) -> dict[str, Any]:
    """Fetch a model's metadata (``GET /v2/models/{model}``)."""
    body, _ = _request(f"{url.rstrip('/')}/v2/models/{quote(model)}", None, _auth(api_key), timeout)
    return json.loads(body)


def infer(
    url: str,
    model: str,
    inputs: Mapping[str, np.ndarray],
    *,
    version: str | None = None,
    api_key: str | None = None,
    timeout: float = 60,
) -> dict[str, np.ndarray]:
    """Run one inference on a server and return its outputs by name.

    Raises:
        ServingError: The server refused the request (the message is the server's) or is unreachable.
    """
    arrays = {name: np.ascontiguousarray(value) for name, value in inputs.items()}
    header = {
        "inputs": [
            {
                "name": n,
                "shape": list(a.shape),
                "datatype": from_numpy(a.dtype),
                "parameters": {"binary_data_size": a.nbytes},
            }
            for n, a in arrays.items()
        ],
        "parameters": {"binary_data_output": True},
    }
    text = json.dumps(header).encode()
    body = b"".join([text, *(a.tobytes() for a in arrays.values())])
    path = f"/v2/models/{quote(model)}" + (f"/versions/{quote(version)}" if version else "") + "/infer"
    headers = {"Inference-Header-Content-Length": str(len(text)), "Content-Type": "application/octet-stream"}
    data, response_headers = _request(url.rstrip("/") + path, body, headers | _auth(api_key), timeout)
    length = int(response_headers.get("Inference-Header-Content-Length", len(data)))
    result = json.loads(data[:length])
    outputs, offset = {}, length
    for out in result["outputs"]:
        dtype = to_numpy(out["datatype"])
        size = out.get("parameters", {}).get("binary_data_size")
        if size is None:
            outputs[out["name"]] = np.asarray(out["data"], dtype=dtype).reshape(out["shape"])
            continue
        outputs[out["name"]] = np.frombuffer(data, dtype=dtype, count=size // dtype.itemsize, offset=offset).reshape(
            out["shape"]
        )
        offset += size
    return outputs
