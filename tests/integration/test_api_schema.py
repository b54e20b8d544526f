"""Schemathesis over the OpenAPI schema of the running API: no 5xx, no response that breaks the
schema or its content type, for generated requests (valid and invalid) to every route."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"


def test_generated_requests_never_get_a_server_error_or_a_broken_response(stack, tmp_path):
    cli = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [
            str(cli),
            "run",
            f"{stack.api_url}/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--generation-deterministic",
            "--request-timeout",
            "30",
            "--phases",
            "examples,coverage,fuzzing",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert "passed" in report.lower()


def test_the_api_docs_load_with_no_file_from_outside(stack):
    import re

    import httpx

    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page)
            assert html.status_code == 200, page
            urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", html.text)
            assert urls, f"{page} names no file at all: {html.text[:300]}"
            assert not [u for u in urls if "://" in u or u.startswith("//")], (page, urls)
            for url in urls:  # each file it needs is served by us
                assert client.get(url).status_code == 200, (page, url)
