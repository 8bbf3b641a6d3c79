"""``dpr``: the root command group and its shared error handling."""

from __future__ import annotations

import sys

import click

from dpr import __version__
from dpr.entrypoints.cli.serve import serve

EXIT_USAGE = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dpr")
def cli() -> None:
    """dpr: run Earth-observation processors as OGC API - Processes jobs.

    Start a server with `dpr serve`; every setting can also come from a YAML file
    (--config, or DPR_CONFIG) or from DPR_<SECTION>_<KEY> environment variables.
    """


cli.add_command(serve)


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(standalone_mode=True))
