"""The ``dpr`` command line."""

from dpr.entrypoints.cli.main import cli, main

__all__ = ["cli", "main"]
