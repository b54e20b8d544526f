"""Model ids as clients send them: `models:/<name>/<version>`, `models:/<name>@<alias>`,
`<name>/<version>`; and registry-safe model names."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from modeltrain.constants import MAX_MODEL_NAME_CHARS
from modeltrain.exceptions import InvalidInput

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_ID = re.compile(rf"^(?:models:/)?(?P<name>{_NAME})(?:/(?P<version>\d+)|@(?P<alias>{_NAME}))$")


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str | None = None
    alias: str | None = None

    @property
    def uri(self) -> str:
        if self.version is not None:
            return f"models:/{self.name}/{self.version}"
        return f"models:/{self.name}@{self.alias}"


def version_id(name: str, version: str | int) -> str:
    """The `models:/<name>/<version>` id of a registered version: the one place it is spelled."""
    return ModelRef(name, str(version)).uri


def parse_model_id(model_id: str) -> ModelRef:
    match = _ID.match(model_id.strip()) if isinstance(model_id, str) else None
    if not match:
        raise InvalidInput(
            "modelId must look like 'models:/<name>/<version>', 'models:/<name>@<alias>' "
            "or '<name>/<version>'",
            field="modelId",
        )
    if not model_id.strip().startswith("models:/") and match["alias"]:
        raise InvalidInput("an alias needs the 'models:/<name>@<alias>' form", field="modelId")
    return ModelRef(match["name"], match["version"], match["alias"])


def safe_model_name(raw: str | None, fallback: str = "model") -> str:
    """A registry-safe name: ASCII letters, digits, '-', '_', '.'; starts with a letter/digit."""
    text = unicodedata.normalize("NFKD", raw or "").encode("ascii", "ignore").decode()
    text = re.sub(r"\.(csv|tsv|txt)$", "", text, flags=re.IGNORECASE)
    text = re.sub(r"[^A-Za-z0-9_.\-]+", "-", text).strip("-_.")
    text = text[:MAX_MODEL_NAME_CHARS].strip("-_.")
    return text or fallback
