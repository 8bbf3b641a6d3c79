"""The pure model of dpr: jobs and their lifecycle, processes, execute requests, OGC documents.

Nothing in this package does I/O or imports a framework.
"""
