"""Use cases: what dpr does, orchestrated through ports."""
