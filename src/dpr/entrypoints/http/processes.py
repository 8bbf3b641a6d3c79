"""``/processes``: the process list, descriptions and execution."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, QueryParameter
from msgspec.structs import replace

from dpr.domain import ogc
from dpr.domain.documents import Link, Process, ProcessList
from dpr.entrypoints.http.auth import caller_of
from dpr.entrypoints.http.bodies import decode_execute_body
from dpr.entrypoints.http.common import base_url, services
from dpr.entrypoints.http.encoded import EncodedResponses
from dpr.entrypoints.http.forms import form_fields
from dpr.entrypoints.http.guards import require_json
from dpr.entrypoints.http.negotiation import Format
from dpr.entrypoints.http.outcome import execution_response
from dpr.entrypoints.http.prefer import parse_prefer
from dpr.entrypoints.http.respond import requested_format, respond

TASK_TABLE_REL = "task-table"  # what `dpr processes describe` follows to show the table


@get("/processes", summary="The processes offered", tags=["Processes"])
async def list_processes(
    request: Request,
    limit: Annotated[int, QueryParameter(ge=1, le=10000)] = 100,
    offset: Annotated[int, QueryParameter(ge=0)] = 0,
) -> Response[ProcessList]:
    svc = services(request)
    queries, settings = svc.queries, svc.settings
    fmt, base = requested_format(request), base_url(request, settings)

    def answer() -> Response[Any]:
        everything = queries.processes()
        page = everything[offset : offset + limit]
        return respond(request, ogc.process_list(page, base, limit, offset, len(everything)), "processes.html", fmt=fmt)

    if fmt is Format.HTML:  # every page has a nonce of its own
        return answer()
    # The catalog is fixed while the server runs and the list is the same for every caller.
    encoded: EncodedResponses = request.app.state.encoded
    return encoded.get(("processes", base, limit, offset), answer)


@get("/processes/{process_id:str}", summary="A process description", tags=["Processes"])
async def describe_process(request: Request, process_id: FromPath[str]) -> Response[Process]:
    svc = services(request)
    queries, settings = svc.queries, svc.settings
    process, base = queries.describe(process_id), base_url(request, settings)
    return respond(
        request,
        with_task_table_link(ogc.process_document(process, base), queries.task_table(process_id) is not None),
        "process.html",
        {"fields": form_fields(process)},
    )


def with_task_table_link(doc: Process, has_table: bool) -> Process:
    """A DPR process's description links its EOPF task table (served by the ``/dpr`` API)."""
    if not has_table:
        return doc
    href = doc.links[0].href.replace("/processes/", "/dpr/processes/", 1)  # the self link
    table = Link(href=href, rel=TASK_TABLE_REL, type=ogc.JSON, title="the EOPF task table")
    return replace(doc, links=[*doc.links, table])


@post("/processes/{process_id:str}/execution", summary="Execute a process", tags=["Processes"], status_code=200)
async def execute(request: Request, process_id: FromPath[str]) -> Response[Any]:
    svc = services(request)
    submission, settings = svc.submission, svc.settings
    caller = caller_of(request)
    require_json(request)
    body = decode_execute_body(await request.body())
    preference = parse_prefer(request.headers.get("prefer"))
    base = base_url(request, settings)
    run = await submission.execute(process_id, body, preference, base_url=base, caller=caller)
    return execution_response(run, base)


ROUTES = [list_processes, describe_process, execute]
