"""Finding and building processors from their import paths."""

from __future__ import annotations

import importlib
from functools import lru_cache

import msgspec

from dpr.domain.errors import ProcessorError
from dpr.domain.run import ProcessorRef
from dpr.ports.processor import Processor


def import_target(target: str) -> type[Processor]:
    """The class named by ``"package.module:ClassName"``; raises ``ProcessorError``."""
    module_name, _, class_name = target.partition(":")
    if not module_name or not class_name:
        raise ProcessorError(f"processor {target!r} is not of the form 'package.module:ClassName'")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as e:
        raise ProcessorError(f"processor {target!r} cannot be loaded: {e}") from None
    if not (isinstance(cls, type) and issubclass(cls, Processor)):
        raise ProcessorError(f"processor {target!r} does not implement the Processor port")
    return cls


@lru_cache(maxsize=256)
def _cached(target: str, options_json: bytes) -> Processor:
    return import_target(target)(**msgspec.json.decode(options_json))


def load_processor(ref: ProcessorRef) -> Processor:
    """A processor built from ``ref`` (cached per worker process: building may be costly)."""
    return _cached(ref.target, msgspec.json.encode(ref.options, order="sorted"))
