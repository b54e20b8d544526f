"""Prometheus metrics of one API process: request latency per route, prediction latency and
rows per model, the model cache, job counts by status and input drift (read from Redis at
scrape time).

Each API process has its own registry; scrape every replica (see README)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modeltrain.constants import JobStatus

if TYPE_CHECKING:
    from modeltrain.drift.service import DriftReports
    from modeltrain.jobs import JobStore
    from modeltrain.serving import ModelCache

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Histogram(
            "modeltrain_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predict = Histogram(
            "modeltrain_predict_duration_seconds",
            "Time to answer a prediction request, by model version.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            "modeltrain_predictions",
            "Rows predicted, by model version.",
            ["model"],
            registry=self.registry,
        )

    def add_collector(self, collector: Collector) -> None:
        self.registry.register(collector)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class CacheCollector(Collector):
    """The model cache's counters, read at scrape time."""

    def __init__(self, cache: ModelCache) -> None:
        self._cache = cache

    def collect(self) -> Iterator[Metric]:
        events = CounterMetricFamily(
            "modeltrain_model_cache_events", "Model cache hits, misses and loads.", labels=["event"]
        )
        events.add_metric(["hit"], self._cache.hits)
        events.add_metric(["miss"], self._cache.misses)
        events.add_metric(["load"], self._cache.loads)
        yield events
        last = self._cache.load_seconds
        cold = GaugeMetricFamily(
            "modeltrain_model_last_load_seconds", "Duration of the latest model load (cold start)."
        )
        cold.add_metric([], last[-1] if last else 0.0)
        yield cold


class JobsCollector(Collector):
    """Jobs by status, counted in Redis at scrape time."""

    def __init__(self, store: JobStore) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("modeltrain_jobs", "Known jobs by status.", labels=["status"])
        try:
            counts = self._store.count_by_status()
        except Exception:  # Redis away: /readyz says so; no job figures this time
            return
        for status in JobStatus:
            gauge.add_metric([status.value], counts.get(status, 0))
        yield gauge


class DriftCollector(Collector):
    """PSI per input column of each version loaded in this process, and the rows counted for
    it (all replicas' rows: the counts are in Redis), read at scrape time."""

    def __init__(self, cache: ModelCache, reports: DriftReports) -> None:
        self._cache = cache
        self._reports = reports

    def collect(self) -> Iterator[Metric]:
        psi = GaugeMetricFamily(
            "modeltrain_drift_psi",
            "Population stability index of an input column since the drift window began.",
            labels=["model", "version", "column"],
        )
        rows = GaugeMetricFamily(
            "modeltrain_drift_rows",
            "Served rows counted for drift since the window began.",
            labels=["model", "version"],
        )
        for model in self._cache.loaded():
            if model.profile is None:
                continue
            try:
                report = self._reports.report(model.name, model.version, model.profile)
            except Exception:  # Redis away: no drift figures this time
                return
            rows.add_metric([model.name, model.version], report["rows"])
            for column in report["columns"]:
                psi.add_metric([model.name, model.version, column["column"]], column["psi"])
        yield psi
        yield rows


class MetricsMiddleware:
    """Times every HTTP request; labels it by the route template the router matched."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )
