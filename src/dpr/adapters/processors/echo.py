"""``echo``: the conformance-test process. Returns what it is given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dpr.domain.process import (
    InputDescription as In,
)
from dpr.domain.process import (
    JobControl,
    ProcessDescription,
    Transmission,
)
from dpr.domain.process import (
    OutputDescription as Out,
)
from dpr.ports.processor import Processor, ProcessorContext

BBOX_SCHEMA = {
    "type": "object",
    "required": ["bbox"],
    "properties": {
        "bbox": {
            "type": "array",
            "oneOf": [{"minItems": 4, "maxItems": 4}, {"minItems": 6, "maxItems": 6}],
            "items": {"type": "number"},
        },
        "crs": {"type": "string", "format": "uri", "default": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
    },
}


class EchoProcessor(Processor):
    """Echoes its inputs. ``pause`` seconds of sleep make it long enough to dismiss."""

    def describe(self) -> ProcessDescription:
        return ProcessDescription(
            id="echo",
            version="1.0.0",
            title="Echo",
            description="Returns its inputs unchanged: the process the OGC test suite exercises.",
            keywords=["test", "echo"],
            jobControlOptions=[JobControl.SYNC, JobControl.ASYNC, JobControl.DISMISS],
            outputTransmission=[Transmission.VALUE, Transmission.REFERENCE],
            inputs={
                "echo": In(title="Text to echo", schema={"type": "string"}),
                "pause": In(
                    title="Seconds to wait before answering",
                    schema={"type": "integer", "minimum": 0, "maximum": 3600},
                    minOccurs=0,
                ),
                "number": In(title="A number", schema={"type": "number"}, minOccurs=0),
                "array": In(
                    title="An array of integers", schema={"type": "array", "items": {"type": "integer"}}, minOccurs=0
                ),
                "object": In(title="An object", schema={"type": "object"}, minOccurs=0),
                "mixed": In(
                    title="A string or a number",
                    schema={"oneOf": [{"type": "string"}, {"type": "number"}]},
                    minOccurs=0,
                ),
                "bbox": In(title="A bounding box", schema=BBOX_SCHEMA, minOccurs=0),
                "binary": In(
                    title="Binary content, base64",
                    schema={
                        "type": "string",
                        "contentEncoding": "base64",
                        "contentMediaType": "application/octet-stream",
                    },
                    minOccurs=0,
                ),
            },
            outputs={
                "echo": Out(title="The echoed text", schema={"type": "string"}),
                "inputs": Out(title="Every input received", schema={"type": "object"}),
                "mixed": Out(
                    title="The mixed input, echoed (when given)",
                    schema={"oneOf": [{"type": "string"}, {"type": "number"}]},
                ),
            },
        )

    def run(self, inputs: Mapping[str, Any], context: ProcessorContext) -> dict[str, Any]:
        context.sleep(float(inputs.get("pause") or 0))
        context.log(f"echoing {len(inputs)} input(s)")
        outputs = {"echo": inputs["echo"], "inputs": dict(inputs)}
        if "mixed" in inputs:
            outputs["mixed"] = inputs["mixed"]
        return outputs
