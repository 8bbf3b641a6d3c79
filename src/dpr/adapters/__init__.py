"""Implementations of the ports: storage, executors, processors, configuration."""
