"""Pure rules of the model lifecycle: which role a route needs, which key is which caller, when a
new version becomes champion, what an alias or version may look like, what makes a duplicate."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from modeltrain.api.auth import AccessKeys, key_digest
from modeltrain.api.roles import ROUTE_ROLES, UNLISTED_ROLE, Role, RouteRoles
from modeltrain.config import Settings
from modeltrain.exceptions import InvalidInput
from modeltrain.jobs.models import JobOptions
from modeltrain.registry import champion
from modeltrain.registry.lifecycle import check_alias, check_version
from modeltrain.training_options import parse_families


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("GET", "/api/model-train/status", Role.TRAIN),
        ("GET", "/api/model-train/status/abc", Role.TRAIN),
        ("HEAD", "/api/models", Role.PREDICT),
        ("POST", "/api/model-inference/predict", Role.PREDICT),
        ("DELETE", "/api/model-train/abc", Role.TRAIN),
        ("DELETE", "/api/models/churn/versions/3", Role.ADMIN),
        ("PUT", "/api/models/churn/aliases/champion", Role.ADMIN),
        ("POST", "/api/model-train/abc/retrain", Role.TRAIN),
        ("GET", "/api/not-a-route", UNLISTED_ROLE),
        ("POST", "/api/models", UNLISTED_ROLE),  # a method the table does not name
    ],
)
def test_each_request_needs_the_role_of_its_route(method, path, role):
    assert RouteRoles().needed(method, path) is role


def test_roles_are_ordered_and_every_route_starts_with_api():
    assert Role.ADMIN.allows(Role.TRAIN) and Role.TRAIN.allows(Role.PREDICT)
    assert not Role.PREDICT.allows(Role.TRAIN) and not Role.TRAIN.allows(Role.ADMIN)
    assert all(path.startswith("/api/") for _, path in ROUTE_ROLES)


def test_keys_are_known_by_their_digest_and_the_single_key_is_admin():
    settings = Settings(
        _env_file=None,
        api_key="old-admin",
        api_keys={key_digest("p"): "predict", key_digest("t").upper(): "train"},
    )
    keys = AccessKeys.from_settings(settings)
    assert keys.caller(b"p").role is Role.PREDICT  # type: ignore[union-attr]
    assert keys.caller(b"t").role is Role.TRAIN  # type: ignore[union-attr]
    admin = keys.caller(b"old-admin")
    assert admin is not None and admin.role is Role.ADMIN
    assert admin.key_id == key_digest("old-admin")[:12] and "old-admin" not in admin.label
    assert keys.caller(b"nope") is None and keys.caller(b"") is None
    assert not AccessKeys.from_settings(Settings(_env_file=None))


def test_a_key_setting_that_is_not_a_digest_is_refused():
    with pytest.raises(ValueError, match="SHA-256 hex digest"):
        Settings(_env_file=None, api_keys={"my-plain-key": "admin"})
    with pytest.raises(ValueError):
        Settings(_env_file=None, api_keys={key_digest("k"): "root"})


def _version(version: str, **tags: str) -> SimpleNamespace:
    return SimpleNamespace(version=version, tags=tags)


def _judged(metric: str, value: float, **changes: str) -> champion.Judged:
    return champion.Judged(**{"metric": metric, "value": value, "task": "classification",
                              "target": "y", "scheme": "random", **changes})  # fmt: skip


def test_champion_rules():
    scored = _judged("roc_auc", 0.8).tags()
    assert champion.decide(None, "1", _judged("roc_auc", 0.5)).promoted
    better = champion.decide(_version("1", **scored), "2", _judged("roc_auc", 0.9))
    assert better.promoted and "beats" in better.reason
    worse = champion.decide(_version("1", **scored), "2", _judged("roc_auc", 0.7))
    assert not worse.promoted and "0.8 roc_auc" in worse.reason
    by_hand = _version("1", **scored, **{champion.TAG_SET_BY: "api key abc (admin)"})
    kept = champion.decide(by_hand, "2", _judged("roc_auc", 0.99))
    assert not kept.promoted and "set by hand (api key abc (admin)" in kept.reason
    # a version from before the tags: only its metric is compared
    old = {champion.TAG_METRIC: "roc_auc", champion.TAG_METRIC_VALUE: "0.8"}
    assert champion.decide(_version("1", **old), "2", _judged("roc_auc", 0.9)).promoted


@pytest.mark.parametrize(
    ("change", "named"),
    [({"metric": "f1"}, "metric (roc_auc; this version: f1)"),
     ({"target": "z"}, "target (y; this version: z)"),
     ({"scheme": "time"}, "validation scheme (random; this version: time)"),
     ({"task": "regression", "metric": "r2"}, "task (classification; this version: regression)")],
)  # fmt: skip
def test_champion_moves_only_between_versions_judged_the_same_way(change, named):
    champ = _version("1", **_judged("roc_auc", 0.5).tags())
    decision = champion.decide(champ, "2", _judged(**{"metric": "roc_auc", "value": 0.99,
                                                      **change}))  # fmt: skip
    assert not decision.promoted and named in decision.reason


def test_a_loss_champion_is_beaten_by_a_smaller_loss():
    champ = _version("1", **_judged("mae", 5.0, task="regression").tags())
    assert champion.decide(champ, "2", _judged("mae", 4.0, task="regression")).promoted
    worse = champion.decide(champ, "2", _judged("mae", 6.0, task="regression"))
    assert not worse.promoted and "scores 5 mae" in worse.reason


@pytest.mark.parametrize("alias", ["champion", "staging", "canary-2", "A_b"])
def test_usable_aliases(alias):
    assert check_alias(alias) == alias


@pytest.mark.parametrize("alias", ["", "latest", "v3", "Version12", "2nd", "a b", "x" * 64, "é"])
def test_unusable_aliases_name_the_field(alias):
    with pytest.raises(InvalidInput) as raised:
        check_alias(alias)
    assert raised.value.extra["field"] == "alias"


@pytest.mark.parametrize(("given", "text"), [("3", "3"), (3, "3"), (" 12 ", "12")])
def test_versions(given, text):
    assert check_version(given) == text


@pytest.mark.parametrize("given", ["0", "-1", "3.0", "abc", True, None, 3.5, [3]])
def test_bad_versions_name_the_field(given):
    with pytest.raises(InvalidInput) as raised:
        check_version(given)
    assert raised.value.extra["field"] == "version"


def test_duplicates_share_bytes_and_every_training_option():
    base = JobOptions(target="y", model_name="m", time_budget=5, file_sha256="ab" * 32)
    assert base.duplicate_key() == replace(base, encoding="latin-1").duplicate_key()
    assert base.duplicate_key() == replace(base, force=True).duplicate_key()
    for other in (
        replace(base, target="z"),
        replace(base, time_budget=6),
        replace(base, model_name="n"),
        replace(base, file_sha256="cd" * 32),
        replace(base, families=("linear",)),
    ):
        assert other.duplicate_key() != base.duplicate_key()
    assert JobOptions.from_json(base.to_json()) == base
    narrowed = replace(base, families=("lightgbm", "linear"))
    assert JobOptions.from_json(narrowed.to_json()) == narrowed


@pytest.mark.parametrize(
    ("given", "chosen"),
    [
        (None, None),
        ("", None),
        ([], None),
        ("lightgbm", ("lightgbm",)),
        (" Random_Forest , ridge,linear ", ("linear", "random_forest")),
        (["logistic_regression", "extra_trees"], ("linear", "extra_trees")),
    ],
)
def test_families_are_named_as_the_leaderboard_names_them(given, chosen):
    assert parse_families(given) == chosen


def test_an_unknown_family_is_refused_by_name():
    with pytest.raises(InvalidInput) as raised:
        parse_families("lightgbm,xgboost,svm")
    assert raised.value.extra["field"] == "families"
    assert "'xgboost', 'svm'" in str(raised.value) and "random_forest" in str(raised.value)
