"""AMQP frames carrying what RabbitMQ lets through but no ordinary client sends (issue 20).

pamqp marshals ordinary properties with placeholders; the placeholders' bytes are then swapped for
hostile ones of the same length (a length prefix stays true), so the frames are byte-exact:

    frames = publish_frames(1, "cqrs.commands", "CreateCustomer", body, timestamp=2**62)
"""

import struct
from datetime import UTC, datetime
from typing import cast

from pamqp import commands, frame, header
from pamqp.body import ContentBody

PLACEHOLDER_TIME = datetime(2020, 1, 1, tzinfo=UTC)
_PLACEHOLDER_SECONDS = struct.pack(">Q", 1577836800)
BAD_UTF8 = b"\xff\xfe\xfd\xfc"  # no UTF-8 text holds these bytes
_TEXT_PLACEHOLDER = "\x01\x02\x03\x04"  # same length as BAD_UTF8


def content_header(
    body_size: int,
    *,
    timestamp: int | None = None,
    bad_text_in: str | None = None,
    bad_header_key: bool = False,
    deep: int = 0,
    small_negative: bool = False,
    properties: dict[str, object] | None = None,
) -> bytes:
    """A content header frame on channel 1. ``timestamp``: seconds since the epoch, any 64-bit number;
    ``bad_text_in``: a property (message_id, correlation_id, reply_to, type, ...) whose text is not
    UTF-8; ``bad_header_key``: a header named with bytes that are not UTF-8; ``deep``: a header
    holding tables nested that deep; ``small_negative``: a header holding -31 as a short-short int,
    which pamqp decodes and cannot encode again."""
    given = dict(properties or {})
    headers: dict[str, object] = dict(cast(dict[str, object], given.get("headers") or {}))
    if timestamp is not None:
        given["timestamp"] = PLACEHOLDER_TIME
    if bad_text_in is not None:
        given[bad_text_in] = _TEXT_PLACEHOLDER
    if bad_header_key:
        headers[_TEXT_PLACEHOLDER] = "x"
    if small_negative:
        headers["small-negative"] = 100
    nested = deep_headers(deep - 1) if deep else b""
    if deep:
        headers["deep"] = "\x05" * len(nested)
    if headers:
        given["headers"] = headers
    props = commands.Basic.Properties(**given)  # type: ignore[arg-type]
    data = frame.marshal(header.ContentHeader(0, body_size, props), 1)
    if timestamp is not None:
        data = data.replace(_PLACEHOLDER_SECONDS, struct.pack(">Q", timestamp), 1)
    if small_negative:
        data = data.replace(b"small-negativeb\x64", b"small-negativeb\xe1", 1)
    if deep:
        size = struct.pack(">I", len(nested))
        data = data.replace(b"S" + size + b"\x05" * len(nested), b"F" + size + nested, 1)
    if bad_text_in is not None or bad_header_key:
        data = data.replace(_TEXT_PLACEHOLDER.encode(), BAD_UTF8)
    return data


def deep_headers(depth: int) -> bytes:
    """The content of a field table holding a table holding ... ``depth`` levels down (encoded by
    hand: pamqp's encoder would recurse as deep)."""
    inner = b""
    for _ in range(depth):
        table = b"\x01kF" + struct.pack(">I", len(inner)) + inner
        inner = table
    return inner


def publish_frames(exchange: str, routing_key: str, body: bytes, header_frame: bytes) -> bytes:
    """Basic.Publish + ``header_frame`` + the body, all on channel 1."""
    method = frame.marshal(commands.Basic.Publish(exchange=exchange, routing_key=routing_key), 1)
    return method + header_frame + frame.marshal(ContentBody(body), 1)
