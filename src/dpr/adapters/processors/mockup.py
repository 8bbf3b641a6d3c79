"""``mockup``: a simulated DPR processor, like the original rs-dpr-service's mockup."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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

STEPS = 10


class MockupProcessor(Processor):
    """Pretends to process a product in ten steps over ``duration`` seconds."""

    def describe(self) -> ProcessDescription:
        return ProcessDescription(
            id="mockup",
            version="1.0.0",
            title="DPR mockup processor",
            description="Simulates a DPR processing chain: ten steps with progress and log lines, then mock products.",
            keywords=["dpr", "mockup", "test"],
            jobControlOptions=[JobControl.ASYNC, JobControl.SYNC, JobControl.DISMISS],
            inputs={
                "duration": In(
                    title="Seconds the simulated processing takes",
                    schema={"type": "number", "minimum": 0, "maximum": 86400, "default": 5},
                    minOccurs=0,
                ),
                "fail": In(
                    title="Fail on purpose half way",
                    schema={"type": "boolean", "default": False},
                    minOccurs=0,
                ),
                "product_type": In(
                    title="Product type to pretend to write",
                    schema={"type": "string", "default": "S1SEWRAW", "pattern": "^[A-Z0-9_]{3,32}$"},
                    minOccurs=0,
                ),
                # rs-dpr-service's execution fields: accepted so its clients work unchanged;
                # the mockup only logs them.
                "s3_config_dir": In(
                    title="Folder of the EOPF payload (ignored by the mockup)", schema={"type": "string"}, minOccurs=0
                ),
                "payload_subpath": In(
                    title="Payload file in that folder (ignored)", schema={"type": "string"}, minOccurs=0
                ),
                "s3_report_dir": In(title="Where reports would go (ignored)", schema={"type": "string"}, minOccurs=0),
                "experimental_config": In(
                    title="Extra EOPF configuration (ignored)", schema={"type": "object"}, minOccurs=0
                ),
                "use_mockup": In(title="Run the mockup (always true here)", schema={"type": "boolean"}, minOccurs=0),
            },
            outputs={
                "products": Out(
                    title="The mock products written",
                    schema={"type": "array", "items": {"type": "object"}},
                )
            },
        )

    def run(self, inputs: Mapping[str, Any], context: ProcessorContext) -> dict[str, Any]:
        duration = float(inputs.get("duration", 5))
        product_type = str(inputs.get("product_type", "S1SEWRAW"))
        context.log(f"mockup: processing {product_type} for {duration:g} s")
        for name in ("s3_config_dir", "payload_subpath", "s3_report_dir"):
            if name in inputs:
                context.log(f"mockup: {name} = {inputs[name]}")
        for step in range(1, STEPS + 1):
            context.sleep(duration / STEPS)
            if inputs.get("fail") and step == STEPS // 2:
                context.log("mockup: failing on request", level="ERROR")
                raise ProcessorError(f"mockup failed on request at step {step} of {STEPS}")
            context.progress(step * 100 // STEPS, f"step {step} of {STEPS}")
            context.log(f"mockup: step {step}/{STEPS} done")
        product = {
            "id": f"{product_type}_{context.job_id[:8]}",
            "type": product_type,
            "path": f"mock://{context.job_id}/{product_type}.zarr",
        }
        return {"products": [product]}
