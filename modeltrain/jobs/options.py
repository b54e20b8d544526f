"""The options a client gives a job (on an upload's chunk 0, or to a retrain), checked against
the settings; each refusal names its field."""

from __future__ import annotations

from typing import Any

from modeltrain.config import Settings
from modeltrain.exceptions import InvalidInput
from modeltrain.jobs.models import JobOptions
from modeltrain.training_options import Given, check_together, parse_options


def build_options(settings: Settings, raw: dict[str, Any], filename: str) -> JobOptions:
    """A training job's options from the fields a client gave on chunk 0 (training_options)."""
    options = JobOptions(**parse_options(raw, Given(settings, filename)))
    check_together(options)
    return options


MAX_CALLBACK_URL_CHARS = 2000


def callback_refusal(settings: Settings, url: str) -> str | None:
    """Why the service will not call this URL when a job ends, or None when it will: only
    http(s) URLs to a host in MODELTRAIN_WEBHOOK_ALLOWED_HOSTS, and only with a signing secret."""
    from urllib.parse import urlsplit

    if len(url) > MAX_CALLBACK_URL_CHARS:
        return f"callbackUrl is longer than {MAX_CALLBACK_URL_CHARS} characters"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 (a malformed port raises here)
    except ValueError:
        return "callbackUrl is not a URL"
    if parts.scheme not in ("http", "https") or not host:
        return "callbackUrl must be an http:// or https:// URL with a host"
    allowed = {h.lower() for h in settings.webhook_allowed_hosts}
    if host not in allowed:
        known = ", ".join(sorted(allowed)) or "none"
        return (
            f"callbackUrl's host {host!r} is not one this service calls "
            f"(MODELTRAIN_WEBHOOK_ALLOWED_HOSTS: {known})"
        )
    if not settings.webhook_secret:
        return "this service has no MODELTRAIN_WEBHOOK_SECRET to sign callbacks with"
    return None


def check_callback_url(settings: Settings, url: str | None) -> str | None:
    """The callbackUrl a client gave (None when none), or a 422 naming the field."""
    if url is None or not url.strip():
        return None
    refusal = callback_refusal(settings, url.strip())
    if refusal is not None:
        raise InvalidInput(refusal, field="callbackUrl")
    return url.strip()
