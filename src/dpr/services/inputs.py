"""Checking execute requests against their process, and resolving inputs given by reference."""

from __future__ import annotations

from typing import Any

from dpr.domain.execute import ExecuteRequest, ResponseMode, decode_fetched, is_reference
from dpr.domain.process import ProcessCatalog
from dpr.domain.validation import RequestValidator
from dpr.ports.reference_fetcher import ReferenceFetcher


class Inputs:
    """One validator per process (built on first use), and the fetcher for ``href`` inputs."""

    def __init__(
        self,
        catalog: ProcessCatalog,
        fetcher: ReferenceFetcher | None = None,
        response_default: ResponseMode = ResponseMode.RAW,
    ) -> None:
        self.catalog, self.fetcher, self.response_default = catalog, fetcher, response_default
        self._validators: dict[str, RequestValidator] = {}

    def validator(self, process_id: str) -> RequestValidator:
        if process_id not in self._validators:
            self._validators[process_id] = RequestValidator(self.catalog.get(process_id), self.response_default)
        return self._validators[process_id]

    def parse(self, process_id: str, body: bytes | str | dict[str, Any] | None) -> ExecuteRequest:
        """The validated request. Raises ``NoSuchProcess``, ``InvalidInput``."""
        return self.validator(process_id).parse(body)

    async def resolve(self, process_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """The values a processor gets: qualified values unwrapped (``dpr.domain.qualified``),
        every ``{"href": ...}`` replaced by the content it points to, checked against the
        input's schema. Without a fetcher, references pass through unchanged."""
        validator = self.validator(process_id)
        if self.fetcher is None:
            return validator.plain_inputs(inputs)
        resolved: dict[str, Any] = {}
        for name, value in inputs.items():
            items = value if isinstance(value, list) and any(is_reference(v) for v in value) else None
            if items is not None:
                resolved[name] = [await self._fetch_one(validator, name, v) for v in items]
            else:
                resolved[name] = await self._fetch_one(validator, name, value)
        return validator.plain_inputs(resolved)

    async def close(self) -> None:
        if self.fetcher is not None:
            await self.fetcher.close()

    async def _fetch_one(self, validator: RequestValidator, name: str, value: Any) -> Any:
        if not is_reference(value):
            return value
        assert self.fetcher is not None
        fetched = await self.fetcher.fetch(value["href"])
        content = decode_fetched(fetched.content, fetched.media_type, name)
        validator.check_value(name, content)
        return content
