"""``dpr``: the root command group and the one place errors become exit codes."""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any

import click

from dpr import __version__
from dpr.entrypoints.cli.errors import CliError, Exit
from dpr.entrypoints.cli.session import root_options, session

# Each command's module is imported only when that command runs (or help lists them): ``dpr
# serve`` need not load the HTTP client (httpx) and the tables (rich) of the client commands,
# which took about 0.3 s of its start-up.
COMMANDS = {
    "processes": "dpr.entrypoints.cli.processes:processes",
    "execute": "dpr.entrypoints.cli.execute:execute",
    "jobs": "dpr.entrypoints.cli.jobs:jobs",
    "serve": "dpr.entrypoints.cli.serve:serve",
    "config": "dpr.entrypoints.cli.admin:config",
    "db": "dpr.entrypoints.cli.admin:db",
    "keys": "dpr.entrypoints.cli.keys:keys",
    "eopf": "dpr.entrypoints.cli.eopf:eopf_group",
}

EPILOG = """\b
Exit codes:
  0  success
  1  the job failed or was dismissed (execute, jobs watch, jobs results)
  2  usage error: a bad option or argument, an unreadable file, an invalid configuration
  3  the server cannot be reached, failed (5xx) or is busy (429): retrying later may help
  4  the server refused the request (4xx: unknown process or job, invalid input): fix it
  130 interrupted (Ctrl-C); 70 a bug in dpr (rerun with --debug and report it)

\b
Shell completion (process and job ids are asked of the server):
  eval "$(_DPR_COMPLETE=bash_source dpr)"   # in ~/.bashrc
  eval "$(_DPR_COMPLETE=zsh_source dpr)"    # in ~/.zshrc
  _DPR_COMPLETE=fish_source dpr | source    # in ~/.config/fish/completions/dpr.fish

Documentation: docs/cli.md"""


class DprGroup(click.Group):
    """Runs a command and turns every failure into one line on stderr and an exit code; loads
    each command of ``COMMANDS`` from its module when it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, _, name = COMMANDS[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), name)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except CliError as e:
            fail(ctx, e, e.message, e.exit_code)
        except KeyboardInterrupt as e:
            fail(ctx, e, interrupted(session(ctx).watching), Exit.INTERRUPTED)
        except Exception as e:
            fail(ctx, e, f"unexpected {e.__class__.__name__}: {e} (rerun with --debug and report it)", Exit.BUG)


def interrupted(job_id: str | None) -> str:
    """What Ctrl-C did: stopping a watch leaves the job running, and says how to go back to it."""
    if job_id is None:
        return "interrupted"
    return f"interrupted; job {job_id} goes on (dpr jobs watch {job_id})"


def fail(ctx: click.Context, error: BaseException, message: str, code: int) -> None:
    from dpr.entrypoints.cli.output import print_error

    if session(ctx).debug:
        traceback.print_exception(error, file=sys.stderr)
    print_error(message)
    ctx.exit(code)


@click.group(
    cls=DprGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="dpr")
@root_options
def cli() -> None:
    """dpr: run Earth-observation processors as OGC API - Processes jobs.

    \b
    Talk to a server:  dpr processes list | dpr execute mockup -i duration=2 --wait
                       dpr jobs list --status running --since 1h | dpr jobs watch JOB_ID
    Run a server:      dpr serve | dpr config check | dpr db upgrade | dpr keys create --owner NAME
    EOPF processes:    dpr eopf install | dpr eopf check

    Server commands read a YAML file (--config, or DPR_CONFIG) and DPR_<SECTION>_<KEY>
    variables; client commands talk HTTP to --url (or DPR_URL). Add --json to any client
    command for the server's JSON documents.
    """


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(prog_name="dpr"))
