"""The changes the read model takes: a document's fields set under its version gate, and a
place in a numbered list. Pure: the projections produce them, the store applies them."""

from dataclasses import dataclass, field
from typing import Any

from query_service.read_model import layout


@dataclass(frozen=True)
class DocumentChange:
    """Set ``fields`` on ``collection/doc_id`` when ``gate`` is ``version - 1``; then gate = version.

    Version 1 creates the document (or fills one that exists without the gate field). A ``shared``
    document holds many such version-1 changes (a history bucket): it usually exists already. So
    does a document that another stream's events made (``fills``: a customer's, where its account
    opens). The store fills either first and inserts it only where none is found.
    """

    collection: str
    doc_id: str
    gate: str
    version: int
    fields: dict[str, Any] = field(default_factory=dict)
    numbered: "Numbered | None" = None
    shared: bool = False
    fills: bool = False
    after: int | None = None
    """The gate the document must be at, when not ``version - 1``: several consecutive changes of one
    document made one (read_model/batches.py)."""

    @property
    def expected(self) -> int:
        return self.version - 1 if self.after is None else self.after


@dataclass(frozen=True)
class Numbered:
    """Put the document in a list that pages by bucket: the store sets ``seq_field`` to the next
    number of ``counter`` (0, 1, 2, ...) and ``bucket_field`` to that number // layout.BUCKET_SIZE.
    A change that turns out a duplicate or a gap spends a number: a bucket may hold fewer.

    While the store defers numbering (a rebuild), it sets ``waiting_field`` to when the document
    joined the list instead, and numbers the waiting ones in that order later."""

    counter: str
    seq_field: str
    bucket_field: str
    waiting_field: str

    def numbers(self, seq: int) -> dict[str, int]:
        """The fields of the document numbered ``seq``."""
        return {self.seq_field: seq, self.bucket_field: seq // layout.BUCKET_SIZE}


PREFERRED_LIST = Numbered(
    layout.PREFERRED_COUNTER, layout.PREFERRED_SEQ, layout.PREFERRED_BUCKET, layout.PREFERRED_AT
)
TRANSFER_LIST = Numbered(
    layout.TRANSFER_COUNTER, layout.TRANSFER_SEQ, layout.TRANSFER_BUCKET, layout.TRANSFER_LISTED_AT
)
