"""The EOPF task tables dpr ships (JSON data, read with importlib.resources)."""
