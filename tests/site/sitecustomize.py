"""Run at start-up by every Python process the tests start (tests/conftest.py puts this folder
on PYTHONPATH, and runs this file in the test process itself): servers, CLIs and tests import
what dpr installed by `make run` imports.

The test tools (jupyterhub's jupyter-events, openapi-schema-validator) bring jsonschema's
optional format checkers; production has none of them, and jsonschema works without them (it
leaves those formats unchecked). Importing them costs: rfc3987_syntax builds a grammar (2 s of
CPU in each process), rfc3986_validator compiles a large regular expression (0.2 s).
"""

import sys

ABSENT_IN_PRODUCTION = (
    "rfc3987_syntax",
    "rfc3986_validator",
    "rfc3339_validator",
    "isoduration",
    "webcolors",
    "uri_template",
    "fqdn",
)

for _name in ABSENT_IN_PRODUCTION:
    sys.modules.setdefault(_name, None)  # type: ignore[assignment]
