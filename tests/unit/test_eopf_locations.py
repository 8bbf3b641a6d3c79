"""Which strings of an EOPF payload name locations, and how the worker judges them (the
end-to-end attacks are in tests/security/test_eopf_inputs.py)."""

from __future__ import annotations

import pytest

from dpr.adapters.processors.eopf_locations import check_payload, payload_locations
from dpr.domain.errors import ProcessorError
from dpr.domain.locations import LocationPolicy, LocationRules

POLICY = LocationPolicy(rules=(LocationRules(allow=("s3://bucket/dpr", "file:///data")),))


def test_every_string_is_walked_with_its_field_and_whether_its_key_holds_paths():
    payload = {
        "io": {"output_products": [{"id": "o", "path": "out.zarr"}]},
        "config": ["c.yaml"],
        "workflow": [{"module": "eopf.x", "parameters": {"n": 3}}],
        "context_managers": [{"module": "m"}],
    }
    assert list(payload_locations(payload, skip=("context_managers",))) == [
        ("io.output_products[0].id", "o", False),
        ("io.output_products[0].path", "out.zarr", True),
        ("config[0]", "c.yaml", True),
        ("workflow[0].module", "eopf.x", False),
    ]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"io": {"adfs": [{"path": "$ROOT/passwd"}]}}, "io.adfs[0].path"),  # ROOT=/etc in the run's env
        ({"io": {"adfs": [{"path": "~/.aws/credentials"}]}}, "io.adfs[0].path"),
        ({"breakpoints": {"folder": "s3://bucket/dpr-other"}}, "breakpoints.folder"),
        ({"logging": ["../../../etc/logging.yaml"]}, "logging[0]"),
        ({"io": {"input_products": [{"path": "memory://x"}]}}, "io.input_products[0].path"),
        ({"io": {"input_products": [{"path": "simplecache::https://example.org/p"}]}}, "io.input_products[0].path"),
    ],
)
def test_a_location_the_policy_refuses_fails_naming_its_field(tmp_path, payload, field):
    with pytest.raises(ProcessorError, match=rf"payload field '{field}'".replace("[", r"\[").replace("]", r"\]")):
        check_payload(payload, POLICY, tmp_path, {"ROOT": "/etc"}, own_dask=False)


def test_allowed_locations_relative_paths_inside_the_folder_and_plain_text_pass(tmp_path):
    payload = {
        "io": {
            "input_products": [{"path": "zip::s3://bucket/dpr/in.zip"}, {"path": "$DATA/in.zarr"}],
            "output_products": [{"path": "out/result.zarr"}, {"path": "file:///data/out.zarr"}],
        },
        "general_configuration": {"logging__format": "%(name)s::%(message)s", "note": "see a/b"},
        "dask_context": {"cluster_config": {"address": "tcp://10.0.0.1:8786"}},  # dpr replaces it
    }
    check_payload(payload, POLICY, tmp_path, {"DATA": "/data"}, own_dask=False)
    with pytest.raises(ProcessorError, match="dask_context"):  # kept as the payload says: checked
        check_payload(payload, POLICY, tmp_path, {"DATA": "/data"}, own_dask=True)
