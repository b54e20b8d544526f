"""The `champion` alias of a model name: set after training to the best version so far, unless
somebody set it by hand — a hand-set champion stays until it is set (or removed) by hand again.

Who set it by hand is written on that version's tags (``modeltrain.championSetBy`` and
``…SetAt``); those tags are what tells a hand-set champion from one promoted by training."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

CHAMPION = "champion"
TAG_METRIC = "modeltrain.primaryMetric"  # on model versions: the metric that ranks them
TAG_METRIC_VALUE = "modeltrain.primaryMetricValue"  # and its held-out value
TAG_SET_BY = "modeltrain.championSetBy"  # on a version made champion by hand: who did it
TAG_SET_AT = "modeltrain.championSetAt"  # and when (ISO 8601, UTC)


@dataclass(frozen=True)
class ChampionDecision:
    promoted: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"promoted": self.promoted, "reason": self.reason}


def _current(client: MlflowClient, name: str) -> Any:
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def _score(tags: dict[str, str]) -> float:
    try:
        return float(tags.get(TAG_METRIC_VALUE, "nan"))
    except ValueError:
        return math.nan


def decide(current: Any, version: str, metric: str, value: float) -> ChampionDecision:
    """Whether a newly trained version should become champion, given the current one (higher
    is better for all of our primary metrics: ROC AUC, R²)."""
    if current is None:
        return ChampionDecision(True, "the model had no champion")
    if str(current.version) == version:
        return ChampionDecision(True, "this version is the champion already")
    tags = current.tags or {}
    if tags.get(TAG_SET_BY):
        return ChampionDecision(
            False,
            f"version {current.version} is the champion set by hand ({tags[TAG_SET_BY]}, "
            f"{tags.get(TAG_SET_AT, 'at an unknown time')}); it stays until champion is set again",
        )
    best = _score(tags)
    if tags.get(TAG_METRIC) != metric or math.isnan(best):
        return ChampionDecision(
            True, f"the champion, version {current.version}, had no {metric} to compare with"
        )
    if best >= value:
        return ChampionDecision(
            False,
            f"the champion, version {current.version}, scores {best:.4g} {metric} on its "
            f"held-out data; this version {value:.4g}",
        )
    return ChampionDecision(
        True, f"{value:.4g} {metric} beats the champion, version {current.version} ({best:.4g})"
    )


def promote_if_better(
    client: MlflowClient, name: str, version: str, metric: str, value: float
) -> ChampionDecision:
    decision = decide(_current(client, name), version, metric, value)
    if decision.promoted:
        client.set_registered_model_alias(name, CHAMPION, version)
    return decision


def set_by_hand(client: MlflowClient, name: str, version: str, who: str) -> None:
    """Point champion at a version by hand, recording who did it; the previous champion's
    hand-set tags go."""
    previous = _current(client, name)
    client.set_registered_model_alias(name, CHAMPION, version)
    when = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    client.set_model_version_tag(name, version, TAG_SET_BY, who)
    client.set_model_version_tag(name, version, TAG_SET_AT, when)
    if previous is not None and str(previous.version) != version:
        clear_hand_set(client, name, str(previous.version))


def clear_hand_set(client: MlflowClient, name: str, version: str) -> None:
    """Forget that a version was made champion by hand (it no longer is)."""
    for tag in (TAG_SET_BY, TAG_SET_AT):
        with contextlib.suppress(MlflowException):
            client.delete_model_version_tag(name, version, tag)
