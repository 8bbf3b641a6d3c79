"""The Litestar HTTP app: OGC API - Processes routes over the job service."""
