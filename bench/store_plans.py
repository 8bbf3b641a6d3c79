"""The PostgreSQL plans of the job-list queries the SQL adapter sends, for ``bench_store.py``.

The statements are the adapter's own (``query_filters``, ``after_cursor``, ``NEWEST_FIRST``),
compiled for psycopg and run under ``EXPLAIN (ANALYZE)``: a ``Seq Scan`` on ``jobs`` means the
query reads the whole table, and its time grows with it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from dpr.adapters.sql.filters import NEWEST_FIRST, after_cursor, query_filters
from dpr.adapters.sql.tables import jobs
from dpr.domain.query import Cursor, JobQuery
from dpr.domain.status import JobStatus

DIALECT = postgresql.psycopg.dialect()  # type: ignore[attr-defined]


def queries(now: datetime, deep: Cursor) -> dict[str, JobQuery]:
    """The job lists worth checking: the API's filters, alone and combined, first and deep pages."""
    S = JobStatus
    return {
        "first page": JobQuery(now=now, limit=100),
        "deep page (90%)": JobQuery(now=now, limit=100, after=deep),
        "status=running": JobQuery(now=now, limit=100, statuses=frozenset({S.RUNNING})),
        "status=failed": JobQuery(now=now, limit=100, statuses=frozenset({S.FAILED})),
        "status=failed, deep": JobQuery(now=now, limit=100, statuses=frozenset({S.FAILED}), after=deep),
        "processID=mockup": JobQuery(now=now, limit=100, process_ids=frozenset({"mockup"})),
        "processID=s1_ard, deep": JobQuery(now=now, limit=100, process_ids=frozenset({"s1_ard"}), after=deep),
        "status=accepted,running&processID=echo": JobQuery(
            now=now, limit=100, statuses=frozenset({S.ACCEPTED, S.RUNNING}), process_ids=frozenset({"echo"})
        ),
        "datetime=last 7 days": JobQuery(now=now, limit=100, created_from=now - timedelta(days=7)),
        "minDuration=3600": JobQuery(now=now, limit=100, min_duration=timedelta(hours=1)),
        "minDuration=60": JobQuery(now=now, limit=100, min_duration=timedelta(minutes=1)),
        "maxDuration=1": JobQuery(now=now, limit=100, max_duration=timedelta(seconds=1)),
        "owner=user-7": JobQuery(now=now, limit=100, owner="user-7"),
        "count (numberMatched)": JobQuery(now=now, limit=100, count=True),
    }


def statements(query: JobQuery) -> list[tuple[str, dict[str, object]]]:
    """The SQL and parameters of the page query (and the count, when asked), as psycopg gets them."""
    filters = query_filters(query)
    page = select(jobs).where(*filters, *after_cursor(query.after)).order_by(*NEWEST_FIRST).limit(query.limit + 1)
    wanted = [page, select(func.count()).select_from(jobs).where(*filters)] if query.count else [page]
    compiled = [s.compile(dialect=DIALECT, compile_kwargs={"render_postcompile": True}) for s in wanted]
    return [(str(c), dict(c.params)) for c in compiled]


def explain(url: str, now: datetime, deep: Cursor) -> list[dict[str, object]]:
    """For each query: whether its plan scans the whole table, its top node and its time."""
    sa_url = make_url(url)
    rows: list[dict[str, object]] = []
    with psycopg.connect(host=sa_url.host, port=sa_url.port, user=sa_url.username, dbname=sa_url.database) as conn:
        for name, query in queries(now.astimezone(UTC), deep).items():
            for sql, params in statements(query):
                plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params).fetchone()[0][0]  # type: ignore[index]
                text = json.dumps(plan["Plan"])
                rows.append(
                    {
                        "query": name,
                        "full scan": '"Seq Scan"' in text,
                        "plan": _summary(plan["Plan"]),
                        "ms": plan["Execution Time"],
                    }
                )
    return rows


def _summary(node: dict[str, object]) -> str:
    """The chain of plan nodes down the first child, e.g. ``Limit > Index Scan ix_...``."""
    parts = []
    current: dict[str, object] | None = node
    while current is not None:
        label = str(current["Node Type"])
        if "Index Name" in current:
            label += f" {current['Index Name']}"
        parts.append(label)
        children = current.get("Plans") or []
        current = children[0] if children else None  # type: ignore[index]
    return " > ".join(parts)
