"""The reference stays true: every route the app serves is in docs/api.md, and every relative
link in the README and docs/ resolves (the file, and the heading an anchor names)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.routing import Mount, Route

from modeltrain.api.app import create_app
from modeltrain.config import Settings

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Served by FastAPI itself (the OpenAPI schema and its two viewers), not ours to document.
FRAMEWORK_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def _served() -> list[str]:
    app = create_app(Settings(_env_file=None))
    served = []
    for route in app.routes:
        if isinstance(route, Mount) or not isinstance(route, Route):
            continue
        if route.path in FRAMEWORK_PATHS:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            served.append(f"{method} {route.path}")
    return served


def test_every_route_the_app_serves_is_in_the_api_page():
    api = (ROOT / "docs" / "api.md").read_text()
    served = _served()
    assert "POST /api/model-inference/predict" in served  # the routes served ahead of FastAPI
    missing = [route for route in served if f"`{route}`" not in api]
    assert missing == [], f"docs/api.md does not describe: {missing}"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, flags=re.M)}


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return [a or b for a, b in LINK.findall(text)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve_to_a_file_and_heading(page):
    broken = []
    for link in _links(page):
        if re.match(r"^[a-z]+:", link):  # http:, https:, mailto:
            continue
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        unknown_heading = anchor and target.suffix == ".md" and anchor not in _anchors(target)
        if not target.exists() or unknown_heading:
            broken.append(link)
    assert broken == [], f"{page.name}: broken links {broken}"


def test_the_readme_is_a_front_door():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
