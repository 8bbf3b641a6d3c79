"""The ASGI module for servers (``uvicorn dpr.entrypoints.asgi:app``): the only module that
builds an app at import, from ``DPR_CONFIG`` (dpr's YAML or rs-dpr-service's geoapi.yaml)
and ``DPR_*`` variables."""

from __future__ import annotations

import os

from dpr.adapters.geoapi_config import load_config
from dpr.entrypoints.http.app import create_app

app = create_app(load_config(os.environ.get("DPR_CONFIG") or None), serving=True)
