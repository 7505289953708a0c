"""Pages and their opaque cursors: a cursor is what a page continues after, base64 so that no client
mistakes it for an id; one this service could not have issued is refused (ValueError).

page = first_of(docs, limit, key=layout.ID, read=layout.customer_view)   # one more read: a next page
after = decode_cursor(page.next, str)
"""

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from query_service.read_model.layout import Document

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: str | None


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, parse: Callable[[str], T]) -> T:
    """An opaque cursor back to what it continues after; anything else raises ValueError."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        return parse(raw.decode())
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"not a cursor this service issued: {cursor!r}") from None


def in_range(value: int, low: int, high: int) -> int:
    """``value`` from a cursor, if the service could have issued it (``low`` to ``high``); a forged
    one far outside made a page read bucket after bucket (81 s for one query; issue 20)."""
    if not low <= value <= high:
        raise ValueError(f"not a cursor this service issued: position {value} is outside {low}..{high}")
    return value


def first_of(
    docs: list[Document], limit: int, key: str, read: Callable[[Document], T], more: bool | None = None
) -> Page[T]:
    """The first ``limit`` of ``docs``; a next page where ``more`` says so, or, by default, where one
    more than ``limit`` was read. (A next page may turn out empty: the last has no cursor.)"""
    items = docs[:limit]
    more = len(docs) > limit if more is None else more
    after = encode_cursor(str(items[-1][key])) if more and items else None
    return Page([read(doc) for doc in items], after)
