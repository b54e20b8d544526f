"""What an admin does to registered models after training: point aliases at versions, remove
them, delete versions. Framework-free; the API routes only map fields.

Each change is told to every API process (``on_alias``, ``on_deleted``: serving/model_events.py)
so that none keeps serving what changed."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from mlflow import MlflowClient

from modeltrain.exceptions import Conflict, InvalidInput
from modeltrain.logging import fields
from modeltrain.registry import champion
from modeltrain.registry.errors import registry_call
from modeltrain.registry.model_ids import version_id

log = logging.getLogger(__name__)

# Aliases: a letter, then letters, digits, '_' or '-'; not what MLflow reserves (`latest`, and
# `v<digits>`/`version<digits>`, which read as versions).
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+|version\d+)$", re.IGNORECASE)
_VERSION = re.compile(r"^[1-9][0-9]{0,9}$")


def check_alias(alias: str) -> str:
    if not _ALIAS.match(alias) or _RESERVED_ALIAS.match(alias):
        raise InvalidInput(
            f"alias {alias[:70]!r} is not usable: it must start with a letter and hold only "
            "letters, digits, '_' and '-' (at most 63), and may not be 'latest' or look like "
            "a version ('v3')",
            field="alias",
        )
    return alias


def check_version(version: object) -> str:
    text = str(version).strip() if isinstance(version, str | int) else ""
    if isinstance(version, bool) or not _VERSION.match(text):
        raise InvalidInput('version must be a version number such as "3"', field="version")
    return text


class ModelLifecycle:
    def __init__(
        self,
        client: MlflowClient,
        on_alias: Callable[[str, str, str | None], None],
        on_deleted: Callable[[str, str], None],
    ) -> None:
        self._client = client
        self._on_alias = on_alias  # (name, alias, version or None when removed)
        self._on_deleted = on_deleted  # (name, version)

    def set_alias(self, name: str, alias: str, version: object, who: str) -> dict[str, Any]:
        alias, version = check_alias(alias), check_version(version)
        self._version(name, version)
        with registry_call(f"model {name!r} has no version {version}"):
            if alias == champion.CHAMPION:
                champion.set_by_hand(self._client, name, version, who)
            else:
                self._client.set_registered_model_alias(name, alias, version)
        self._on_alias(name, alias, version)
        log.info("registry.alias.set", extra=fields(model=name, alias=alias, version=version))
        return {"name": name, "alias": alias, "version": version, "modelId": _id(name, version)}

    def remove_alias(self, name: str, alias: str) -> dict[str, Any]:
        check_alias(alias)
        with registry_call(f"model {name!r} has no alias {alias!r}"):
            version = str(self._client.get_model_version_by_alias(name, alias).version)
            self._client.delete_registered_model_alias(name, alias)
        if alias == champion.CHAMPION:
            champion.clear_hand_set(self._client, name, version)
        self._on_alias(name, alias, None)
        log.info("registry.alias.removed", extra=fields(model=name, alias=alias))
        return {"name": name, "alias": alias, "removed": True, "version": version}

    def delete_version(self, name: str, version: str, force: bool = False) -> dict[str, Any]:
        version = check_version(version)
        aliases = sorted(self._version(name, version).aliases or [])
        if aliases and not force:
            raise Conflict(
                f"{_id(name, version)} is what {', '.join('@' + a for a in aliases)} "
                "point(s) at; move or remove the alias first, or delete with ?force=true",
                aliases=aliases,
            )
        with registry_call(f"model {name!r} has no version {version}"):
            for alias in aliases:
                self._client.delete_registered_model_alias(name, alias)
            self._client.delete_model_version(name, version)
        self._on_deleted(name, version)
        log.info(
            "registry.version.deleted",
            extra=fields(model=name, version=version, aliases=",".join(aliases)),
        )
        return {"modelId": _id(name, version), "deleted": True, "removedAliases": aliases}

    def _version(self, name: str, version: str) -> Any:
        with registry_call(f"no registered model named {name!r}", model=name):
            self._client.get_registered_model(name)
        with registry_call(f"model {name!r} has no version {version}", modelId=_id(name, version)):
            return self._client.get_model_version(name, version)


def _id(name: str, version: str) -> str:
    return version_id(name, version)
