"""Processors that ship with dpr."""
