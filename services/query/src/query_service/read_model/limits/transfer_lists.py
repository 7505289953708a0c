"""FerretDB v1 limit (equality_filters.py): only equality reaches the database, so the transfers
list newest first by numbered buckets, and the stuck ones are read by equality on ``open``.

- every transfer is numbered in the order it was requested (``transfer_seq``, ``transfer_bucket``,
  changes.TRANSFER_LIST): a page reads one bucket after another from the newest, at most
  equality_filters.buckets_per_page of them, as the preferred customers do.
- a stuck transfer is an open one (requested or debited) requested before a cut-off. ``open`` is
  true only until a transfer ends, so the read costs what the transfers in flight cost, never what
  all of them do: the equality on ``open`` is pushed down (its GIN companion, infra/ferretdb), the
  cut-off and the order are applied by the server in memory over the open ones; the reply is one
  page. A pair whose process manager runs has a handful open at any time.

On MongoDB: an index on ``requested_at`` for the list and {open, requested_at} for the stuck ones,
each paged with a range, a sort and a limit: no numbering, no buckets.
"""

from datetime import datetime
from uuid import UUID

from pymongo import DESCENDING

from cqrs_contracts import TransferView
from query_service.read_model import layout
from query_service.read_model.cursors import Page, decode_cursor, encode_cursor, first_of, in_range
from query_service.read_model.layout import Document
from query_service.read_model.limits.equality_filters import Collections, buckets_per_page
from query_service.read_model.limits.no_decimal128 import transfer_of
from query_service.read_model.limits.whole_document_updates import ClaimedNumbers


class TransferPages:
    """The transfers of one generation: one by id, all newest first, and the stuck ones."""

    def __init__(self, collections: Collections, numbers: ClaimedNumbers) -> None:
        self._transfers = collections(layout.TRANSFERS)
        self._numbers = numbers

    async def transfer(self, transfer_id: UUID) -> TransferView | None:
        doc = await self._transfers.find_one(layout.exists({layout.ID: str(transfer_id)}))
        return None if doc is None else transfer_of(doc)

    async def newest(self, limit: int, after: str | None) -> Page[TransferView]:
        """Every transfer, newest first (by the order they were requested), bucket by bucket."""
        top = await self._numbers.last(layout.TRANSFER_COUNTER)
        below = top + 1 if after is None else in_range(decode_cursor(after, int), 0, top)
        docs: list[Document] = []
        bucket = (below - 1) // layout.BUCKET_SIZE
        last_bucket = max(0, bucket - buckets_per_page(limit) + 1)
        while below > 0 and bucket >= last_bucket and len(docs) <= limit:
            where = layout.exists({layout.TRANSFER_BUCKET: bucket})
            found = await self._transfers.find(where).to_list(None)
            docs += sorted((doc for doc in found if _seq(doc) < below), key=_seq, reverse=True)
            bucket -= 1
        if not docs and bucket >= 0 and below > 0:
            # Sparse buckets used up this page's reads: the next page goes on below them.
            return Page([], encode_cursor(str((bucket + 1) * layout.BUCKET_SIZE)))
        more = len(docs) > limit or (bucket >= 0 and below > 0 and bool(docs))
        return first_of(docs, limit, layout.TRANSFER_SEQ, transfer_of, more)

    async def stuck(self, requested_before: datetime, limit: int, after: str | None) -> Page[TransferView]:
        """Open transfers requested before ``requested_before``, newest first."""
        where: Document = {layout.OPEN: True, layout.REQUESTED_AT: {"$lt": requested_before}}
        if after is not None:
            where[layout.TRANSFER_SEQ] = {"$lt": decode_cursor(after, int)}
        cursor = self._transfers.find(layout.exists(where)).sort(layout.TRANSFER_SEQ, DESCENDING)
        docs = await cursor.limit(limit + 1).to_list(limit + 1)
        return first_of(docs, limit, layout.TRANSFER_SEQ, transfer_of)


def _seq(doc: Document) -> int:
    return int(doc[layout.TRANSFER_SEQ])
