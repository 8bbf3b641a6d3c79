"""rs-dpr-service's wire format, translated to and from dpr's: the execution body, the job
status its clients parse, and its error documents."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec.structs import replace

from dpr.domain import ogc
from dpr.domain.documents import StatusInfo
from dpr.domain.errors import InvalidInput
from dpr.domain.execute import ExecuteBody, ResponseMode
from dpr.domain.job import Job
from dpr.domain.run import JUPYTER_TOKEN, Placement
from dpr.domain.status import JobStatus
from dpr.entrypoints.http.bodies import decode_json

CLUSTER_FIELDS = ("jupyter_token", "cluster_label", "cluster_instance")
TOKEN = JUPYTER_TOKEN  # the placement credential rs-dpr-service clients send
STATUS_TYPE = "https://developer.mozilla.org/en/docs/Web/HTTP/Reference/Status/"


class DprExecution(msgspec.Struct, frozen=True, kw_only=True):
    """An original execution body split into dpr's execute request and the job's placement."""

    request: ExecuteBody
    placement: Placement | None = None

    def __repr__(self) -> str:  # the placement holds the token: never show it
        return f"DprExecution(inputs={sorted(self.request.inputs or {})!r})"


class DprProblem(msgspec.Struct, frozen=True, kw_only=True):
    """The original's RFC 7807 error document."""

    type: str
    status: int
    detail: str


def parse_execution(body: bytes, require_cluster: bool) -> DprExecution:
    """The original body: ``jupyter_token``, ``cluster_label`` and ``cluster_instance`` say where
    to run; every other non-null field is an input of the process. Raises ``InvalidInput``.

    The cluster fields may be left out unless ``require_cluster`` (jobs run on Dask Gateway).
    """
    if not body.strip():
        raise InvalidInput("the request body is required: a JSON object")
    data = decode_json(body)
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    cluster = {name: _text(data.pop(name, None), name) for name in CLUSTER_FIELDS}
    if require_cluster and not (cluster[TOKEN] and cluster["cluster_label"]):
        raise InvalidInput("missing required fields: jupyter_token or cluster_label")
    inputs = {name: value for name, value in data.items() if value is not None}
    return DprExecution(
        request=ExecuteBody(inputs=inputs, response=ResponseMode.DOCUMENT), placement=_placement(cluster)
    )


def _text(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    raise InvalidInput(f"{name} must be a string")  # the value itself is never echoed: it may be a secret


def _placement(cluster: dict[str, str | None]) -> Placement | None:
    if not any(cluster.values()):
        return None
    token = cluster[TOKEN]
    return Placement(
        cluster_label=cluster["cluster_label"],
        cluster_instance=cluster["cluster_instance"],
        credentials={TOKEN: token} if token else {},
    )


def dpr_status(job: Job, base: str) -> StatusInfo:
    """The job's OGC status, except that a successful job's ``message`` is its outputs as a
    Python literal: the original clients read results with ``ast.literal_eval(message)``."""
    info = ogc.status_info(job, base)
    if job.status is JobStatus.SUCCESSFUL:
        return replace(info, message=repr(job.results or {}))
    return info


def dpr_problem(status: int, detail: str) -> DprProblem:
    return DprProblem(type=f"{STATUS_TYPE}{status}", status=status, detail=detail)
