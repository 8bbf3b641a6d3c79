"""Run at start-up by every Python process the tests start (tests/conftest.py puts this folder
on PYTHONPATH): servers and CLIs under test import what dpr installed by `make run` imports.

The test tools bring jsonschema's optional rfc3987_syntax, whose import costs 2 s of CPU in
each process; production has it not, and jsonschema works without it.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]
