"""``dpr jobs list|show|watch|logs|results|dismiss``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
from rich.text import Text

from dpr.entrypoints.cli import complete, follow, logs, views
from dpr.entrypoints.cli.client import next_link
from dpr.entrypoints.cli.session import Session, client_options
from dpr.entrypoints.cli.when import parse_since, rfc3339

STATUSES = ("accepted", "running", "successful", "failed", "dismissed")
SERVER_PAGE = 1000  # the most jobs dpr returns in one page
job_id_argument = click.argument("job_id", metavar="JOB_ID", shell_complete=complete.job_ids)
interval_option = click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=follow.INTERVAL,
    show_default=True,
    metavar="SECONDS",
    help="How often to ask the server.",
)


@click.group()
def jobs() -> None:
    """List, watch and manage jobs."""


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return rfc3339(parse_since(value, datetime.now(UTC)))
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@jobs.command("list")
@click.option(
    "-s", "--status", multiple=True, type=click.Choice(STATUSES), help="Only jobs with this status (repeatable)."
)
@click.option(
    "-p",
    "--process",
    "process_ids",
    multiple=True,
    metavar="ID",
    shell_complete=complete.process_ids,
    help="Only jobs of this process (repeatable).",
)
@click.option(
    "--since",
    metavar="WHEN",
    callback=_since,
    help="Only jobs created since WHEN: 10m, 2h, 1d, or an RFC 3339 date-time.",
)
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    metavar="N",
    help="At most this many jobs, newest first (following the server's next links).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the job ids, one a line.")
@client_options
@click.pass_obj
def list_jobs(
    s: Session, status: tuple[str, ...], process_ids: tuple[str, ...], since: str | None, limit: int, quiet: bool
) -> None:
    """List jobs, newest first.

    \b
    --json: the server's job list {"jobs": [...], "links": [...], "numberReturned": N},
    its pages joined; a "next" link left in "links" means more jobs match.
    """
    params: dict[str, Any] = {"limit": min(limit, SERVER_PAGE)}
    if status:
        params["status"] = ",".join(status)
    if process_ids:
        params["processID"] = ",".join(process_ids)
    if since:
        params["datetime"] = f"{since}/.."
    doc = s.client().jobs(params, limit)
    if quiet and not s.json:
        for job in doc.get("jobs", []):
            s.out.print(job["jobID"])
        return
    s.out.document(doc, views.job_list)
    if next_link(doc) and not s.json:
        s.out.note(f"more jobs match: raise --limit (now {limit}) to see them")


@jobs.command("show")
@job_id_argument
@client_options
@click.pass_obj
def show(s: Session, job_id: str) -> None:
    """Show a job's status.

    \b
    --json: the server's statusInfo document.
    """
    s.out.document(s.client().job(job_id), views.job_view)


@jobs.command("watch")
@job_id_argument
@interval_option
@client_options
@click.pass_obj
def watch(s: Session, job_id: str, interval: float) -> None:
    """Watch a job to its end, with a progress bar.

    Exits 0 when the job succeeds, 1 when it fails or is dismissed.

    \b
    --json: JSON Lines, the statusInfo document each time it changes; the last is final.
    """
    s.watching = job_id
    updates = follow.poll(s.client(), job_id, interval)
    final = follow.json_lines(updates, s.out) if s.json else follow.track(updates, s.out.console)
    if not s.json:
        s.out.print(follow.outcome(final, s.out.console))
    follow.end(final)


@jobs.command("logs")
@job_id_argument
@click.option("-f", "--follow", "following", is_flag=True, help="Keep printing new lines until the job ends.")
@interval_option
@client_options
@click.pass_obj
def show_logs(s: Session, job_id: str, following: bool, interval: float) -> None:
    """Print a job's log lines (GET /jobs/{id}/logs).

    \b
    --json: JSON Lines, each entry as the server gives it: {"seq", "at", "level", "line"}.
    """
    for entry in logs.entries(s.client(), job_id, following, interval):
        if s.json:
            s.out.json_line(entry)
        else:
            s.out.print(logs.line(entry), soft_wrap=True)


@jobs.command("results")
@job_id_argument
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Write the response body, as is, to FILE.",
)
@client_options
@click.pass_obj
def results(s: Session, job_id: str, output: str | None) -> None:
    """Fetch a job's results.

    A results document (JSON) is pretty-printed; several raw outputs are shown one by one
    under their names; a single raw result is printed as text or written as is. Exits 1 when
    the job failed or was dismissed.

    \b
    --json: the body as the server sends it (the results document is JSON).
    """
    response = s.client().results(job_id)
    s.out.body(response.content, response.headers.get("content-type", ""), output)


@jobs.command("dismiss")
@job_id_argument
@click.option("--purge", is_flag=True, help="Also delete an ended job's record, results and logs.")
@client_options
@click.pass_obj
def dismiss(s: Session, job_id: str, purge: bool) -> None:
    """Dismiss a job: cancel it while it runs (repeating it changes nothing); with --purge,
    delete an ended job with its results and logs.

    \b
    --json: the statusInfo document the server returns.
    """
    doc = s.client().dismiss(job_id, purge=purge)
    s.out.document(doc, lambda d: Text(f"job {d.get('jobID', job_id)} dismissed: {d.get('message', '')}"))
