"""``command``: a process that runs a configured command line with its inputs substituted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dpr.adapters.subprocess_runner import run_command
from dpr.domain.errors import ProcessorError
from dpr.domain.process import (
    InputDescription as In,
)
from dpr.domain.process import (
    JobControl,
    ProcessDescription,
)
from dpr.domain.process import (
    OutputDescription as Out,
)
from dpr.ports.processor import Processor, ProcessorContext


class CommandProcessor(Processor):
    """Runs ``argv`` (a list of templates: ``"{name}"`` is replaced by input ``name``), no shell.

    Options: ``argv`` (required), ``id``, ``title``, ``description``, ``inputs`` (input id ->
    JSON schema), ``cancel_grace`` (seconds between SIGTERM and SIGKILL on dismissal).
    Example, a dismissable sleep: ``argv: ["sleep", "{seconds}"]``,
    ``inputs: {seconds: {type: number}}``.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        argv = options.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError("option 'argv' must be a non-empty list of strings")
        self.argv: list[str] = argv
        self.inputs: dict[str, dict[str, Any]] = dict(options.get("inputs") or {})
        self.cancel_grace: float | None = options.get("cancel_grace")

    def describe(self) -> ProcessDescription:
        return ProcessDescription(
            id=str(self.options.get("id", "command")),
            title=self.options.get("title", "Command"),
            description=self.options.get("description", f"Runs {self.argv[0]} with the inputs substituted."),
            keywords=["command"],
            jobControlOptions=[JobControl.ASYNC, JobControl.SYNC, JobControl.DISMISS],
            inputs={name: In(title=name, schema=schema) for name, schema in self.inputs.items()},
            outputs={"exit_code": Out(title="The command's exit code", schema={"type": "integer"})},
        )

    def run(self, inputs: Mapping[str, Any], context: ProcessorContext) -> dict[str, Any]:
        argv = [part.format_map(_Inputs(inputs)) for part in self.argv]
        return {"exit_code": run_command(argv, context, cancel_grace=self.cancel_grace)}


class _Inputs(dict[str, Any]):
    def __missing__(self, name: str) -> Any:
        raise ProcessorError(f"the command needs input {name!r}")
