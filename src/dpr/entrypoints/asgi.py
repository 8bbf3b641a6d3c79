"""The ASGI module for servers (``uvicorn dpr.entrypoints.asgi:app``): the only module that
builds an app at import, from ``DPR_CONFIG`` (a YAML file) and ``DPR_*`` variables."""

from __future__ import annotations

import os

from dpr.adapters.config import load_settings
from dpr.entrypoints.http.app import create_app

app = create_app(load_settings(os.environ.get("DPR_CONFIG") or None))
