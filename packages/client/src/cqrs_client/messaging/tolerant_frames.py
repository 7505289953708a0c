"""pamqp's frame decoder made to survive what RabbitMQ lets through; installed once per process.

RabbitMQ passes message properties on without checking them, and pamqp 3.3 (under aiormq, under
aio-pika) raises on some of them inside the connection's frame reader, where no handler of ours runs:
the channel dies, cannot reopen while the message waits at the head of its queue, and a restarted
service meets it again (issue 20: one command with a timestamp past year 9999 stopped the write side
until the queue was purged). What raised, and what these decoders do instead:

- a timestamp past year 9999 (AMQP allows any 64-bit number): ``UNREADABLE_TIMESTAMP``, which the
  screen (screening.py) refuses as ``malformed_message``;
- a short string or a header key that is not UTF-8: decoded with U+FFFD in place of each bad byte;
- header tables and arrays nested past ``MAX_DEPTH`` (RecursionError at ~1,000 levels; a 128 KiB
  frame holds ~25,000): the too-deep value becomes the text ``TOO_DEEP``. Tables are also read by
  offset, where pamqp copied the rest of the frame for each field (quadratic in the field count).

The other way, pamqp cannot encode back every header value it decodes (a short-short int of -31 is
decoded, then refused by its encoder as an unsigned byte; struct.error): ``encodable`` makes a
received message's headers fit to be copied into a dead letter or a retry, or that copy failed and
the message was requeued for ever.

Everything else (lengths that run past the frame, unknown field types) still raises as in pamqp: that
is a broken frame, not a hostile value, and RabbitMQ does not forward one. With a pamqp that fixes
these upstream, ``install`` may go.
"""

import struct
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pamqp import decode, encode

MAX_DEPTH = 8
TOO_DEEP = "(nested too deep)"
# No epoch timestamp decodes to year 1, so this stands for "unreadable" and nothing else.
UNREADABLE_TIMESTAMP = datetime(1, 1, 1, tzinfo=UTC)
_MILLISECONDS_ABOVE = 0xFFFFFFFF  # pamqp's rule: a larger number is taken to be milliseconds
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")

Decoded = tuple[int, Any]


def timestamp(value: bytes) -> tuple[int, datetime]:
    """An AMQP timestamp, or UNREADABLE_TIMESTAMP where no datetime can hold it."""
    seconds: float = _U64.unpack_from(value, 0)[0]
    if seconds > _MILLISECONDS_ABOVE:
        seconds /= 1000.0
    try:
        return 8, datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return 8, UNREADABLE_TIMESTAMP


def short_str(value: bytes) -> tuple[int, str]:
    length = value[0]
    if len(value) < length + 1:
        raise ValueError("short string runs past the frame")
    return length + 1, value[1 : length + 1].decode("utf-8", "replace")


def field_table(value: bytes) -> Decoded:
    return _table(value, 0, 1)


def field_array(value: bytes) -> Decoded:
    return _array(value, 0, 1)


def _sized(data: bytes, offset: int) -> tuple[int, int]:
    """(start, end) of the length-prefixed block at ``offset``; ValueError if it runs past ``data``."""
    start = offset + 4
    end = start + _U32.unpack_from(data, offset)[0]
    if end > len(data):
        raise ValueError("a field table or array runs past the frame")
    return start, end


def _table(data: bytes, offset: int, depth: int) -> Decoded:
    """(bytes consumed, table) for the table at ``offset``."""
    start, end = _sized(data, offset)
    if depth > MAX_DEPTH:
        return end - offset, TOO_DEEP
    table: dict[str, Any] = {}
    at = start
    while at < end:
        key_length = data[at]
        key = data[at + 1 : at + 1 + key_length].decode("utf-8", "replace")
        at += 1 + key_length
        used, table[key] = _value(data, at, depth)
        at += used
    return end - offset, table


def _array(data: bytes, offset: int, depth: int) -> Decoded:
    start, end = _sized(data, offset)
    if depth > MAX_DEPTH:
        return end - offset, TOO_DEEP
    items: list[Any] = []
    at = start
    while at < end:
        used, item = _value(data, at, depth)
        items.append(item)
        at += used
    return end - offset, items


def _long_str(data: bytes, offset: int) -> Decoded:
    start, end = _sized(data, offset)
    raw = data[start:end]
    try:
        return end - offset, raw.decode("utf-8")
    except UnicodeDecodeError:
        return end - offset, raw  # as pamqp does: the bytes


def _byte_array(data: bytes, offset: int) -> Decoded:
    start, end = _sized(data, offset)
    return end - offset, bytearray(data[start:end])


# Every scalar of a table takes at most 9 bytes; pamqp decodes it from a slice that long.
_SCALAR_BYTES = 9


def _value(data: bytes, offset: int, depth: int) -> Decoded:
    """(bytes consumed with the tag, value) of the tagged field value at ``offset``."""
    tag = data[offset : offset + 1]
    sized = _SIZED.get(tag)
    if sized is not None:
        used, found = sized(data, offset + 1, depth)
        return used + 1, found
    scalar = decode.TABLE_MAPPING.get(tag)
    if scalar is None:
        raise ValueError(f"unknown field type {tag!r}")
    used, found = scalar(data[offset + 1 : offset + 1 + _SCALAR_BYTES])
    return used + 1, found


# The field types read here, by offset (data, where the value starts, the depth it is found at);
# every other type is a scalar that pamqp reads.
_SIZED: dict[bytes, Callable[[bytes, int, int], Decoded]] = {
    b"F": lambda data, at, depth: _table(data, at, depth + 1),
    b"A": lambda data, at, depth: _array(data, at, depth + 1),
    b"S": lambda data, at, _: _long_str(data, at),
    b"x": lambda data, at, _: _byte_array(data, at),
    b"T": lambda data, at, _: timestamp(data[at : at + 8]),
}


def encodable(headers: dict[str, Any]) -> dict[str, Any]:
    """``headers`` as they are where pamqp can encode them; else each value it cannot encode as its
    text (bounded), so that the rest of the message can be sent on."""
    try:
        encode.field_table(headers)
        return headers
    except (TypeError, ValueError, OverflowError, struct.error):
        pass
    fitted: dict[str, Any] = {}
    for key, value in headers.items():
        try:
            encode.field_table({key: value})
            fitted[key] = value
        except (TypeError, ValueError, OverflowError, struct.error):
            fitted[key] = repr(value)[:256]
    return fitted


def install() -> None:
    """Put these decoders in pamqp's tables (idempotent); before any connection is opened."""
    decode.METHODS.update(shortstr=short_str, timestamp=timestamp, table=field_table)
    decode.TABLE_MAPPING.update({b"T": timestamp, b"F": field_table, b"A": field_array})
    decode.field_table = field_table
    decode.field_array = field_array
    decode.timestamp = timestamp
    decode.short_str = short_str
