"""Calibration inputs for quantization and pruning reconstruction.

A *source* is a string:

* ``"samples"``: photos bundled with scikit-image (``skimage.data``), randomly cropped and resized;
* ``"random"``: seeded standard-normal tensors (for models whose inputs are not images);
* a path to an ``.npz`` file whose keys are the model's input names (first axis: samples);
* a path to a folder of images (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``), read in sorted order;
* ``"<file.npz>+samples"``: the file's samples, then as many bundled photos as ``count`` asks for
  beyond them, scaled to the file's per-channel mean and standard deviation (a small calibration
  set topped up; single image-input models only);
* ``"<file.npz or folder>+augmented"``: its samples, then random crops of them resized back with mild
  photometric jitter (:mod:`modelps.compress.augment`) up to ``count`` (single image-input models).

Images are resized to the model's input ``H x W`` and normalized (``imagenet``: mean/std of
ImageNet on [0, 1] pixels; ``unit``: [0, 1]; ``none``: [0, 255]). Everything is deterministic for a
given source, count and seed, so a recipe that stores them replays to the same model;
:func:`source_sha256` fingerprints file sources so a changed file is detected on replay.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx_ir as ir

from modelps.compress.augment import augment_images
from modelps.errors import EditError
from modelps.runtime import input_specs

__all__ = [
    "AUGMENTED",
    "IMAGE_SUFFIXES",
    "TOPPED_UP",
    "Normalize",
    "load_calibration",
    "source_path",
    "source_sha256",
    "split_feeds",
]

logger = logging.getLogger(__name__)

Normalize = Literal["imagenet", "unit", "none"]
TOPPED_UP = "+samples"
AUGMENTED = "+augmented"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
_SAMPLE_IMAGES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "cat",
    "motorcycle_left",
)
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)


def source_path(source: str) -> str:
    """The file or folder a source reads, without its ``+samples`` / ``+augmented`` suffix."""
    return source.removesuffix(TOPPED_UP).removesuffix(AUGMENTED)


def source_sha256(source: str) -> str | None:
    """SHA-256 of a file source (for a folder: of its sorted image names and contents); ``None`` otherwise."""
    if source in ("samples", "random"):
        return None
    source = source_path(source)
    path = Path(source)
    digest = hashlib.sha256()
    if path.is_file():
        digest.update(path.read_bytes())
    elif path.is_dir():
        for item in _image_files(path):
            digest.update(item.name.encode() + b"\0")
            digest.update(hashlib.sha256(item.read_bytes()).digest())
    else:
        raise EditError(f"calibration source {source!r}: no such file or folder")
    return digest.hexdigest()


def load_calibration(
    model: ir.Model,
    source: str = "samples",
    *,
    count: int = 32,
    seed: int = 0,
    normalize: Normalize = "imagenet",
    expected_sha256: str | None = None,
    shapes: Mapping[str, Sequence[int]] | None = None,
) -> list[dict[str, np.ndarray]]:
    """Return ``count`` feeds (one sample each, batch 1) for ``model`` from ``source``.

    Inputs with dynamic dimensions take their shape from ``shapes`` (by input name) for the
    generated sources (``samples``, ``random``, image folders) and from the arrays of an ``.npz``.

    Raises:
        EditError: The source is missing, does not match the model's inputs, or its contents changed
            (``expected_sha256``).
    """
    if expected_sha256 is not None:
        actual = source_sha256(source)
        if actual is not None and actual != expected_sha256:
            raise EditError(
                f"calibration source {source!r} changed since the recipe was made "
                f"(sha256 {actual[:12]}… != {expected_sha256[:12]}…)"
            )
    specs = _with_shapes(input_specs(model), shapes or {})
    key = (
        repr(specs),
        source,
        count,
        seed,
        normalize,
        source_sha256(source) if source not in ("samples", "random") else None,
    )
    cached = _CACHE.get(key)
    if cached is not None:
        return [dict(feed) for feed in cached]
    feeds = _load(model, specs, source, count, seed, normalize)
    _CACHE.clear() if len(_CACHE) > 8 else None
    _CACHE[key] = feeds
    return [dict(feed) for feed in feeds]


_CACHE: dict[tuple, list[dict[str, np.ndarray]]] = {}


def _with_shapes(specs: list, shapes: Mapping[str, Sequence[int]]) -> list:
    """Input specs with the given concrete shapes in place of declared (possibly dynamic) ones."""
    names = {name for name, _, _ in specs}
    unknown = sorted(set(shapes) - names)
    if unknown:
        raise EditError(f"shape given for unknown input(s) {unknown}; the inputs are {sorted(names)}")
    out = []
    for name, dtype, shape in specs:
        given = shapes.get(name)
        if given is None:
            out.append((name, dtype, shape))
            continue
        given = tuple(int(d) for d in given)
        if shape and len(shape) != len(given):
            raise EditError(f"input {name!r} has rank {len(shape)}, the shape given has {len(given)}")
        for axis, (dim, value) in enumerate(zip(shape, given, strict=False)):
            if isinstance(dim, int) and dim > 0 and dim != value:
                raise EditError(f"input {name!r} has fixed dim {axis} = {dim}, the shape given has {value}")
        out.append((name, dtype, given))
    return out


def _load(
    model: ir.Model, specs: list, source: str, count: int, seed: int, normalize: Normalize
) -> list[dict[str, np.ndarray]]:
    if count < 1:
        raise EditError(f"calibration needs at least 1 sample, got {count}")
    if source == "random":
        return _random_feeds(specs, count, seed)
    if source.endswith(AUGMENTED):
        given = _load(model, specs, source.removesuffix(AUGMENTED), count, seed, normalize)
        return _augmented_up(given, specs, count, seed)
    if source.endswith(".npz" + TOPPED_UP):
        return _topped_up(specs, Path(source.removesuffix(TOPPED_UP)), count, seed)
    if source.endswith(".npz"):
        return _npz_feeds(specs, Path(source), count)
    images = _sample_images(count, seed) if source == "samples" else _folder_images(Path(source), count)
    return _image_feeds(specs, images, count, seed, normalize, source)


def _concrete(shape: tuple[int | str | None, ...], name: str) -> list[int]:
    dims = [d if isinstance(d, int) and d > 0 else None for d in shape]
    if dims and dims[0] is None:
        dims[0] = 1
    if any(d is None for d in dims):
        example = "x".join(str(d) if d is not None else "N" for d in dims)
        raise EditError(
            f"input {name!r} has a dynamic shape {list(shape)}: give its shape to measure at "
            f"(--shape {name}:{example} with numbers) or calibration arrays (.npz) that have one"
        )
    return [int(d) for d in dims if d is not None]


def _random_feeds(specs: list, count: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    feeds = []
    for _ in range(count):
        feed = {}
        for name, dtype, shape in specs:
            dims = _concrete(shape, name)
            if np.issubdtype(dtype, np.floating):
                feed[name] = rng.standard_normal(dims).astype(dtype)
            else:
                feed[name] = rng.integers(0, 8, dims).astype(dtype)
        feeds.append(feed)
    return feeds


def _npz_feeds(specs: list, path: Path, count: int) -> list[dict[str, np.ndarray]]:
    if not path.is_file():
        raise EditError(f"calibration file {str(path)!r} does not exist")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise EditError(f"calibration file {str(path)!r} is not a readable .npz ({exc})") from exc
    with data:
        names = [name for name, _, _ in specs]
        missing = [n for n in names if n not in data.files]
        if missing:
            raise EditError(f"calibration file {str(path)!r} lacks input(s) {missing}; it has {sorted(data.files)}")
        arrays = {}
        for name, dtype, shape in specs:
            arr = np.asarray(data[name])
            dims = [d if isinstance(d, int) and d > 0 else None for d in shape]
            per = int(dims[0]) if dims and dims[0] is not None else 1
            if arr.ndim == len(dims) - 1:
                arr = arr[None]
            fixed = zip(dims[1:], arr.shape[1:], strict=False)
            if arr.ndim != len(dims) or any(d is not None and d != n for d, n in fixed):
                expected = ", ".join(str(d) if d is not None else "?" for d in dims[1:])
                raise EditError(
                    f"calibration array {name!r} has shape {list(arr.shape)}; the model expects [N, {expected}]"
                )
            arrays[name] = (arr.astype(dtype), per)
    total = min(len(a) // per for a, per in arrays.values())
    if total == 0:
        raise EditError(f"calibration file {str(path)!r} holds no complete sample")
    return [{n: a[i * per : (i + 1) * per] for n, (a, per) in arrays.items()} for i in range(min(count, total))]


def _topped_up(specs: list, path: Path, count: int, seed: int) -> list[dict[str, np.ndarray]]:
    """An .npz's samples, then bundled photos at its shape with its per-channel mean and std."""
    given = _npz_feeds(specs, path, count)
    if len(given) >= count:
        return given
    if len(specs) != 1:
        raise EditError(f"{TOPPED_UP!r} needs a model with one image input; this one has {len(specs)} inputs")
    name, dtype, _ = specs[0]
    stacked = np.concatenate([feed[name] for feed in given]).astype(np.float64)
    if stacked.ndim != 4 or stacked.shape[1] not in (1, 3):
        raise EditError(f"{TOPPED_UP!r} needs N x C x H x W image arrays, got {list(stacked.shape)}")
    shape = (given[0][name].shape[0], *stacked.shape[1:])
    extra = _image_feeds(
        [(name, np.float32, shape)], _sample_images(0, seed), count - len(given), seed, "unit", "samples"
    )
    mean = stacked.mean(axis=(0, 2, 3), keepdims=True)
    std = stacked.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    for feed in extra:
        x = feed[name].astype(np.float64)
        x = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / (x.std(axis=(0, 2, 3), keepdims=True) + 1e-6)
        feed[name] = (x * std + mean).astype(dtype)
    return given + extra


def _augmented_up(given: list[dict[str, np.ndarray]], specs: list, count: int, seed: int) -> list[dict[str, Any]]:
    """``given`` (an .npz's or a folder's samples), then augmented copies of them (crops, jitter) up to ``count``."""
    if len(given) >= count:
        return given
    if len(specs) != 1 or given[0][specs[0][0]].ndim != 4:
        raise EditError(f"{AUGMENTED!r} needs a model with one N x C x H x W image input")
    name = specs[0][0]
    extra = augment_images([feed[name] for feed in given], count - len(given), seed)
    return given + [{name: array} for array in extra]


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _folder_images(folder: Path, count: int) -> list[np.ndarray]:
    if not folder.is_dir():
        raise EditError(f"calibration source {str(folder)!r}: not an .npz file or a folder of images")
    files = _image_files(folder)
    if not files:
        raise EditError(f"calibration folder {str(folder)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    from skimage import io as skio

    images = []
    for path in files[:count]:
        try:
            images.append(np.asarray(skio.imread(str(path))))
        except Exception as exc:  # noqa: BLE001  any decoder error
            raise EditError(f"cannot read calibration image {str(path)!r}: {exc}") from exc
    return images


def _sample_images(count: int, seed: int) -> list[np.ndarray]:
    from skimage import data

    images = []
    for name in _SAMPLE_IMAGES:
        try:
            images.append(np.asarray(getattr(data, name)()))
        except Exception:  # noqa: BLE001  an image missing from this scikit-image version
            logger.debug("sample image %s unavailable", name)
    return images


def _to_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.shape[-1] == 4:
        image = image[..., :3]
    image = image.astype(np.float32)
    if image.max() > 1.5:
        image = image / 255.0
    return image


def _image_feeds(
    specs: list, images: list[np.ndarray], count: int, seed: int, normalize: Normalize, source: str
) -> list[dict[str, np.ndarray]]:
    from skimage.transform import resize

    if len(specs) != 1:
        raise EditError(f"image calibration ({source!r}) needs a model with one input; give an .npz instead")
    name, dtype, shape = specs[0]
    dims = _concrete(shape, name)
    if len(dims) != 4 or dims[1] not in (1, 3):
        raise EditError(
            f"input {name!r} of shape {dims} is not an N x C x H x W image (C = 1 or 3); give an .npz instead"
        )
    batch, channels, height, width = dims
    rng = np.random.default_rng(seed)
    feeds = []
    for i in range(count * batch if source == "samples" else len(images)):
        image = _to_rgb(images[i % len(images)])
        if source == "samples":  # random crop with the target aspect ratio, 40%..100% of the short side
            h, w = image.shape[:2]
            scale = rng.uniform(0.4, 1.0)
            ch = int(min(h, w * height / width) * scale)
            cw = max(1, int(ch * width / height))
            top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            image = image[top : top + ch, left : left + cw]
            if rng.random() < 0.5:
                image = image[:, ::-1]
        image = resize(image, (height, width), order=1, anti_aliasing=True, preserve_range=True).astype(np.float32)
        if normalize == "imagenet":
            image = (image - _MEAN) / _STD
        elif normalize == "none":
            image = image * 255.0
        chw = np.transpose(image, (2, 0, 1))
        if channels == 1:
            chw = chw.mean(0, keepdims=True)
        feeds.append(chw.astype(dtype))
    batches = [np.stack(feeds[i : i + batch]) for i in range(0, len(feeds) - batch + 1, batch)]
    return [{name: b} for b in batches[:count]]


def split_feeds(feeds: list[dict[str, np.ndarray]], holdout: float = 0.25) -> tuple[list, list]:
    """Split feeds into (calibration, held-out) parts, the held-out part last."""
    cut = max(1, int(round(len(feeds) * (1 - holdout))))
    return feeds[:cut], feeds[cut:]
