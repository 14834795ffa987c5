"""Assertions on the errors pymilvus raises: Milvus's code and message, exactly."""

from contextlib import contextmanager

import pytest
from pymilvus import MilvusException


@contextmanager
def milvus_error(code, message=None, contains=()):
    """Expects a MilvusException with `code`; `message` is the full text, `contains` substrings."""
    with pytest.raises(MilvusException) as info:
        yield info
    err = info.value
    assert err.code == code, f"code {err.code} != {code}: {err.message!r}"
    if message is not None:
        assert err.message == message
    for part in (contains,) if isinstance(contains, str) else contains:
        assert part in err.message, f"{part!r} not in {err.message!r}"


@contextmanager
def milvus_error_any(*variants):
    """Expects a MilvusException matching one (code, full message) variant: Milvus 2.5 and the
    2.6.x releases word some errors differently, and any of them is faithful."""
    with pytest.raises(MilvusException) as info:
        yield info
    got = (info.value.code, info.value.message)
    assert got in variants, f"{got!r} is none of {variants!r}"
