"""Processors that exist only for tests (importable by path, like any plugin)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from dpr.domain.process import (
    InputDescription,
    JobControl,
    OutputDescription,
    ProcessDescription,
)
from dpr.ports.processor import Processor, ProcessorContext


class SecretEchoProcessor(Processor):
    """Logs and reports the secret it was given (which dpr must mask), returns nothing secret."""

    def describe(self) -> ProcessDescription:
        return ProcessDescription(
            id="secret-echo",
            jobControlOptions=[JobControl.SYNC, JobControl.ASYNC, JobControl.DISMISS],
            inputs={"name": InputDescription(schema={"type": "string"}, minOccurs=0)},
            outputs={"seen": OutputDescription(schema={"type": "boolean"})},
        )

    def run(self, inputs: Mapping[str, Any], context: ProcessorContext) -> dict[str, Any]:
        token = context.env.get("TOKEN", "")
        context.log(f"connecting with token {token}")
        context.progress(50, f"authenticated as {token}")
        return {"seen": bool(token)}


class ChattyProcessor(Processor):
    """Reports progress many times as fast as it can: the service must keep up."""

    def describe(self) -> ProcessDescription:
        return ProcessDescription(
            id="chatty",
            jobControlOptions=[JobControl.ASYNC, JobControl.DISMISS],
            inputs={"reports": InputDescription(schema={"type": "integer"}, minOccurs=0)},
            outputs={"reports": OutputDescription(schema={"type": "integer"})},
        )

    def run(self, inputs: Mapping[str, Any], context: ProcessorContext) -> dict[str, Any]:
        reports = int(inputs.get("reports", 2000))
        for i in range(reports):
            context.progress(i * 100 // reports, f"report {i}")
        return {"reports": reports}


class CrashingProcessor(Processor):
    """Has a bug: raises an ordinary exception."""

    def describe(self) -> ProcessDescription:
        return ProcessDescription(id="crash", jobControlOptions=[JobControl.SYNC, JobControl.ASYNC, JobControl.DISMISS])

    def run(self, inputs: Mapping[str, Any], context: ProcessorContext) -> dict[str, Any]:
        time.sleep(0.01)
        raise ZeroDivisionError("division by zero in the test processor")


class StubbornProcessor(Processor):
    """Runs for ``seconds`` and does not offer dismissal."""

    def describe(self) -> ProcessDescription:
        return ProcessDescription(
            id="stubborn",
            jobControlOptions=[JobControl.ASYNC],
            inputs={"seconds": InputDescription(schema={"type": "number"}, minOccurs=0)},
        )

    def run(self, inputs: Mapping[str, Any], context: ProcessorContext) -> dict[str, Any]:
        context.sleep(float(inputs.get("seconds", 5)))
        return {}


class EnvironmentReport(Processor):
    """Returns the names of the environment variables its worker process has."""

    def describe(self) -> ProcessDescription:
        return ProcessDescription(
            id="env-report",
            jobControlOptions=[JobControl.SYNC, JobControl.ASYNC],
            outputs={"names": OutputDescription(schema={"type": "array", "items": {"type": "string"}})},
        )

    def run(self, inputs: Mapping[str, Any], context: ProcessorContext) -> dict[str, Any]:
        return {"names": sorted(os.environ)}
