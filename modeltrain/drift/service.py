"""Drift reports of registered versions, and starting a new window: what the API's drift routes
and /metrics call. Framework-free."""

from __future__ import annotations

from typing import Any, cast

import redis
from mlflow import MlflowClient

from modeltrain.constants import Keys
from modeltrain.drift.counting import SINCE_FIELD, now_iso
from modeltrain.drift.profile import Profile
from modeltrain.drift.report import drift_report
from modeltrain.exceptions import Conflict
from modeltrain.registry.errors import registry_call
from modeltrain.registry.lifecycle import check_version
from modeltrain.registry.model_ids import version_id
from modeltrain.registry.reading import load_profile

PROFILES_KEPT = 256  # profiles of versions not loaded in this process, kept after first use


class DriftReports:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        mlflow: MlflowClient,
        threshold: float,
        min_rows: int,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._mlflow = mlflow
        self._threshold = threshold
        self._min_rows = min_rows
        self._profiles: dict[tuple[str, str], Profile] = {}

    def profile(self, name: str, version: str) -> Profile:
        """The version's training profile (from its run, once); 404 for an unknown version,
        409 for one trained before profiles were kept."""
        version = check_version(version)
        key = (name, version)
        if key not in self._profiles:
            with registry_call(f"model {name!r} has no version {version}"):
                run_id = self._mlflow.get_model_version(name, version).run_id
            profile = load_profile(self._mlflow, run_id) if run_id else None
            if profile is None:
                raise Conflict(
                    f"{version_id(name, version)} was trained before input profiles were kept: "
                    "retrain it to monitor its drift"
                )
            if len(self._profiles) >= PROFILES_KEPT:
                self._profiles.pop(next(iter(self._profiles)))
            self._profiles[key] = profile
        return self._profiles[key]

    def report(self, name: str, version: str, profile: Profile | None = None) -> dict[str, Any]:
        profile = profile or self.profile(name, version)
        raw = cast(dict[bytes, bytes], self._redis.hgetall(self._keys.drift(name, version)))
        counted = {k.decode(): v.decode() for k, v in raw.items()}
        model_id = version_id(name, version)
        return drift_report(model_id, profile, counted, self._threshold, self._min_rows)

    def reset(self, name: str, version: str) -> dict[str, Any]:
        """Start a new window: the counts so far are dropped."""
        self.profile(name, version)  # 404 / 409 as for a report
        key = self._keys.drift(name, version)
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, SINCE_FIELD, now_iso())
        pipe.execute()
        return self.report(name, version)
