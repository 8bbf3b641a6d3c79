"""The interfaces dpr's core needs from the outside world: one ABC per module."""
