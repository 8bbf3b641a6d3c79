"""W3C trace context around a job: injected on the service side, extracted on the worker.

OpenTelemetry is optional at run time: without ``opentelemetry-api`` both sides do nothing, and
without an SDK the span is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from msgspec.structs import replace

from dpr.domain.run import WorkOrder

try:  # an optional dependency: the worker image may not have it
    from opentelemetry import propagate, trace

    TRACING = True
except ImportError:  # pragma: no cover - exercised only without opentelemetry-api
    TRACING = False


def with_current_context(order: WorkOrder) -> WorkOrder:
    """The order carrying the caller's trace context, unless it already has one."""
    if order.trace_context or not TRACING:
        return order
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return replace(order, trace_context=carrier) if carrier else order


@contextmanager
def job_span(order: WorkOrder, worker: str | None) -> Iterator[None]:
    """A span named after the process, child of the context the order carries."""
    if not TRACING:
        yield
        return
    parent = propagate.extract(dict(order.trace_context))
    tracer = trace.get_tracer("dpr.adapters.dask")
    attributes = {"dpr.job_id": order.job_id, "dpr.process_id": order.process_id, "dask.worker": worker or ""}
    with tracer.start_as_current_span(f"dpr.run {order.process_id}", context=parent, attributes=attributes):
        yield
