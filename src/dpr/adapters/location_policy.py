"""The location policy: the domain's prefix rule, plus what only I/O can tell (symbolic links
of local paths, the addresses of http(s) hosts)."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections.abc import Mapping, Sequence

from dpr.adapters.url_guard import Resolver, check_url, is_internal, parse_url, system_resolver
from dpr.domain.errors import InvalidInput
from dpr.domain.locations import Location, LocationPolicy, LocationRules, check_location, parse_location
from dpr.ports.location_guard import LocationGuard


class PolicyLocationGuard(LocationGuard):
    """Allows a location when the deployment's ``rules`` and the process's own (``per_process``,
    when it has some) allow it; a local path must still be allowed once its symbolic links are
    resolved, an http(s) URL must pass the SSRF guard."""

    def __init__(
        self,
        rules: LocationRules | None = None,
        per_process: Mapping[str, LocationRules] | None = None,
        *,
        allow_internal_urls: bool = False,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.rules, self.per_process = rules or LocationRules(), dict(per_process or {})
        self.allow_internal_urls, self.resolver = allow_internal_urls, resolver

    async def check(self, process_id: str, field: str, location: str) -> None:
        rules = [self.rules, *([self.per_process[process_id]] if process_id in self.per_process else [])]
        parsed = check_location(location, field, rules)
        if parsed.scheme == "file":
            real = await asyncio.to_thread(os.path.realpath, parsed.path)
            if real != parsed.path:
                check_location(real, field, await asyncio.to_thread(_with_real_roots, rules))
        elif parsed.scheme in ("http", "https"):
            try:
                await check_url(location, allow_internal=self.allow_internal_urls, resolver=self.resolver)
            except InvalidInput as e:
                raise InvalidInput(e.reason, field) from None


def check_on_worker(policy: LocationPolicy, field: str, location: str) -> Location:
    """The same checks as ``PolicyLocationGuard.check``, blocking, for a location a processor
    learns on the worker (or checks again there): raises ``InvalidInput`` naming ``field``.
    An http(s) host's addresses are those of this moment: a connection must still go only to
    checked addresses (``guarded_fsspec``)."""
    parsed = check_location(location, field, policy.rules)
    if parsed.scheme == "file":
        real = os.path.realpath(parsed.path)
        if real != parsed.path:
            check_location(real, field, _with_real_roots(policy.rules))
    elif parsed.scheme in ("http", "https") and not policy.allow_internal_urls:
        try:
            parts = parse_url(location, what="location")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            addresses = _addresses(str(parts.hostname), port)
        except InvalidInput as e:
            raise InvalidInput(e.reason, field) from None
        except OSError as e:
            raise InvalidInput(f"location {location!r}: cannot resolve its host ({e.strerror or e})", field) from None
        if not addresses or any(is_internal(a) for a in addresses):
            raise InvalidInput(f"location {location!r} points to an internal address; this server refuses those", field)
    return parsed


def _addresses(host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _with_real_roots(rules: Sequence[LocationRules]) -> list[LocationRules]:
    """``rules`` with their local roots' own symbolic links resolved (``/data`` may be one)."""
    return [LocationRules(allow=tuple(_real_prefix(p) for p in rule.allow)) for rule in rules]


def _real_prefix(prefix: str) -> str:
    location = parse_location(prefix, allow_any_authority=True)
    return f"file://{os.path.realpath(location.path)}" if location.scheme == "file" else prefix
