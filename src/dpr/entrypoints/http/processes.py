"""``/processes``: the process list, descriptions and execution."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, QueryParameter

from dpr.domain import ogc
from dpr.domain.documents import Process, ProcessList
from dpr.entrypoints.http.bodies import decode_execute_body, require_json
from dpr.entrypoints.http.common import Config, Queries, Submit, base_url
from dpr.entrypoints.http.forms import form_fields
from dpr.entrypoints.http.outcome import execution_response
from dpr.entrypoints.http.prefer import parse_prefer
from dpr.entrypoints.http.respond import respond


@get("/processes", summary="The processes offered", tags=["Processes"])
async def list_processes(
    request: Request,
    queries: Queries,
    settings: Config,
    limit: Annotated[int, QueryParameter(ge=1, le=10000)] = 100,
    offset: Annotated[int, QueryParameter(ge=0)] = 0,
) -> Response[ProcessList]:
    everything = queries.processes()
    page = everything[offset : offset + limit]
    return respond(
        request, ogc.process_list(page, base_url(request, settings), limit, offset, len(everything)), "processes.html"
    )


@get("/processes/{process_id:str}", summary="A process description", tags=["Processes"])
async def describe_process(
    request: Request, queries: Queries, settings: Config, process_id: FromPath[str]
) -> Response[Process]:
    process = queries.describe(process_id)
    return respond(
        request,
        ogc.process_document(process, base_url(request, settings)),
        "process.html",
        {"fields": form_fields(process)},
    )


@post("/processes/{process_id:str}/execution", summary="Execute a process", tags=["Processes"], status_code=200)
async def execute(request: Request, submission: Submit, settings: Config, process_id: FromPath[str]) -> Response[Any]:
    require_json(request)
    body = decode_execute_body(await request.body())
    preference = parse_prefer(request.headers.get("prefer"))
    base = base_url(request, settings)
    run = await submission.execute(process_id, body, preference, base_url=base)
    return execution_response(run, base)


ROUTES = [list_processes, describe_process, execute]
