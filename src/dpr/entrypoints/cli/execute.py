"""``dpr execute``: run a process, synchronously or as a job."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import click

from dpr.entrypoints.cli import complete, follow
from dpr.entrypoints.cli.inputs import build_request, load_request, text_inputs
from dpr.entrypoints.cli.session import Session, client_options


def _check_assignments(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """NAME=VALUE syntax, checked before anything is sent (the values are read later)."""
    for value in values:
        if not value.partition("=")[0].strip() or "=" not in value:
            raise click.BadParameter(f"{value!r}: expected NAME=VALUE (VALUE as JSON, as text, or @FILE)")
    return values


@click.command()
@click.argument("process_id", metavar="ID", shell_complete=complete.process_ids)
@click.option(
    "-i",
    "--input",
    "assignments",
    multiple=True,
    metavar="NAME=VALUE",
    callback=_check_assignments,
    help="An input: VALUE is JSON if it parses, else text; @FILE reads it from a file; repeat NAME to give an array.",
)
@click.option(
    "-f",
    "--input-file",
    metavar="FILE",
    help="Inputs, or a whole execute request, as JSON or YAML (- for stdin); -i values win.",
)
@click.option("--async", "asynchronous", is_flag=True, help="Submit a job (Prefer: respond-async) and print its id.")
@click.option(
    "-w", "--wait", is_flag=True, help="Submit a job, watch it to its end, then print its results (implies --async)."
)
@click.option(
    "--response",
    type=click.Choice(["raw", "document"]),
    help="Raw outputs, or a results document [default: the server's, raw].",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Write the results, as the server sends them, to FILE.",
)
@client_options
@click.pass_obj
def execute(
    s: Session,
    process_id: str,
    assignments: tuple[str, ...],
    input_file: str | None,
    asynchronous: bool,
    wait: bool,
    response: str | None,
    output: str | None,
) -> None:
    """Execute a process.

    Synchronous by default when the process allows it: prints the results when it ends.

    \b
    Examples:
      dpr execute mockup -i duration=2 -i fail=false -i product_type=S2MSI1C
      dpr execute echo -i echo=@message.txt -i array=1 -i array=2
      dpr execute mockup -f request.yaml --wait -o results.json
      JOB=$(dpr execute mockup --async) && dpr jobs watch "$JOB"

    Exits 1 when the job fails or is dismissed, 4 when the server refuses the request.

    \b
    --json: the results document (unless --response raw); with --async alone, the job's
    statusInfo.
    """
    base = load_request(input_file) if input_file else None
    client = s.client()
    description = client.process(process_id)
    body = build_request(base, assignments, text_inputs(description), response, "document" if s.json else None)
    with _busy(s, f"running {process_id}", not (asynchronous or wait)):
        reply = client.execute(process_id, body, asynchronous=asynchronous or wait)
    if reply.status_code != 201:  # the results themselves: a synchronous execution
        s.out.body(reply.content, reply.headers.get("content-type", ""), output)
        return
    job = client.decode(reply)
    if asynchronous and not wait:
        _accepted(s, job)
        return
    if not (asynchronous or wait):
        s.out.note(
            f"the server runs it as job {job['jobID']} (asynchronous only, or past its sync timeout): watching it"
        )
    else:
        s.out.note(f"job {job['jobID']} {job['status']}: watching it (Ctrl-C stops watching; the job goes on)")
    _wait_for_results(s, job["jobID"], output)


@contextlib.contextmanager
def _busy(s: Session, what: str, show: bool) -> Iterator[None]:
    """A spinner on stderr while a synchronous execution runs (on a terminal only)."""
    if show and s.out.err.is_terminal:
        with s.out.err.status(what + "…"):
            yield
    else:
        yield


def _accepted(s: Session, job: dict[str, object]) -> None:
    if s.json:
        s.out.print_json(job)
        return
    click.echo(job["jobID"])
    s.out.note(f"job {job['status']}; follow it with: dpr jobs watch {job['jobID']}")


def _wait_for_results(s: Session, job_id: str, output: str | None) -> None:
    s.watching = job_id
    client = s.client()
    final = follow.track(follow.poll(client, job_id), s.out.err)
    s.out.err.print(follow.outcome(final, s.out.err), soft_wrap=True)
    follow.end(final)
    reply = client.results(job_id)
    s.out.body(reply.content, reply.headers.get("content-type", ""), output)
