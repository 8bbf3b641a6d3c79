"""A client's payload makes EOPF import only modules of the packages its process runs."""

from __future__ import annotations

import pytest

from dpr.adapters.processors.eopf_payload import imported_modules, refused_module

PAYLOAD = {
    "workflow": [
        {"module": "eopf.computing.utils", "processing_unit": "EOImageGeneratorUnit", "name": "gen"},
        {"module": "l0.s1.units", "processing_unit": "S1L0", "name": "l0"},
    ],
    "context_managers": [{"module": "eopf.dask_utils.dask_context_manager", "context_manager": "DaskContext"}],
    "general_configuration": {"logging": {"handlers": [{"module": "os"}]}},
}


def test_every_module_the_payload_names_is_found_with_its_field():
    assert imported_modules(PAYLOAD) == [
        ("workflow[0].module", "eopf.computing.utils"),
        ("workflow[1].module", "l0.s1.units"),
        ("context_managers[0].module", "eopf.dask_utils.dask_context_manager"),
        ("general_configuration.logging.handlers[0].module", "os"),
    ]


@pytest.mark.parametrize(
    ("packages", "refused"),
    [
        (frozenset({"eopf"}), ("workflow[1].module", "l0.s1.units")),
        (frozenset({"eopf", "l0"}), ("general_configuration.logging.handlers[0].module", "os")),
        (frozenset({"*"}), None),
    ],
)
def test_the_first_module_outside_the_allowed_packages_is_refused(packages, refused):
    assert refused_module(PAYLOAD, packages) == refused


def test_a_payload_that_imports_subprocess_is_refused_by_default():
    payload = {"workflow": [{"module": "subprocess", "processing_unit": "Popen", "parameters": {"args": ["id"]}}]}
    assert refused_module(payload, frozenset({"eopf", "l0"})) == ("workflow[0].module", "subprocess")
