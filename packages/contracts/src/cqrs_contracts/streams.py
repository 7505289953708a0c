"""The kinds of stream (aggregate) the command side writes: the one place their names are spelled."""

from typing import Final, Literal

StreamType = Literal["customer", "account", "transfer"]

CUSTOMER: Final = "customer"
ACCOUNT: Final = "account"
TRANSFER: Final = "transfer"
