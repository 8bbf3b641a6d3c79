"""Drivers of dpr: the HTTP app, the CLI, and the container that wires adapters to ports."""
