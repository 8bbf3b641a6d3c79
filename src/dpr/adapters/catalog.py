"""Building the process catalog from the configured process definitions."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec.structs import replace

from dpr.adapters.processor_loader import load_processor
from dpr.adapters.settings import ProcessDefinition, ProcessSettings
from dpr.domain.errors import ProcessorError
from dpr.domain.process import JobControl, ProcessCatalog, ProcessDescription
from dpr.domain.run import ProcessorRef

BUILTIN = [
    ProcessDefinition(id="echo", processor="dpr.adapters.processors.echo:EchoProcessor"),
    ProcessDefinition(
        id="mockup",
        processor="dpr.adapters.processors.mockup:MockupProcessor",
        job_control=[JobControl.ASYNC, JobControl.DISMISS],  # long-running: a job, never a held request
    ),
]


class CatalogError(Exception):
    """A process definition cannot be loaded; the message names the process."""


def ref_of(definition: ProcessDefinition) -> ProcessorRef:
    return ProcessorRef(
        target=definition.processor,
        options=dict(definition.options),
        env=list(definition.env),
        retries=definition.retries,
    )


def describe(definition: ProcessDefinition) -> ProcessDescription:
    """The processor's own description, under the id the configuration gives it."""
    try:
        description = load_processor(ref_of(definition)).describe()
    except ProcessorError as e:
        raise CatalogError(f"process {definition.id!r}: {e}") from None
    except (TypeError, ValueError, msgspec.ValidationError) as e:
        raise CatalogError(f"process {definition.id!r}: its processor cannot be built: {e}") from None
    description = description if description.id == definition.id else replace(description, id=definition.id)
    return with_job_control(definition, description)


def with_job_control(definition: ProcessDefinition, description: ProcessDescription) -> ProcessDescription:
    """The description with the execution modes the configuration gives it, if any."""
    if definition.job_control is None:
        return description
    modes = list(dict.fromkeys(definition.job_control))
    if JobControl.SYNC not in modes and JobControl.ASYNC not in modes:
        raise CatalogError(f"process {definition.id!r}: job_control must offer sync-execute or async-execute")
    return replace(description, jobControlOptions=modes)


def task_table(definition: ProcessDefinition) -> dict[str, Any] | None:
    """The processor's EOPF task table, if it has one (loaded after ``describe`` succeeded)."""
    try:
        table = load_processor(ref_of(definition)).task_table()
    except (ProcessorError, OSError, ValueError) as e:
        raise CatalogError(f"process {definition.id!r}: its task table cannot be read: {e}") from None
    if table is not None and not isinstance(table, dict):
        raise CatalogError(f"process {definition.id!r}: its task table is not a JSON object")
    return table


def build_catalog(settings: ProcessSettings) -> tuple[ProcessCatalog, dict[str, ProcessorRef]]:
    """The catalog (narrowed to ``enabled``) and where each process's processor lives."""
    definitions = settings.definitions or BUILTIN
    seen: set[str] = set()
    for d in definitions:
        if d.id in seen:
            raise CatalogError(f"process {d.id!r} is defined twice")
        seen.add(d.id)
    wanted = [d for d in definitions if settings.enabled is None or d.id in settings.enabled]
    descriptions = [describe(d) for d in wanted]
    tables = {d.id: t for d in wanted if (t := task_table(d)) is not None}
    catalog = ProcessCatalog(descriptions, task_tables=tables)
    return catalog, {d.id: ref_of(d) for d in wanted}
