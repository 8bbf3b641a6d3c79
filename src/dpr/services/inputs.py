"""Checking execute requests against their process, and resolving inputs given by reference."""

from __future__ import annotations

from typing import Any

from dpr.domain.execute import ExecuteBody, ExecuteRequest, ResponseMode, decode_fetched, is_reference
from dpr.domain.locations import locations_in
from dpr.domain.process import ProcessCatalog
from dpr.domain.validation import RequestValidator
from dpr.ports.location_guard import LocationGuard
from dpr.ports.reference_fetcher import ReferenceFetcher


class Inputs:
    """One validator per process (built on first use), the fetcher for ``href`` inputs and the
    guard of the locations inputs name."""

    def __init__(
        self,
        catalog: ProcessCatalog,
        fetcher: ReferenceFetcher | None = None,
        locations: LocationGuard | None = None,
        response_default: ResponseMode = ResponseMode.RAW,
    ) -> None:
        self.catalog, self.fetcher, self.locations = catalog, fetcher, locations
        self.response_default = response_default
        self._validators: dict[str, RequestValidator] = {}

    def validator(self, process_id: str) -> RequestValidator:
        if process_id not in self._validators:
            self._validators[process_id] = RequestValidator(self.catalog.get(process_id), self.response_default)
        return self._validators[process_id]

    def check(self, process_id: str, body: ExecuteBody) -> ExecuteRequest:
        """The validated request. Raises ``NoSuchProcess``, ``InvalidInput``."""
        return self.validator(process_id).check(body)

    async def resolve(self, process_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """The values a processor gets: qualified values unwrapped (``dpr.domain.qualified``),
        every ``{"href": ...}`` replaced by the content it points to (checked against the
        input's schema), and every location they name allowed by the location guard. Without a
        fetcher, references pass through unchanged. Raises ``InvalidInput``."""
        resolved = inputs if self.fetcher is None else await self._fetch_all(process_id, inputs)
        plain = self.validator(process_id).plain_inputs(resolved)
        if self.locations is not None:
            for name, location in locations_in(self.catalog.get(process_id), plain):
                await self.locations.check(process_id, name, location)
        return plain

    async def _fetch_all(self, process_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
        validator = self.validator(process_id)
        resolved: dict[str, Any] = {}
        for name, value in inputs.items():
            items = value if isinstance(value, list) and any(is_reference(v) for v in value) else None
            if items is not None:
                resolved[name] = [await self._fetch_one(validator, name, v) for v in items]
            else:
                resolved[name] = await self._fetch_one(validator, name, value)
        return resolved

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
