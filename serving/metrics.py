"""Prometheus metrics of one app instance: latency histograms, refusals, fallbacks, errors."""

import os

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

from assist.schemas import Answer

LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Paths reported by name; anything else is "other", so scanners cannot blow up the label set.
KNOWN_PATHS = frozenset({
    "/", "/api/ask", "/api/ask/stream", "/api/feedback", "/api/feedback/export", "/v1/chat/completions",
    "/v1/models", "/healthz", "/readyz", "/metrics",
})


class Metrics:
    """The service's metrics in their own registry (one per app, so tests can build many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_seconds = Histogram(
            "assist_http_request_seconds", "HTTP request latency.", ["path", "method", "status"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.answer_seconds = Histogram(
            "assist_answer_seconds", "Time to a complete answer.", ["route", "generator"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "assist_stage_seconds", "Time per pipeline stage, from the answer's timings.", ["stage"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.answers = Counter("assist_answers_total", "Answers given.", ["role"], registry=self.registry)
        self.refusals = Counter(
            "assist_refusals_total", "Questions the routines did not cover.", ["role"], registry=self.registry
        )
        self.fallbacks = Counter(
            "assist_fallbacks_total", "Answers that fell back to extractive.", registry=self.registry
        )
        self.errors = Counter(
            "assist_errors_total", "Failed requests by kind.", ["route", "type"], registry=self.registry
        )
        self.auth_failures = Counter(
            "assist_auth_failures_total", "Requests without a valid token.", registry=self.registry
        )
        self.rate_limited = Counter(
            "assist_rate_limited_total", "Requests over a token's rate.", registry=self.registry
        )

    def exposition_registry(self) -> CollectorRegistry:
        """What /metrics shows: this app's registry, or, under `assist serve --workers N` (PROMETHEUS_MULTIPROC_DIR
        set by the supervisor before the workers start), every worker's values summed."""
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return self.registry
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry

    def observe_answer(self, route: str, role: str, answer: Answer, seconds: float) -> None:
        """Count one answer."""
        self.answer_seconds.labels(route, answer.generator or "none").observe(seconds)
        self.answers.labels(role).inc()
        if answer.refused:
            self.refusals.labels(role).inc()
        if answer.fallback:
            self.fallbacks.inc()
        for stage, ms in answer.timings.items():
            self.stage_seconds.labels(stage).observe(ms / 1000)

    def observe_http(self, path: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request."""
        label = path if path in KNOWN_PATHS else "static" if path.startswith("/static/") else "other"
        self.http_seconds.labels(label, method, str(status)).observe(seconds)
