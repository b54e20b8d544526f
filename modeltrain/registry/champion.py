"""The `champion` alias of a model name: set after training to the best version so far, unless
somebody set it by hand — a hand-set champion stays until it is set (or removed) by hand again.
"Best" compares like with like: training moves the alias only from a version judged the same
way (task, target, metric, validation scheme: the version tags of ``Judged``), and only to a
version better in the metric's direction; ``reason`` says why not otherwise.

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

from modeltrain.metrics import BY_NAME

CHAMPION = "champion"
RANDOM = "random"  # the validation scheme of versions from before the scheme tag
TAG_METRIC = "modeltrain.primaryMetric"  # on model versions: the metric that ranks them
TAG_METRIC_VALUE = "modeltrain.primaryMetricValue"  # and its held-out value
TAG_TASK = "modeltrain.task"  # and how it was judged: its task, target, validation scheme
TAG_TARGET = "modeltrain.target"
TAG_SCHEME = "modeltrain.validationScheme"
TAG_SET_BY = "modeltrain.championSetBy"  # on a version made champion by hand: who did it
TAG_SET_AT = "modeltrain.championSetAt"  # and when (ISO 8601, UTC)


@dataclass(frozen=True)
class Judged:
    """How a version was judged: what the champion rule compares."""

    metric: str
    value: float  # its held-out value
    task: str
    target: str
    scheme: str  # the validation scheme: random, time or group

    def tags(self) -> dict[str, str]:
        return {TAG_METRIC: self.metric, TAG_METRIC_VALUE: str(self.value), TAG_TASK: self.task,
                TAG_TARGET: self.target, TAG_SCHEME: self.scheme}  # fmt: skip

    def beats(self, other: float) -> bool:
        metric = BY_NAME.get(self.metric)
        lower = metric is not None and not metric.higher_is_better
        return self.value < other if lower else self.value > other


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


def decide(current: Any, version: str, judged: Judged) -> ChampionDecision:
    """Whether a newly trained version should become champion, given the current one. A
    champion without one of the tags (a version from before they were written) differs in
    nothing it does not say."""
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
    metric = judged.metric
    best = _score(tags)
    if TAG_METRIC not in tags or math.isnan(best):
        return ChampionDecision(
            True, f"the champion, version {current.version}, had no {metric} to compare with"
        )
    ours = {TAG_TASK: judged.task, TAG_TARGET: judged.target, TAG_METRIC: metric,
            TAG_SCHEME: judged.scheme}  # fmt: skip
    names = {TAG_TASK: "task", TAG_TARGET: "target", TAG_METRIC: "metric",
             TAG_SCHEME: "validation scheme"}  # fmt: skip
    for tag, value in ours.items():
        theirs = tags.get(tag, RANDOM if tag == TAG_SCHEME else None)
        if theirs is not None and theirs != value:
            return ChampionDecision(
                False,
                f"the champion, version {current.version}, was judged with another "
                f"{names[tag]} ({theirs}; this version: {value}); training moves champion only "
                "between versions of the same task, target, metric and validation scheme",
            )
    if not judged.beats(best):
        return ChampionDecision(
            False,
            f"the champion, version {current.version}, scores {best:.4g} {metric} on its "
            f"held-out data; this version {judged.value:.4g}",
        )
    return ChampionDecision(
        True,
        f"{judged.value:.4g} {metric} beats the champion, version {current.version} ({best:.4g})",
    )


def promote_if_better(
    client: MlflowClient, name: str, version: str, judged: Judged
) -> ChampionDecision:
    decision = decide(_current(client, name), version, judged)
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
