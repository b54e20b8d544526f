"""The options a client gives a job (on an upload's chunk 0, or to a retrain), checked against
the settings; each refusal names its field."""

from __future__ import annotations

from modeltrain.config import Settings
from modeltrain.constants import Task
from modeltrain.exceptions import InvalidInput
from modeltrain.jobs.models import JobOptions
from modeltrain.registry.model_ids import safe_model_name
from modeltrain_model import families as family_registry


def parse_task(task: str | None) -> Task:
    try:
        return Task(task or Task.AUTO)
    except ValueError:
        raise InvalidInput(
            "task must be one of: auto, classification, regression", field="task"
        ) from None


def check_budget(settings: Settings, budget: float | None) -> float:
    budget = settings.default_time_budget if budget is None else budget
    if not 1 <= budget <= settings.max_time_budget:
        raise InvalidInput(
            f"timeBudget must be between 1 and {settings.max_time_budget:g} seconds",
            field="timeBudget",
        )
    return float(budget)


def parse_families(families: str | list[str] | None) -> tuple[str, ...] | None:
    """A job's `families` option: a comma-separated list (or a JSON list) of the model families
    to search, by their names or aliases (the linear family's leaderboard names), None for all
    of them; in the registry's order."""
    if families is None:
        return None
    names = families.split(",") if isinstance(families, str) else families
    asked = [n.strip().lower() for n in names if n.strip()]
    if not asked:
        return None
    chosen, unknown = set(), []
    for name in asked:
        try:
            chosen.add(family_registry.resolve(name))
        except family_registry.UnknownFamily:
            unknown.append(name)
    if unknown:
        raise InvalidInput(
            f"families: unknown {', '.join(map(repr, unknown))}; the families are: "
            + ", ".join(family_registry.names()),
            field="families",
        )
    return tuple(f for f in family_registry.names() if f in chosen)


def clean_target(target: str | None) -> str | None:
    return target.strip() if target and target.strip() else None


def build_options(
    settings: Settings,
    *,
    target: str | None,
    task: str | None,
    model_name: str | None,
    time_budget: float | None,
    filename: str,
    families: str | list[str] | None = None,
) -> JobOptions:
    return JobOptions(
        target=clean_target(target),
        task=parse_task(task),
        model_name=safe_model_name(model_name or filename),
        time_budget=check_budget(settings, time_budget),
        families=parse_families(families),
    )


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
