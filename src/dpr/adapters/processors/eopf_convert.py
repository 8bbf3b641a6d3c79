"""``EopfConvertProcessor``: rs-dpr-service's ``conv_safe_zarr``, a legacy SAFE product
converted to EOPF Zarr with ``eopf convert --target-engine cpm_zarr --naming-strategy
product_name -- SOURCE TARGET`` (the product is written as ``TARGET/<product name>.zarr``).

Inputs as in the original: ``input_safe_path`` and ``output_zarr_dir_path`` (``s3://`` URLs or
local paths). Options: ``venv``/``python``, ``stage`` (download the SAFE and write the Zarr
locally first: the default, as the original did), ``env``, ``cancel_grace``, ``work_dir``,
``id``, ``title``, ``description``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dpr.adapters.processors import eopf_storage as storage
from dpr.adapters.processors.eopf_env import EopfEnvironment
from dpr.adapters.processors.eopf_locations import check_opened_by_eopf
from dpr.adapters.processors.eopf_run import ForwardingContext, RunFolder
from dpr.adapters.subprocess_runner import run_command
from dpr.domain.errors import ProcessorError
from dpr.domain.locations import LOCATION_FORMAT
from dpr.domain.process import InputDescription as In
from dpr.domain.process import JobControl, ProcessDescription
from dpr.domain.process import OutputDescription as Out
from dpr.domain.secrets import mask
from dpr.ports.processor import Processor, ProcessorContext

_CONVERTED = re.compile(r"Converted to (\S+)")


class EopfConvertProcessor(Processor):
    """Converts a SAFE product to Zarr with the EOPF environment's ``eopf convert``."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.environment = EopfEnvironment(venv=options.get("venv"), python=options.get("python"))
        self.stage = bool(options.get("stage", True))
        self.extra_env: dict[str, str] = {str(k): str(v) for k, v in (options.get("env") or {}).items()}
        self.cancel_grace: float | None = options.get("cancel_grace")

    def unavailable(self) -> str | None:
        """Why this process cannot run here (for the administrator), or None when it can."""
        return self.environment.problem(["eopf.store.convert"])

    def describe(self) -> ProcessDescription:
        text = self.environment.describe(
            str(self.options.get("description", "Converts a legacy SAFE product to EOPF Zarr (eopf convert).")),
            ["eopf.store.convert"],
            self.options.get("requires"),
        )
        # A location, never an option of ``eopf convert`` (they are passed after "--" as well).
        path = {"type": "string", "minLength": 1, "pattern": r"^[^\s-]", "format": LOCATION_FORMAT}
        return ProcessDescription(
            id=str(self.options.get("id", "conv_safe_zarr")),
            title=self.options.get("title", "SAFE to Zarr conversion"),
            description=text,
            keywords=["dpr", "eopf", "conversion"],
            jobControlOptions=[JobControl.ASYNC, JobControl.DISMISS],
            inputs={
                "input_safe_path": In(title="SAFE product", description="s3://... or a local path", schema=path),
                "output_zarr_dir_path": In(
                    title="Output folder", description="Folder the .zarr product is written in", schema=path
                ),
            },
            outputs={"zarr": Out(title="The Zarr product written", schema={"type": "string"})},
        )

    def run(self, inputs: Mapping[str, Any], context: ProcessorContext) -> dict[str, Any]:
        self.environment.require(["eopf.store.convert"])
        source, target = _path(inputs, "input_safe_path"), _path(inputs, "output_zarr_dir_path").rstrip("/")
        env, policy = dict(context.env), context.locations
        inside = policy.allow_internal_urls
        for field, location in (("input_safe_path", source), ("output_zarr_dir_path", target)):
            check_opened_by_eopf(policy, field, location)  # again, on the worker: EOPF opens them
        if not storage.exists(source, env, allow_internal=inside):
            raise ProcessorError(f"the SAFE product {source} does not exist")
        names = _Names(context)
        with RunFolder(context.job_id, self.options.get("work_dir")) as run:
            child = self.environment.child_env(env, self.extra_env, str(run.home))
            options = ["--target-engine", "cpm_zarr", "--naming-strategy", "product_name"]
            if self.stage:
                options += ["--stage-source", "--stage-output"]
            argv = self.environment.command("convert", *options, "--", source, target)
            context.progress(5, f"converting {source}")
            run_command(argv, names, cwd=str(run.home), env=child, cancel_grace=self.cancel_grace)
        if names.name is None:
            raise ProcessorError("eopf convert ended without saying which product it wrote")
        for candidate in (f"{target}/{names.name}.zarr", f"{target}/{names.name}"):
            if storage.exists(candidate, env, allow_internal=inside):
                return {"zarr": candidate}
        raise ProcessorError(f"eopf convert reported {names.name!r}, but it is not in {target}")


class _Names(ForwardingContext):
    """Forwards the output to the job and keeps the name of the converted product."""

    def __init__(self, context: ProcessorContext) -> None:
        super().__init__(context)
        self.name: str | None = None

    def log(self, line: str, level: str = "INFO") -> None:
        found = _CONVERTED.search(line)
        if found is not None:
            self.name = found.group(1)
        self._context.log(mask(line, self._context.env.values()), level)


def _path(inputs: Mapping[str, Any], name: str) -> str:
    value = inputs.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ProcessorError(f"input {name!r} is required: a non-empty string")
    if value.strip().startswith("-"):
        raise ProcessorError(f"input {name!r} may not start with '-'")
    return value.strip()
