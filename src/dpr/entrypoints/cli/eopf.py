"""``dpr eopf install`` and ``dpr eopf check``: the EOPF environment the EOPF processes run from.

Administration commands like ``dpr config check``: they work on this machine (its interpreters,
its virtualenvs, the server's configuration) and never call a server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import msgspec
from rich.text import Text

from dpr.adapters.processors import eopf_install as eopf
from dpr.entrypoints.cli.admin import load
from dpr.entrypoints.cli.errors import CliError, Exit, UsageError
from dpr.entrypoints.cli.session import Session, json_option

EOPF_CATALOGUE = "config/dpr-processors.yaml"


@click.group("eopf")
def eopf_group() -> None:
    """Install and check the EOPF environment (Python >= 3.13 virtualenv) of the EOPF processes."""


@eopf_group.command("install")
@click.option(
    "--path",
    "path",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help=f"Where to build the virtualenv [default: {eopf.default_path()}].",
)
@click.option("--python", "python", metavar="PATH", help="The Python >= 3.13 to build it with [default: searched].")
@click.option("--force", is_flag=True, help="Build again even if a complete environment is there.")
@json_option
@click.pass_obj
def install(s: Session, path: Path | None, python: str | None, force: bool) -> None:
    """Build the EOPF virtualenv: the pinned, tested eopf[parallel] and the processors' packages,
    plus dpr's worker side (so Dask workers can run from it). A complete environment is reused.
    Takes a few minutes and about 1.3 GB the first time.

    \b
    The Python is the first that runs and is >= 3.13 of: --python, python3.13+ on PATH,
    ~/.pyenv/versions/*, python3 on PATH. Prints the DPR_EOPF_VENV to export.
    --json: {"venv", "python", "python_version", "eopf", "dpr", "requirements", "built",
    "seconds", "env": {"DPR_EOPF_VENV"}}.
    """
    venv = (path or eopf.default_path()).expanduser().absolute()
    say = (lambda line: s.out.err.print(Text(line, style="dim"))) if s.json else (lambda line: click.echo(line))
    done = None if force else eopf.installed(venv)
    try:
        if done is None:
            interpreter, _ = eopf.find_python(python)
            done = eopf.build(venv, interpreter, say)
    except eopf.InstallError as e:
        raise CliError(str(e), Exit.USAGE) from None
    report = {**msgspec.structs.asdict(done), "env": {"DPR_EOPF_VENV": done.venv}}
    if s.json:
        s.out.print_json(report)
        return
    state = f"built in {done.seconds:.0f} s" if done.built else "already installed"
    click.echo(f"EOPF {done.eopf} on Python {done.python_version} {state}: {done.venv}")
    click.echo(f"export DPR_EOPF_VENV={done.venv}")


@eopf_group.command("check")
@click.option(
    "--venv",
    type=click.Path(file_okay=False),
    envvar="DPR_EOPF_VENV",
    show_envvar=True,
    metavar="DIR",
    help="The EOPF virtualenv to check (the catalogue's processes read DPR_EOPF_VENV too).",
)
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="DPR_CONFIG",
    show_envvar=True,
    metavar="FILE",
    help=f"The server configuration whose catalogue is checked [default: {EOPF_CATALOGUE} if it exists].",
)
@json_option
@click.pass_obj
def check(s: Session, venv: str | None, config_path: str | None) -> None:
    """Say what the EOPF environment holds and which catalogue processes can run, and why not.
    Exits 1 when a process cannot run.

    \b
    --json: {"environment": {"venv", "ready", "eopf", "python_version", "problem"},
             "processes": [{"id", "processor", "available", "reason"}]}.
    """
    if venv:
        os.environ["DPR_EOPF_VENV"] = venv  # the catalogue's ${DPR_EOPF_VENV} is what is checked
    if config_path is None and Path(EOPF_CATALOGUE).is_file():
        config_path = EOPF_CATALOGUE
    report: dict[str, Any] = {"environment": _environment(venv), "processes": _processes(config_path)}
    if s.json:
        s.out.print_json(report)
    else:
        _print(s, report)
    if any(not p["available"] for p in report["processes"]):
        s.out.err.print(Text("some processes cannot run on this machine", style="yellow"))
        raise click.exceptions.Exit(Exit.JOB_FAILED)


def _environment(venv: str | None) -> dict[str, Any]:
    if not venv:
        return {"venv": None, "ready": False, "problem": "no EOPF environment: run `dpr eopf install`"}
    found = eopf.installed(Path(venv))
    if found is None:
        problem = f"{venv} is not a complete EOPF {eopf.EOPF_VERSION} environment: run `dpr eopf install --path {venv}`"
        return {"venv": venv, "ready": False, "problem": problem}
    return {"venv": venv, "ready": True, "eopf": found.eopf, "python_version": found.python_version, "problem": None}


def _processes(config_path: str | None) -> list[dict[str, Any]]:
    from dpr.adapters.catalog import BUILTIN, ref_of
    from dpr.adapters.processor_loader import load_processor

    settings = load(config_path)
    rows = []
    for definition in settings.processes.definitions or BUILTIN:
        try:
            processor = load_processor(ref_of(definition))
            unavailable = getattr(processor, "unavailable", None)
            reason = unavailable() if callable(unavailable) else None
        except Exception as e:  # a definition that cannot be built is a reason too
            reason = f"its processor cannot be built: {e}"
        rows.append(
            {"id": definition.id, "processor": definition.processor, "available": reason is None, "reason": reason}
        )
    if not rows:
        raise UsageError(f"{config_path} defines no process")
    return rows


def _print(s: Session, report: dict[str, Any]) -> None:
    env = report["environment"]
    if env["ready"]:
        s.out.print(Text(f"EOPF {env['eopf']} on Python {env['python_version']} at {env['venv']}", style="green"))
    else:
        s.out.print(Text(env["problem"], style="yellow"), soft_wrap=True)
    for p in report["processes"]:
        mark = Text("ok  ", style="green") if p["available"] else Text("no  ", style="red")
        s.out.print(Text.assemble(mark, (p["id"], "bold"), f": {p['reason']}" if p["reason"] else ""), soft_wrap=True)
