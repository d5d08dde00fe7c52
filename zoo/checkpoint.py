"""Load a user's training checkpoint, saved in the original code's module layout, into a zoo module.

Accepted: a state dict, or a dict holding one under ``state_dict``, ``model``, ``model_state_dict``,
``net`` or ``online_encoder``; keys may carry ``module.`` (DataParallel) and ``model.`` prefixes.
Heads that are not deployed (FedReID's per-client classifier, torchvision's ``fc``, BYOL's target
network, an encoder-only export's projector and predictor) are ignored. Anything else that does not
fit is refused with a :class:`~zoo.errors.CheckpointError` naming the keys.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo.errors import CheckpointError
from zoo.registry import ModelSpec

__all__ = ["load_checkpoint", "read_state_dict", "remap_state_dict"]

logger = logging.getLogger(__name__)

_WRAPPERS = ("state_dict", "model_state_dict", "model", "net", "online_encoder")
_SHOWN = 8

# Keys of heads that exist in training checkpoints but are not part of the deployed network.
_IGNORED = {
    "reid": (r"^model\.fc\.", r"^classifier\.classifier\."),
    "ureid": (r"^model\.fc\.", r"^classifier\.", r"^memory", r"^fc\."),
    "ssl": (r"^online_encoder\.fc\.", r"^online_predictor\.", r"^target_encoder\.", r"^encoder_k\.", r"^queue"),
    "ssl-heads": (r"^target_encoder\.", r"^encoder_k\.", r"^queue"),
    "face": (r"^fc\.weight$|^margin|^head\.|^partial_fc\.",),
}
# (old prefix, new prefix) rewrites tried on the keys; the one that matches most target keys wins.
_REWRITES = {
    "reid": (("", ""), ("", "model.")),
    "ureid": (("", ""), ("", "model.")),
    "ssl": (("", ""), ("model.", ""), ("encoder_q.", "online_encoder."), ("", "online_encoder.")),
    "face": (("", ""), ("model.", ""), ("backbone.", "")),
}


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a ``.pth`` / ``.pt`` file with ``torch.load(weights_only=True)`` and unwrap it.

    Raises:
        CheckpointError: The file is missing, not a torch file, or holds no state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or unsafe pickles
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {exc})") from exc
    return _unwrap(obj, str(path))


def _unwrap(obj: Any, where: str) -> dict[str, torch.Tensor]:
    for _ in range(3):
        if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return dict(obj)
        if isinstance(obj, Mapping):
            inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), Mapping)), None)
            if inner is not None:
                obj = inner
                continue
            tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
            if tensors:
                return tensors
        break
    raise CheckpointError(f"{where}: holds no state dict (a mapping of parameter names to tensors)")


def _family_key(spec: ModelSpec, variant: str | None) -> str:
    return "ssl-heads" if spec.family == "ssl" and variant == "heads" else spec.family


def remap_state_dict(
    state: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], spec: ModelSpec, variant: str | None = None
) -> dict[str, torch.Tensor]:
    """Rename ``state``'s keys to ``target``'s layout and drop non-deployed heads.

    Raises:
        CheckpointError: Keys are missing, unexpected, or have the wrong shape (named in the message).
    """
    family = _family_key(spec, variant)
    stripped = {_strip_module(k): v for k, v in state.items()}
    rewrites = _REWRITES["ssl" if family.startswith("ssl") else family]
    best = max((_rewrite(stripped, old, new) for old, new in rewrites), key=lambda d: len(d.keys() & target.keys()))
    ignored = [re.compile(p) for p in _IGNORED[family]]
    kept = {k: v for k, v in best.items() if k in target or not any(p.search(k) for p in ignored)}
    dropped = len(best) - len(kept)
    if dropped:
        logger.info("%s: ignored %d keys of heads that are not deployed", spec.name, dropped)
    missing = [k for k in target if k not in kept and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in kept if k not in target]
    wrong = [
        f"{k} {tuple(kept[k].shape)} (expected {tuple(target[k].shape)})"
        for k in target
        if k in kept and tuple(kept[k].shape) != tuple(target[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {_names(missing)}")
    if wrong:
        problems.append(f"{len(wrong)} keys with the wrong shape: {_names(wrong)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {_names(unexpected)}")
    if problems:
        raise CheckpointError(f"checkpoint does not fit {spec.name}: " + "; ".join(problems))
    for k in target:
        if k not in kept:  # num_batches_tracked of old checkpoints
            kept[k] = target[k].clone()
    return {k: kept[k].to(target[k].dtype) for k in target}


def _strip_module(key: str) -> str:
    while key.startswith("module."):
        key = key[len("module.") :]
    return key


def _rewrite(state: Mapping[str, torch.Tensor], old: str, new: str) -> dict[str, torch.Tensor]:
    return {(new + k[len(old) :] if k.startswith(old) else k): v for k, v in state.items()}


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOWN])
    return shown + (f", ... ({len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else "")


def load_checkpoint(
    module: nn.Module,
    spec: ModelSpec,
    checkpoint: str | os.PathLike[str] | Mapping[str, torch.Tensor],
    variant: str | None = None,
) -> nn.Module:
    """Load ``checkpoint`` (a path or a state dict) into ``module``, the deployed network of ``spec``.

    Raises:
        CheckpointError: The checkpoint cannot be read or does not fit (see :func:`remap_state_dict`).
    """
    state = read_state_dict(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else _unwrap(checkpoint, "checkpoint")
    where = str(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else "checkpoint"
    try:
        module.load_state_dict(remap_state_dict(state, module.state_dict(), spec, variant), strict=True)
    except CheckpointError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    return module
