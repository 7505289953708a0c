"""The kinds of stream (aggregate) the command side writes: the one place their names are spelled.

An open set (docs/evolution.md): a new kind comes with event types of its own, and a reader that
does not know it sets its events aside (``events.unreadable``) and skips it in a list of streams.
"""

from typing import Final, Literal, get_args

from typing_extensions import TypeAliasType

# A named alias, so that the AsyncAPI document has one schema of it (components/schemas/StreamType),
# which the compatibility check treats as an open enum (asyncapi/compat.py: OPEN_ENUMS).
StreamType = TypeAliasType("StreamType", Literal["customer", "account", "transfer"])
STREAM_TYPES: Final[tuple[str, ...]] = get_args(StreamType.__value__)

CUSTOMER: Final = "customer"
ACCOUNT: Final = "account"
TRANSFER: Final = "transfer"
