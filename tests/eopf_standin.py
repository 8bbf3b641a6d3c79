"""Stand-ins for the EOPF processors of rs-dpr-service (the real ones run ``eopf trigger``):
they take the original's execution fields as inputs, have a task table, log what they got."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dpr.domain.process import InputDescription as In
from dpr.domain.process import JobControl, ProcessDescription
from dpr.domain.process import OutputDescription as Out
from dpr.ports.processor import Processor, ProcessorContext

TEXT = {"type": "string"}
TASK_TABLE = {
    "tasktable": {"name": "stand-in-processor", "version": "1.0", "specification_version": "1.0_draftK"},
    "external_variables": ["start_datetime", "end_datetime"],
    "units": [
        {
            "name": "single_unit",
            "module": "l0.s1.stand_in",
            "input_products": [{"name": "S1ACADUS", "mode": "always", "mandatory": True}],
        }
    ],
    "pipelines": [{"name": "full", "description": "one step", "steps": [{"unit_name": "single_unit", "step_id": 1}]}],
}


class EopfStandIn(Processor):
    """Takes ``s3_config_dir``, ``payload_subpath``, ``s3_report_dir``, ``experimental_config``
    as an EOPF processor of the original does; "writes" one product under the config folder."""

    def describe(self) -> ProcessDescription:
        return ProcessDescription(
            id="s1_l0",
            title="EOPF stand-in",
            jobControlOptions=[JobControl.ASYNC, JobControl.DISMISS],
            inputs={
                "s3_config_dir": In(title="S3 folder of the payload and configuration", schema=TEXT),
                "payload_subpath": In(title="Payload file, relative to the folder", schema=TEXT),
                "s3_report_dir": In(title="S3 folder for the reports", schema=TEXT, minOccurs=0),
                "experimental_config": In(schema={"type": "object"}, minOccurs=0),
            },
            outputs={"products": Out(schema={"type": "array", "items": {"type": "object"}})},
        )

    def task_table(self) -> dict[str, Any] | None:
        return TASK_TABLE

    def run(self, inputs: Mapping[str, Any], context: ProcessorContext) -> dict[str, Any]:
        for name, value in sorted(inputs.items()):
            context.log(f"input {name} = {value!r}")
        context.log(f"environment: {sorted(context.env)}")
        folder = inputs["s3_config_dir"].rstrip("/")
        return {"products": [{"path": f"{folder}/output/S01SEWRAW.zarr", "payload": inputs["payload_subpath"]}]}


class ConversionStandIn(Processor):
    """The original's ``conv_safe_zarr``: a SAFE product path in, a Zarr folder out."""

    def describe(self) -> ProcessDescription:
        return ProcessDescription(
            id="conv_safe_zarr",
            jobControlOptions=[JobControl.ASYNC, JobControl.DISMISS],
            inputs={"input_safe_path": In(schema=TEXT), "output_zarr_dir_path": In(schema=TEXT)},
            outputs={"zarr": Out(schema=TEXT)},
        )

    def run(self, inputs: Mapping[str, Any], context: ProcessorContext) -> dict[str, Any]:
        name = inputs["input_safe_path"].rstrip("/").rsplit("/", 1)[-1].removesuffix(".SAFE")
        context.log(f"converting {inputs['input_safe_path']}")
        return {"zarr": f"{inputs['output_zarr_dir_path'].rstrip('/')}/{name}.zarr"}
