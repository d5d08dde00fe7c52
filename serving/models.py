"""The server's loaded models: loading, unloading and lookup by name and version."""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

from serving.config import ModelConfig
from serving.errors import ConfigError, ModelPSError
from serving.metrics import Metrics
from serving.protocol import ProtocolError
from serving.repository import Repository
from serving.runners import Runner, runners_for, solo_runner_for
from serving.scheduler import ModelWorker
from serving.settings import ServerSettings

__all__ = ["LoadedModel", "ModelManager"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class LoadedModel:
    """A model whose served versions each have a running :class:`ModelWorker`."""

    config: ModelConfig
    workers: dict[int, ModelWorker]
    datatypes: dict[str, str]

    @property
    def newest(self) -> int:
        """The version an unversioned request goes to."""
        return max(self.workers)

    def metadata(self) -> dict[str, Any]:
        """Return the Open Inference Protocol model metadata."""
        batch = self.config.max_batch_size > 0
        return {
            "name": self.config.name,
            "versions": [str(v) for v in sorted(self.workers)],
            "platform": self.config.platform,
            "inputs": [t.to_json(batch) for t in self.config.inputs],
            "outputs": [t.to_json(batch) for t in self.config.outputs],
        }


class ModelManager:
    """Loads models from a repository into workers; thread-safe."""

    def __init__(self, settings: ServerSettings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.repository = Repository(settings.repo)
        self._models: dict[str, LoadedModel] = {}
        self._failures: dict[str, str] = {}
        self._lock = threading.Lock()

    def load(self, name: str) -> LoadedModel:
        """(Re)load a model from the repository; a reload swaps in the new one, then drains the old.

        Raises:
            ModelPSError: The model is missing, its config invalid, or its backend unavailable.
        """
        with self._lock:
            try:
                model = self._build(name)
            except ModelPSError as exc:
                self._failures[name] = str(exc)
                raise
            except Exception as exc:  # a backend failing to load a file: report, do not crash
                self._failures[name] = f"{type(exc).__name__}: {exc}"
                raise ConfigError(f"model {name!r} failed to load: {type(exc).__name__}: {exc}") from exc
            old = self._models.get(name)
            self._models[name] = model
            self._failures.pop(name, None)
        self.metrics.loaded.labels(name).set(1)
        logger.info("loaded model %s versions %s", name, sorted(model.workers))
        if old is not None:
            _stop(old)
        return model

    def unload(self, name: str) -> None:
        """Stop serving a model (queued requests finish first).

        Raises:
            ProtocolError: 404 when the model is not loaded.
        """
        with self._lock:
            old = self._models.pop(name, None)
        if old is None:
            raise ProtocolError(404, f"model {name!r} is not loaded")
        self.metrics.loaded.labels(name).set(0)
        _stop(old)
        logger.info("unloaded model %s", name)

    def get(self, name: str, version: str | None) -> tuple[LoadedModel, int, ModelWorker]:
        """Find the model, version number and worker a request goes to.

        Raises:
            ProtocolError: 404 for an unknown model or version, 400 for a malformed version.
        """
        model = self._models.get(name)
        if model is None:
            raise ProtocolError(404, f"unknown model {name!r}" + self._why(name))
        if version is None or version == "":
            number = model.newest
        else:
            try:
                number = int(version)
            except ValueError:
                raise ProtocolError(400, f"model version {version!r} is not an integer") from None
        worker = model.workers.get(number)
        if worker is None:
            raise ProtocolError(404, f"model {name!r} has no version {number} loaded (served: {sorted(model.workers)})")
        return model, number, worker

    def index(self) -> list[dict[str, Any]]:
        """Every model in the repository or loaded, with its state (Triton's repository index)."""
        try:
            names = set(self.repository.names())
        except OSError:
            names = set()
        names |= set(self._models) | set(self._failures)
        entries = []
        for name in sorted(names):
            model = self._models.get(name)
            if model is not None:
                entries += [{"name": name, "version": str(v), "state": "READY"} for v in sorted(model.workers)]
            else:
                entry = {"name": name, "state": "UNAVAILABLE", "reason": self._failures.get(name, "unloaded")}
                entries.append(entry)
        return entries

    def loaded(self) -> dict[str, LoadedModel]:
        """The models being served now, by name (a snapshot)."""
        return dict(self._models)

    def is_loaded(self, name: str) -> bool:
        """Whether ``name`` is being served."""
        return name in self._models

    def close(self) -> None:
        """Unload every model."""
        with self._lock:
            models, self._models = self._models, {}
        for model in models.values():
            _stop(model)

    def _why(self, name: str) -> str:
        if name in self._failures:
            return f" (failed to load: {self._failures[name]})"
        if name in self.repository.names():
            return f" (it is in the repository but not loaded: POST /v2/repository/models/{name}/load)"
        return ""

    def _build(self, name: str) -> LoadedModel:
        config = self.repository.config(name)
        workers: dict[int, ModelWorker] = {}
        try:
            for version in self.repository.served_versions(name, config):
                path = self.repository.model_path(name, version, config)
                runners = runners_for(config, path, self.settings.ort)
                solo = solo_runner_for(config, path, self.settings.ort)
                every = [*runners, *([solo] if solo is not None else [])]
                try:
                    for runner in every:
                        runner.activate()
                        _check_signature(config, runner, f"{name} version {version}")
                except BaseException:
                    for runner in every:
                        runner.deactivate()
                    raise
                queue = config.dynamic_batching.max_queue_size if config.dynamic_batching else 0
                workers[version] = ModelWorker(
                    f"{name}:{version}",
                    runners,
                    max_batch_size=config.max_batch_size,
                    batching=config.dynamic_batching,
                    max_queue_size=queue or self.settings.max_queue_size,
                    observer=self.metrics.observer(name),
                    solo=solo,
                )
        except BaseException:
            for worker in workers.values():
                worker.stop()
            raise
        datatypes = {t.name: t.datatype for t in config.outputs}
        return LoadedModel(config, workers, datatypes)


def _check_signature(config: ModelConfig, runner: Runner, where: str) -> None:
    batch = config.max_batch_size > 0
    for kind, expected, actual in (("input", config.inputs, runner.inputs), ("output", config.outputs, runner.outputs)):
        found = {t.name: t for t in actual}
        for spec in expected:
            real = found.get(spec.name)
            if real is None:
                raise ConfigError(f"{where}: config.pbtxt names {kind} {spec.name!r}, the model has {sorted(found)}")
            want = ((-1,) if batch else ()) + spec.dims
            if real.datatype != spec.datatype or len(real.dims) != len(want):
                raise ConfigError(
                    f"{where}: {kind} {spec.name!r} is {real.datatype} {list(real.dims)} in the model "
                    f"but {spec.datatype} {list(want)} in config.pbtxt"
                )


def _stop(model: LoadedModel) -> None:
    for worker in model.workers.values():
        worker.stop()
