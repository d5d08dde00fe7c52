"""``prune_channels``: structured channel pruning on the ONNX graph (whole-model transform)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from modelps.edits._base import Edit, register
from modelps.tape import Tape

__all__ = ["PruneChannels"]


@register
@dataclasses.dataclass(frozen=True)
class PruneChannels(Edit):
    """Remove the least important channels of channel groups, keeping every tensor consistent.

    Groups are found on the graph (:mod:`modelps.compress.channels`): a producer's output
    channels together with every BatchNorm, activation (PReLU slopes too), depthwise conv,
    residual ``Add``, squeeze-excitation ``Mul``, ``Concat`` segment and ``Flatten`` -> ``Gemm``
    block that carries them. Each group is named after its first producer node.

    Parameters: ``ratio`` removes that fraction of channels from every prunable group (residual
    groups only with ``include_residual``); ``groups`` maps group names to their own ratios
    (overrides ``ratio``); ``importance`` ranks channels (``l1``/``l2`` weight norms, ``bn``
    BatchNorm scale, ``error``: the output energy each channel feeds into the next layers on
    calibration data, ``ls``: least-squares elimination order on calibration data, for use with
    ``reconstruct``: channels the others can best stand in for go first); ``round_to`` rounds
    kept counts to a multiple (kernel-friendly widths);
    ``reconstruct`` is a calibration source (see ``quantize_int8``): when set, the layers after
    each pruned group are re-fit by least squares to the original model's outputs; ``calib_sha256``,
    ``calib_samples``, ``seed`` and ``normalize`` as for ``quantize_int8``; ``finetune_steps``
    (needs ``reconstruct`` and PyTorch) then trains the pruned model's weights for that many steps
    to reproduce the unpruned model's outputs and residual sums on the calibration inputs
    (:mod:`modelps.compress.distill`; ``finetune_lr`` is relative to each weight tensor's scale);
    ``input_shapes`` as for ``quantize_int8``.

    Refuses: unknown or fixed groups (the reason is given: model input/output, grouped conv,
    an op the analysis does not look through), ratios outside [0, 1).
    """

    op = "prune_channels"
    ratio: float = 0.0
    groups: dict[str, float] = dataclasses.field(default_factory=dict)
    include_residual: bool = False
    importance: Literal["l1", "l2", "bn", "error", "ls"] = "l2"
    round_to: int = 1
    reconstruct: str | None = None
    calib_sha256: str | None = None
    calib_samples: int = 16
    seed: int = 0
    normalize: Literal["imagenet", "unit", "none"] = "imagenet"
    finetune_steps: int = 0
    finetune_lr: float = 3e-4
    input_shapes: dict[str, list[int]] = dataclasses.field(default_factory=dict)

    def apply(self, tape: Tape) -> None:
        """Build the transformed model and swap it in through ``tape``."""
        from modelps.compress.pruning import plan_and_prune

        if not 0.0 <= self.ratio < 1.0:
            raise self.fail(f"ratio must be in [0, 1), got {self.ratio}")
        for name, ratio in self.groups.items():
            if not 0.0 <= ratio < 1.0:
                raise self.fail(f"ratio of group {name!r} must be in [0, 1), got {ratio}")
        if self.round_to < 1:
            raise self.fail(f"round_to must be >= 1, got {self.round_to}")
        if self.finetune_steps < 0 or self.finetune_lr <= 0:
            got = f"{self.finetune_steps}, {self.finetune_lr}"
            raise self.fail(f"finetune_steps must be >= 0 and finetune_lr > 0, got {got}")
        if self.finetune_steps and self.reconstruct is None:
            raise self.fail("finetune_steps needs calibration inputs: set reconstruct to a calibration source")
        try:
            pruned = plan_and_prune(tape.model, self)
        except ValueError as exc:
            raise self.fail(str(exc)) from exc
        tape.replace_model(pruned)
