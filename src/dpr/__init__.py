"""dpr: run Earth-observation data processors as jobs behind OGC API - Processes."""

__version__ = "0.1.0"
