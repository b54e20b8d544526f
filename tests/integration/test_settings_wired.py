"""Settings the README documents change what the real processes do."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest

from modeltrain.config import Settings
from modeltrain.runtime.processes import free_port
from modeltrain.runtime.stack import api_process
from tests.factories import classification_frame, to_chunks

pytestmark = pytest.mark.integration

PACKAGE = Path(__file__).resolve().parents[2] / "modeltrain"


def test_max_uploads_in_flight_refuses_one_more_upload_with_429(stack, tmp_path):
    from tests.conftest import ARTIFACTS

    env = {
        **stack.env,
        "MODELTRAIN_MAX_UPLOADS_IN_FLIGHT": "2",
        "MODELTRAIN_REDIS_PREFIX": f"{stack.redis.prefix}-inflight",  # its own count
    }
    port = free_port()
    api = api_process(env, "127.0.0.1", port, ARTIFACTS / "logs" / "api-inflight.log")
    api.start().wait_ready(60)
    first_chunk = to_chunks(classification_frame(rows=100).to_csv(index=False).encode(), 2)[0]
    try:
        answers = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for index in range(3):
                form = {"filename": f"f{index}.csv", "chunkIndex": "0", "totalChunks": "2"}
                files = {"chunk": ("c.csv", first_chunk, "text/csv")}
                answers.append(client.post("/api/model-train/start", data=form, files=files))
    finally:
        api.stop()
    assert [a.status_code for a in answers] == [200, 200, 429], [a.text for a in answers]
    assert "at most 2" in answers[2].json()["error"]


def _attribute_names(tree: ast.AST) -> set[str]:
    return {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}


def test_every_setting_is_read_somewhere_outside_config():
    used: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        if path.name == "config.py":  # its helper functions count, the class itself does not
            for node in tree.body:
                if isinstance(node, ast.FunctionDef):
                    used |= _attribute_names(node)
        else:
            used |= _attribute_names(tree)
    unused = sorted(set(Settings.model_fields) - used)
    assert unused == [], f"settings nobody reads: {unused}"
