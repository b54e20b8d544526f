"""ModelCache: models loaded with ``mlflow.pyfunc.load_model``, once per (name, version), kept in
an LRU. Concurrent first requests for one version wait for a single load."""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from modeltrain.drift.profile import Profile
from modeltrain.exceptions import Conflict, NotFound
from modeltrain.logging import fields
from modeltrain.registry.errors import is_missing, registry_call
from modeltrain.registry.model_ids import ModelRef, version_id
from modeltrain.registry.reading import load_profile

log = logging.getLogger(__name__)

DELETED_MEMORY = 600.0  # seconds a deleted version is refused without asking the registry


def import_model_libraries() -> None:
    """Import what our models load with (MLflow's sklearn flavour, skops, scikit-learn, LightGBM:
    seconds). Not at the API's import, which would delay every (re)start by that much: the
    model-events listener calls this in a thread as the API starts, and the first load calls
    it anyway."""
    import lightgbm  # noqa: F401
    import mlflow.sklearn  # noqa: F401
    import skops.io  # noqa: F401

    import modeltrain_model.ensemble  # noqa: F401
    import modeltrain_model.featurizer  # noqa: F401
    import modeltrain_model.linear_encoder  # noqa: F401


@dataclass(eq=False)
class LoadedModel:
    name: str
    version: str
    pyfunc: Any  # mlflow.pyfunc.PyFuncModel
    raw: Any  # the underlying scikit-learn pipeline
    columns: list[tuple[str, str, bool]]  # (name, mlflow type, required)
    load_seconds: float
    batcher: Any = None  # the MicroBatcher of this version in an API process, made on first use
    profile: Profile | None = None  # its inputs' training profile (None: trained before them)
    drift: Any = None  # the DriftCounter of this version in an API process, made on first use

    @property
    def takes_columns(self) -> bool:
        """A pipeline of ours (its first step is our Featurizer): it predicts from a
        ColumnBatch, with no DataFrame built per request."""
        from modeltrain_model.featurizer import Featurizer  # loaded with the model already

        steps = getattr(self.raw, "steps", None)
        return bool(steps) and isinstance(steps[0][1], Featurizer)  # type: ignore[index]

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()

    @property
    def model_id(self) -> str:
        return version_id(self.name, self.version)

    @property
    def classes(self) -> list[Any] | None:
        classes = getattr(self.raw, "classes_", None)
        return None if classes is None else [c.item() if hasattr(c, "item") else c for c in classes]


def load_version(client: MlflowClient, name: str, version: str) -> LoadedModel:
    """Load one registered version the way any MLflow user would."""
    missing = f"model {name!r} has no version {version}"
    with registry_call(missing, modelId=version_id(name, version)):
        mv = client.get_model_version(name, version)
    if mv.status != "READY":
        raise Conflict(f"{version_id(name, version)} is not ready (status {mv.status})")
    import_model_libraries()
    started = time.monotonic()
    model = _load_pyfunc(version_id(name, version))
    schema = model.metadata.get_input_schema()
    columns = [
        (col.name, getattr(col.type, "name", str(col.type)), bool(col.required))
        for col in (schema.inputs if schema else [])
    ]
    try:
        raw = model.get_raw_model()
    except Exception:  # not every flavour exposes its raw model
        raw = None
    profile = load_profile(client, mv.run_id) if mv.run_id else None
    loaded = LoadedModel(
        name, version, model, raw, columns, time.monotonic() - started, profile=profile
    )
    log.info(
        "serving.model.loaded",
        extra=fields(model=name, version=version, seconds=round(loaded.load_seconds, 3)),
    )
    return loaded


def settle_garbage() -> None:
    """Collect, then freeze what is left (a loaded model is tens of thousands of long-lived
    objects): later collections no longer walk them, which a request waited for at the moment
    one ran. Unfrozen first, so that what an evicted model left in cycles is collected."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _load_pyfunc(uri: str) -> Any:
    """``mlflow.pyfunc.load_model``, leaving ``sys.path`` as it was: MLflow puts each version's
    shipped code directory (``code_paths``) in front of it, and a service that loads many
    versions over its life would otherwise collect one entry per load. Here the service's own
    ``modeltrain_model`` (imported above) serves every version; the shipped copy is for loading
    the version anywhere else."""
    before = list(sys.path)
    try:
        # suppress_warnings skips MLflow's check of the model's pip requirements against this
        # environment: a warning only, and it scans every installed package (1.1 s measured).
        return mlflow.pyfunc.load_model(uri, suppress_warnings=True)
    finally:
        sys.path[:] = before


class ModelCache:
    def __init__(
        self,
        client: MlflowClient,
        max_size: int,
        loader: Callable[[MlflowClient, str, str], LoadedModel] = load_version,
        alias_ttl: float = 10.0,
    ) -> None:
        self._client = client
        self._alias_ttl = alias_ttl  # seconds an alias -> version answer is trusted
        self._max_size = max_size
        self._loader = loader
        self._models: OrderedDict[tuple[str, str], LoadedModel] = OrderedDict()
        self._loading: dict[tuple[str, str], threading.Lock] = {}
        self._aliases: dict[tuple[str, str], tuple[str, float]] = {}
        # Versions deleted lately (-> when): a load that was under way when the deletion was
        # announced must not put the version back in the cache.
        self._deleted: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        # Counters read by /metrics.
        self.hits = 0
        self.misses = 0
        self.loads = 0
        self.load_seconds: list[float] = []  # the latest loads' durations (cold starts)

    def resolve(self, ref: ModelRef) -> tuple[str, str]:
        if ref.version is not None:
            self._refuse_deleted((ref.name, ref.version))
            return ref.name, ref.version
        assert ref.alias is not None, "a reference names a version or an alias"
        key = (ref.name, ref.alias)
        cached = self._aliases.get(key)
        if cached and time.monotonic() - cached[1] < self._alias_ttl:
            return ref.name, cached[0]
        missing = f"model {ref.name!r} has no alias {ref.alias!r}"
        with registry_call(missing, invalid_is_missing=True):
            mv = self._client.get_model_version_by_alias(ref.name, ref.alias)
        self._aliases[key] = (str(mv.version), time.monotonic())
        self._refuse_deleted((ref.name, str(mv.version)))
        return ref.name, str(mv.version)

    # --- changes announced by the registry's users (serving/events.py) -------------------
    def set_alias(self, name: str, alias: str, version: str) -> None:
        """The alias now points at this version (this process set it: trust it at once)."""
        self._aliases[(name, alias)] = (version, time.monotonic())

    def forget_alias(self, name: str, alias: str) -> None:
        """The alias changed elsewhere: ask the registry on its next use."""
        self._aliases.pop((name, alias), None)

    def evict(self, name: str, version: str) -> None:
        """The version was deleted: drop it, and every alias that pointed at it, at once."""
        key = (name, version)
        now = time.monotonic()
        with self._lock:
            self._deleted = {k: t for k, t in self._deleted.items() if now - t < DELETED_MEMORY}
            self._deleted[key] = now
            model = self._models.pop(key, None)
        for alias_key, (target, _) in list(self._aliases.items()):
            if alias_key[0] == name and target == version:
                self._aliases.pop(alias_key, None)
        if model is not None:
            model.close()
            log.info("serving.model.evicted", extra=fields(model=name, version=version))

    def revalidate(self) -> None:
        """After missing announcements (Redis was away): forget every alias and drop cached
        versions the registry no longer has."""
        self._aliases.clear()
        with self._lock:
            cached = list(self._models)
        for name, version in cached:
            try:
                self._client.get_model_version(name, version)
            except MlflowException as exc:
                if is_missing(exc):
                    self.evict(name, version)

    def _refuse_deleted(self, key: tuple[str, str]) -> None:
        deleted = self._deleted.get(key)
        if deleted is not None and time.monotonic() - deleted < DELETED_MEMORY:
            raise NotFound(
                f"model {key[0]!r} has no version {key[1]} (it was deleted)",
                modelId=version_id(*key),
            )

    def loaded(self) -> list[LoadedModel]:
        """The versions loaded now."""
        with self._lock:
            return list(self._models.values())

    def peek(self, ref: ModelRef) -> LoadedModel | None:
        """The loaded model when it is in the cache; no registry call, no waiting."""
        if ref.version is None:
            cached = self._aliases.get((ref.name, ref.alias or ""))
            if not cached or time.monotonic() - cached[1] >= self._alias_ttl:
                return None
            key = (ref.name, cached[0])
        else:
            key = (ref.name, ref.version)
        with self._lock:
            return self._hit(key)

    def _hit(self, key: tuple[str, str]) -> LoadedModel | None:
        """The cached model (as most recently used), or None. Call with the lock held."""
        model = self._models.get(key)
        if model is not None:
            self.hits += 1
            self._models.move_to_end(key)
        return model

    def get(self, ref: ModelRef) -> LoadedModel:
        key = self.resolve(ref)
        with self._lock:
            model = self._hit(key)
            if model is not None:
                return model
            self.misses += 1
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:  # one load per version; the others wait for it
            with self._lock:
                model = self._models.get(key)
            if model is not None:
                return model
            model = self._loader(self._client, *key)
            with self._lock:
                self._loading.pop(key, None)
                if key in self._deleted:  # deleted while it loaded
                    model.close()
                    self._refuse_deleted(key)
                self.loads += 1
                self.load_seconds = [*self.load_seconds[-99:], model.load_seconds]
                self._models[key] = model
                while len(self._models) > self._max_size:
                    _, evicted = self._models.popitem(last=False)
                    evicted.close()
            settle_garbage()
            return model
