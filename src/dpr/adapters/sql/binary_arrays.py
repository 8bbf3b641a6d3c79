"""One-dimensional PostgreSQL arrays in binary, built here for the batched writes.

psycopg dumps a list parameter element by element in Python, and first walks the list to find
its element type (``get_key``, ``upgrade``): about 8 % of a server's CPU under async submission
went there for the batches of ``array_writes.py``, whose every array has a type known in
advance. Each column's values are built here into the array's binary form (PostgreSQL's
``array_send``: a header, the one dimension, then each element as its length and bytes, -1
for NULL) and handed to psycopg as an object whose dumper returns those bytes as they are.

Builds arrays without psycopg; psycopg is imported when dumpers are registered, so a server on
SQLite never loads it. The engine registers the dumpers on each connection
it opens (``engine.py``): registered with psycopg's global adapters instead, they would miss the
connections opened before this module was first imported.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from dpr.adapters.sql.timestamps import to_micros

if TYPE_CHECKING:
    from psycopg.adapt import AdaptersMap, Dumper

_NULL = b"\xff\xff\xff\xff"
_LENGTH = struct.Struct(">i").pack
_INT4 = struct.Struct(">ii").pack  # an int4 element: its length (4) and its value
_INT8 = struct.Struct(">iq").pack  # an int8 or timestamptz element: its length (8) and its value
_HEADER = struct.Struct(">iiiii").pack  # dimensions, has nulls, element type, length, lower bound
# PostgreSQL counts timestamps in microseconds from 2000-01-01 UTC, not from the Unix epoch.
_POSTGRES_EPOCH_MICROS = 946_684_800 * 1_000_000


class BinaryArray:
    """An array already in PostgreSQL's binary form (of the subclass's array type)."""

    __slots__ = ("data",)
    element_oid: ClassVar[int]

    def __init__(self, data: bytes) -> None:
        self.data = data

    @classmethod
    def of(cls, values: Sequence[Any]) -> BinaryArray:
        """The array of ``values`` (``None``: NULL). Raises ``UnicodeEncodeError`` for text
        UTF-8 cannot encode (a lone surrogate), ``ValueError`` for a naive time."""
        elements = cls._elements(values)
        has_null = 1 if None in values else 0
        if not values:
            return cls(struct.pack(">iii", 0, 0, cls.element_oid))
        return cls(_HEADER(1, has_null, cls.element_oid, len(values), 1) + elements)

    @classmethod
    def _elements(cls, values: Sequence[Any]) -> bytes:
        raise NotImplementedError


class TextArray(BinaryArray):
    __slots__ = ()
    element_oid = 25

    @classmethod
    def _elements(cls, values: Sequence[Any]) -> bytes:
        parts: list[bytes] = []
        for value in values:
            if value is None:
                parts.append(_NULL)
            else:
                data = value.encode()
                parts.append(_LENGTH(len(data)))
                parts.append(data)
        return b"".join(parts)


class JsonArray(TextArray):
    """Documents already encoded as JSON text."""

    __slots__ = ()
    element_oid = 114


class _FixedWidth(BinaryArray):
    """Elements of one width, each a number packed after its length."""

    __slots__ = ()
    _pack: ClassVar[Callable[[int, int], bytes]]
    _width: ClassVar[int]

    @classmethod
    def _elements(cls, values: Sequence[Any]) -> bytes:
        pack, width, number = cls._pack, cls._width, cls._number
        return b"".join(_NULL if value is None else pack(width, number(value)) for value in values)

    @staticmethod
    def _number(value: Any) -> int:
        return int(value)


class Int4Array(_FixedWidth):
    __slots__ = ()
    element_oid = 23
    _pack, _width = _INT4, 4


class Int8Array(_FixedWidth):
    __slots__ = ()
    element_oid = 20
    _pack, _width = _INT8, 8


class TimestamptzArray(Int8Array):
    """Aware datetimes (a naive one raises ``ValueError``, as binding it would)."""

    __slots__ = ()
    element_oid = 1184

    @staticmethod
    def _number(value: Any) -> int:
        return to_micros(value) - _POSTGRES_EPOCH_MICROS


ARRAY_OIDS = {TextArray: 1009, JsonArray: 199, Int4Array: 1007, Int8Array: 1016, TimestamptzArray: 1185}
"""Each kind's array type (``text[]``, ``json[]``, ``int4[]``, ``int8[]``, ``timestamptz[]``)."""


def _dumper(array_oid: int) -> type[Dumper]:
    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    class Prebuilt(Dumper):
        format = Format.BINARY
        oid = array_oid

        def dump(self, obj: Any) -> bytes:
            data: bytes = obj.data
            return data

    return Prebuilt


_DUMPERS: dict[type[BinaryArray], type[Dumper]] = {}


def register_dumpers(adapters: AdaptersMap) -> None:
    """Let a connection (or cursor) with these adapters send the arrays built here."""
    if not _DUMPERS:
        _DUMPERS.update({kind: _dumper(oid) for kind, oid in ARRAY_OIDS.items()})
    for kind, dumper in _DUMPERS.items():
        adapters.register_dumper(kind, dumper)
