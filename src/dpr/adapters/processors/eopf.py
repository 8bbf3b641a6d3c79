"""``EopfProcessor``: runs an EOPF triggering payload with ``eopf trigger local``, as
rs-dpr-service's DPR processors did, in a subprocess of the worker.

The inputs are the original execution body's: ``s3_config_dir`` (the folder holding the payload
and its configuration: ``s3://bucket/prefix``, a local path or a ``file://`` URL),
``payload_subpath`` (the payload inside it), ``s3_report_dir`` (where to copy the run's
``reports/`` folder) and ``experimental_config`` (merged into the payload; its
``local_cluster`` switches EOPF to a LocalCluster as in the original).

Options (the process definition's ``options``): ``venv`` or ``python`` (the EOPF environment),
``task_table`` (a shipped name or a JSON file), ``modules`` (Python modules the environment
must have; by default those of the task table's units), ``dask`` (``job_cluster``: the cluster
the job runs on, the default; ``local``, ``none`` or ``payload``), ``local_cluster`` (options of
a LocalCluster), ``env`` (fixed variables for the ``eopf`` process), ``cancel_grace`` (seconds
between SIGTERM and SIGKILL on dismissal), ``work_dir`` (parent of the per-job folders),
``max_copy_bytes`` (the most the configuration folder may hold, 1 GiB by default),
``unit_packages`` (the top-level packages whose modules a payload may name, in its workflow,
context managers or anywhere else: ``eopf`` and those of ``modules`` by default; ``["*"]``
allows any), ``warm``
(fork each run from a process that keeps EOPF imported: ``eopf_warm``), and ``id``, ``title``,
``description``, ``version``, ``keywords``.

Locations (``s3_config_dir``, ``s3_report_dir``) are checked at submission by the service's
location policy, and again on the worker; the locations the payload names are checked there
against the same policy before EOPF runs (``eopf_locations``). The configuration folder is
copied without following links that leave it and without devices or FIFOs; reports never
overwrite a file already in ``s3_report_dir``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dpr.adapters.processors import eopf_locations as locations
from dpr.adapters.processors import eopf_payload as payloads
from dpr.adapters.processors import eopf_storage as storage
from dpr.adapters.processors.eopf_cluster import MODES, plan_for
from dpr.adapters.processors.eopf_env import EopfEnvironment
from dpr.adapters.processors.eopf_run import (
    EOPF_SPAN,
    EopfOutput,
    RunFolder,
    written_products,
)
from dpr.adapters.processors.eopf_tasktables import load_task_table, unit_modules
from dpr.adapters.processors.eopf_warm import run_warm
from dpr.adapters.subprocess_runner import default_grace, run_command
from dpr.domain.errors import ProcessorError
from dpr.domain.locations import LOCATION_FORMAT
from dpr.domain.process import InputDescription as In
from dpr.domain.process import JobControl, ProcessDescription
from dpr.domain.process import OutputDescription as Out
from dpr.ports.processor import Processor, ProcessorContext

TEXT = {"type": "string"}
DEFAULT_MAX_COPY_BYTES = 2**30  # a configuration folder holds a payload and a few auxiliary files
PRODUCTS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["id", "path"],
        "properties": {"id": TEXT, "path": TEXT, "engine": TEXT, "unit": TEXT},
    },
}
INPUTS = {
    "s3_config_dir": In(
        title="Configuration folder",
        description="Folder holding the payload and its configuration files: "
        "s3://bucket/prefix, a local path or a file:// URL, where this server allows it.",
        schema={**TEXT, "minLength": 1, "format": LOCATION_FORMAT},
    ),
    "payload_subpath": In(
        title="Payload file",
        description="The EOPF triggering payload (YAML), relative to the configuration folder.",
        schema={**TEXT, "minLength": 1},
    ),
    "s3_report_dir": In(
        title="Reports folder",
        description="Where the run's reports/ folder is copied (s3://... or a local path, where this "
        "server allows it); files already there are never overwritten.",
        schema={**TEXT, "format": LOCATION_FORMAT},
        minOccurs=0,
    ),
    "experimental_config": In(
        title="Experimental configuration",
        description="Merged into the payload: general_configuration settings (plain values) and "
        "local_cluster (enabled runs EOPF on a LocalCluster); nothing else.",
        schema=payloads.EXPERIMENTAL_SCHEMA,
        minOccurs=0,
    ),
}


class EopfProcessor(Processor):
    """Runs EOPF triggering payloads from a configured EOPF environment."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.environment = EopfEnvironment(venv=options.get("venv"), python=options.get("python"))
        self.dask: str = str(options.get("dask", "job_cluster"))
        if self.dask not in MODES:
            raise ValueError(f"option 'dask' must be one of {', '.join(MODES)}, not {self.dask!r}")
        self.local_cluster: dict[str, Any] = dict(options.get("local_cluster") or {})
        self.extra_env: dict[str, str] = {str(k): str(v) for k, v in (options.get("env") or {}).items()}
        self.cancel_grace: float | None = options.get("cancel_grace")
        self.max_copy_bytes = int(options.get("max_copy_bytes", DEFAULT_MAX_COPY_BYTES))
        self.warm = bool(options.get("warm", False))
        table = options.get("task_table")
        self.table_ref: str | None = None if table is None else str(table)
        modules = options.get("modules")
        self.modules: list[str] = list(modules) if modules is not None else self._table_modules()
        packages = options.get("unit_packages")
        self.unit_packages = frozenset(
            [str(p) for p in packages] if packages is not None else ["eopf", *(m.split(".")[0] for m in self.modules)]
        )

    def unavailable(self) -> str | None:
        """Why this process cannot run here (for the administrator), or None when it can."""
        return self.environment.problem(self.modules)

    def describe(self) -> ProcessDescription:
        text = str(self.options.get("description", "Runs an EOPF triggering payload (eopf trigger local)."))
        text = self.environment.describe(text, self.modules, self.options.get("requires"))
        return ProcessDescription(
            id=str(self.options.get("id", "eopf")),
            version=str(self.options.get("version", "1.0.0")),
            title=self.options.get("title", "EOPF processor"),
            description=text,
            keywords=["dpr", "eopf", *self.options.get("keywords", [])],
            jobControlOptions=[JobControl.ASYNC, JobControl.DISMISS],
            inputs=INPUTS,
            outputs={
                "products": Out(
                    title="Products written",
                    description="Output products the run wrote, checked to exist.",
                    schema=PRODUCTS,
                ),
                "reports": Out(
                    title="Reports folder",
                    description="Where the reports were copied, when s3_report_dir was given.",
                    schema=TEXT,
                ),
            },
        )

    def task_table(self) -> dict[str, Any] | None:
        return None if self.table_ref is None else load_task_table(self.table_ref)

    def run(self, inputs: Mapping[str, Any], context: ProcessorContext) -> dict[str, Any]:
        self.environment.require(self.modules)
        folder, subpath = _text(inputs, "s3_config_dir"), _text(inputs, "payload_subpath")
        reports_to = str(inputs.get("s3_report_dir") or "") or None
        env, policy = dict(context.env), context.locations
        inside = policy.allow_internal_urls
        for field, location in (("s3_config_dir", folder), ("s3_report_dir", reports_to)):
            if location:
                locations.check_input(policy, field, location)  # again: a link or a host may have changed
        with RunFolder(context.job_id, self.options.get("work_dir")) as run:
            context.progress(1, f"fetching the configuration folder {folder}")
            skipped = storage.fetch_folder(folder, run.config, env, self.max_copy_bytes, allow_internal=inside)
            if skipped:
                context.log(f"not copied (links leaving the folder, devices, FIFOs): {', '.join(skipped)}", "WARNING")
            payload_file = run.payload_file(subpath)
            reports = payload_file.parent / "reports"
            reports.mkdir(exist_ok=True)
            try:
                products = self._trigger(payload_file, inputs.get("experimental_config"), run, context)
            except BaseException:
                _upload_quietly(reports, reports_to, env, context)
                raise
            if reports_to:
                context.log(f"uploading the reports to {reports_to}")
                kept = storage.upload_folder(reports, reports_to, env, allow_internal=inside)
                _log_kept(kept, reports_to, context)
        return {"products": products, **({"reports": reports_to} if reports_to else {})}

    def _trigger(
        self, payload_file: Path, experimental: Any, run: RunFolder, context: ProcessorContext
    ) -> list[dict[str, Any]]:
        """Run ``eopf trigger local`` on the prepared payload; the products it wrote."""
        payload, plan = self._prepare(payload_file, experimental or {}, run)
        workdir = payload_file.parent
        policy = context.locations
        locations.check_payload(payload, policy, workdir, context.env, own_dask=plan.kind == "payload")
        self.environment.require(_unit_packages(payload))  # a package not installed: say so first
        refused = payloads.refused_module(payload, self.unit_packages)
        if refused is not None:
            raise ProcessorError(
                f"payload field {refused[0]!r}: module {refused[1]!r} is not from a package this process runs "
                f"({', '.join(sorted(self.unit_packages))}; process option 'unit_packages')"
            )
        output = EopfOutput(
            context, payloads.secret_values(payload), workdir / "reports" / f"{payload_file.stem}.processor.log"
        )
        try:
            output.log(plan.describe())
            shown = payload_file.relative_to(run.config.resolve())  # its content is never logged
            output.log(f"running payload {shown} ({payload_file.stat().st_size} bytes)")
            context.progress(EOPF_SPAN[0], "running EOPF")
            child = self.environment.child_env(context.env, self.extra_env, str(run.home))
            args = ("trigger", "local", "--working-dir", str(workdir), str(payload_file))
            if self.warm:
                grace = default_grace.get() if self.cancel_grace is None else self.cancel_grace
                assert self.environment.python is not None  # require() checked it
                run_warm(
                    self.environment.python,
                    args,
                    output,
                    folder=run.root,
                    cwd=str(workdir),
                    env=child,
                    cancel_grace=grace,
                )
            else:
                run_command(
                    self.environment.command(*args), output, cwd=str(workdir), env=child, cancel_grace=self.cancel_grace
                )
            context.progress(EOPF_SPAN[1], "checking the written products")
            return written_products(payload, output.report, workdir, child, allow_internal=policy.allow_internal_urls)
        finally:
            output.close()

    def _prepare(
        self, payload_file: Path, experimental: Any, run: RunFolder
    ) -> tuple[dict[str, Any], payloads.DaskPlan]:
        """The payload rewritten for this run (and written back where ``eopf`` reads it)."""
        if not isinstance(experimental, Mapping):
            raise ProcessorError("experimental_config must be an object")
        try:
            payload = payloads.load_payload(payload_file.read_text(encoding="utf-8"))
            plan = plan_for(self.dask, self.local_cluster, run.home / "tls")
            prepared = payloads.prepare(payload, plan, experimental)
        except ValueError as e:
            raise ProcessorError(f"{payload_file.name}: {e}") from None
        payload_file.write_text(payloads.dump_payload(prepared), encoding="utf-8")
        return prepared, payloads.effective_plan(plan, experimental)

    def _table_modules(self) -> list[str]:
        if self.table_ref is None:
            return []
        try:
            return unit_modules(load_task_table(self.table_ref))
        except (OSError, ValueError):
            return []  # task_table() reports it where the catalog is built


def _upload_quietly(reports: Path, location: str | None, env: Mapping[str, str], context: ProcessorContext) -> None:
    """Upload the reports of a failed or dismissed run; a failure here is only logged."""
    if location:
        try:
            kept = storage.upload_folder(reports, location, env, allow_internal=context.locations.allow_internal_urls)
            _log_kept(kept, location, context)
        except ProcessorError as e:
            context.log(e.reason, level="ERROR")


def _log_kept(kept: list[str], location: str, context: ProcessorContext) -> None:
    if kept:
        context.log(f"reports already in {location} were not overwritten: {', '.join(kept)}", "WARNING")


def _unit_packages(payload: Mapping[str, Any]) -> list[str]:
    """The top-level packages of the payload's processing units other than EOPF's own: found
    without importing anything (a unit's module would import its package, seconds for EOPF)."""
    workflow = payload.get("workflow") or []
    modules = [str(unit.get("module") or "") for unit in workflow if isinstance(unit, Mapping)]
    return sorted({m.split(".")[0] for m in modules if m} - {"eopf"})


def _text(inputs: Mapping[str, Any], name: str) -> str:
    value = inputs.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ProcessorError(f"input {name!r} is required: a non-empty string")
    return value.strip()
