"""A batch job's LightGBM members compiled to native code (treelite + tl2cgen, built with the
machine's C compiler), so that big files are predicted several times faster than LightGBM's own
predict (docs/benchmarks.md has the figures).

The compiled library evaluates the same trees with the same float64 sums and output transform,
so its values equal the booster's bit for bit (tests/unit/test_compiled.py compares them on
numbers, missing values, unseen categories, two and four classes). Compiling takes seconds per
member, so it runs in a background thread when a version's first batch job starts; blocks use
LightGBM until the library is loaded, and the rest of that job and every later one use it.
Libraries are cached on disk under the digest of the booster's text, so a restarted worker
loads rather than compiles. Without a C compiler, or with ``MODELTRAIN_BATCH_COMPILE=false``,
batch jobs predict with LightGBM. The synchronous predict route never uses this: one row costs
microseconds either way, and a route must not wait for a compiler.

Only a worker uses this module; treelite and tl2cgen are imported in the compiling thread."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import logging
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from modeltrain.logging import fields
from modeltrain.serving.cache import LoadedModel

log = logging.getLogger(__name__)

COMPILER_OPTIONS = ["-O1"]  # -O3 (tl2cgen's default) compiled 3x longer here for the same speed
SOURCE_FILES = 8  # translation units per member, compiled in parallel


def find_toolchain() -> str | None:
    """The C compiler tl2cgen can drive: gcc or clang, or None."""
    for name in ("gcc", "clang"):
        if shutil.which(name):
            return name
    return None


class CompiledBooster:
    """Stands in for a LightGBM Booster where ``member_output`` calls ``booster.predict``."""

    def __init__(self, predictor: Any) -> None:
        self._predictor = predictor

    def predict(self, X: np.ndarray, num_threads: int = 0) -> np.ndarray:
        import tl2cgen

        values = self._predictor.predict(tl2cgen.DMatrix(X, dtype="float64"))
        values = np.asarray(values).reshape(len(X), -1)
        return values[:, 0] if values.shape[1] == 1 else values


@dataclasses.dataclass
class _CompiledMember:
    """A LightGBM member with its booster compiled: what ``member_output`` reads of it."""

    booster_: CompiledBooster
    classes_: Any


class CompiledMembers:
    """One per worker process: compiled libraries of the LightGBM members it has scored."""

    def __init__(self, directory: Path, enabled: bool, threads: int = 0) -> None:
        self.directory = directory
        self.toolchain = find_toolchain() if enabled else None
        self.threads = threads or None  # None: tl2cgen uses every core
        self._lock = threading.Lock()
        self._ready: dict[str, CompiledBooster] = {}  # booster digest -> its library
        self._failed: set[str] = set()
        self._pending: set[str] = set()
        self._digests: dict[tuple[Any, ...], str] = {}  # (name, version, member, j) -> digest
        self._compiler = ThreadPoolExecutor(1, thread_name_prefix="compile")

    @property
    def enabled(self) -> bool:
        return self.toolchain is not None

    def view(self, model: LoadedModel) -> LoadedModel | None:
        """The model with its compiled members in place of their boosters (inside Bags too),
        once every LightGBM booster is compiled; None before that (compiling is started on the
        first call), and always None for models without LightGBM members or when compiling
        is off."""
        from modeltrain_model.ensemble import Bag

        ensemble = _ensemble(model)
        if not self.enabled or ensemble is None:
            return None
        boosters = {  # (member, model in its Bag or 0) -> booster
            (i, j): inner.booster_
            for i, member in enumerate(ensemble.members)
            for j, inner in enumerate(
                (member.models or []) if isinstance(member, Bag) else [member]
            )
            if getattr(inner, "booster_", None) is not None
        }
        if not boosters:
            return None
        compiled: dict[tuple[int, int], CompiledBooster] = {}
        for key, booster in boosters.items():
            digest = self._digest(model, key, booster)
            with self._lock:
                library = self._ready.get(digest)
                if library is None and digest not in self._failed | self._pending:
                    self._pending.add(digest)
                    self._compiler.submit(self._compile, digest, booster, model.model_id)
            if library is not None:
                compiled[key] = library
        if len(compiled) < len(boosters):  # all of them started compiling above
            return None

        def swapped(i: int, j: int, inner: Any) -> Any:
            if (i, j) not in compiled:
                return inner
            return _CompiledMember(compiled[i, j], getattr(inner, "classes_", None))

        faster = copy.copy(ensemble)
        faster.members = [
            Bag([swapped(i, j, inner) for j, inner in enumerate(m.models or [])])
            if isinstance(m, Bag)
            else swapped(i, 0, m)
            for i, m in enumerate(ensemble.members)
        ]
        pipeline = copy.copy(model.raw)
        pipeline.steps = [*model.raw.steps[:-1], (model.raw.steps[-1][0], faster)]
        return dataclasses.replace(model, raw=pipeline)

    def wait(self, timeout: float) -> None:
        """Blocks until the compiling started so far has ended (tests, benchmarks)."""
        self._compiler.submit(lambda: None).result(timeout)

    def close(self) -> None:
        self._compiler.shutdown(wait=False, cancel_futures=True)

    def _digest(self, model: LoadedModel, index: tuple[int, int], booster: Any) -> str:
        key = (model.name, model.version, *index)
        if key not in self._digests:
            text = booster.model_to_string().encode()
            self._digests[key] = hashlib.sha256(text).hexdigest()[:24]
        return self._digests[key]

    def _compile(self, digest: str, booster: Any, model_id: str) -> None:
        try:
            library = self._load_or_build(digest, booster, model_id)
        except Exception as exc:  # a model treelite cannot read, a compiler error: use LightGBM
            log.warning(
                "batch.compile_failed",
                extra=fields(modelId=model_id, error=f"{type(exc).__name__}: {exc}"[:500]),
            )
            with self._lock:
                self._failed.add(digest)
                self._pending.discard(digest)
            return
        with self._lock:
            self._ready[digest] = library
            self._pending.discard(digest)

    def _load_or_build(self, digest: str, booster: Any, model_id: str) -> CompiledBooster:
        import time

        import tl2cgen
        import treelite

        path = self.directory / f"{digest}.so"
        assert self.toolchain is not None, "compiling is on"
        if not path.exists():
            started = time.monotonic()
            self.directory.mkdir(parents=True, exist_ok=True)
            building = path.with_suffix(f".{threading.get_ident()}.building.so")
            tl2cgen.export_lib(
                treelite.frontend.from_lightgbm(booster),
                toolchain=self.toolchain,
                libpath=str(building),
                params={"parallel_comp": SOURCE_FILES},
                options=COMPILER_OPTIONS,
                nthread=self.threads,
            )
            building.replace(path)  # whole libraries only, also for other worker processes
            log.info(
                "batch.compiled",
                extra=fields(modelId=model_id, seconds=round(time.monotonic() - started, 2)),
            )
        return CompiledBooster(tl2cgen.Predictor(str(path), nthread=self.threads))


def _ensemble(model: LoadedModel) -> Any:
    """The Ensemble step of one of our pipelines, or None for any other model."""
    from modeltrain_model.ensemble import Ensemble

    steps = getattr(model.raw, "steps", None)
    last = steps[-1][1] if steps else None
    return last if isinstance(last, Ensemble) and last.members else None
