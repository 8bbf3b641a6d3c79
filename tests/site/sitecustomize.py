"""Run at start-up by every Python process the tests start (tests/conftest.py puts this folder
on PYTHONPATH, and runs this file in the test process itself): servers, CLIs and tests import
what dpr installed by `make run` imports.

The test tools (jupyterhub's jupyter-events, openapi-schema-validator) bring jsonschema's
optional format checkers; production has none of them, and jsonschema works without them (it
leaves those formats unchecked). Importing them costs: rfc3987_syntax builds a grammar (2 s of
CPU in each process), rfc3986_validator compiles a large regular expression (0.2 s).

Only rfc3987_syntax is kept out of every process. The others only out of those that run on the
tests' own interpreter (dpr's servers and CLIs): the clients the tests drive from venvs of their
own (cuiman, OWSLib...) may need them for themselves (cuiman imports uri_template).
"""

import os
import sys

EVERYWHERE = ("rfc3987_syntax",)
ABSENT_IN_PRODUCTION = (
    "rfc3986_validator",
    "rfc3339_validator",
    "isoduration",
    "webcolors",
    "uri_template",
    "fqdn",
)

_ours = os.environ.setdefault("DPR_TESTS_PREFIX", sys.prefix) == sys.prefix
for _name in EVERYWHERE + (ABSENT_IN_PRODUCTION if _ours else ()):
    sys.modules.setdefault(_name, None)  # type: ignore[assignment]
