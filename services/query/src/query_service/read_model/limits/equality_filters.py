"""FerretDB v1 limit: only equality filters reach the database; ranges, sorts and limits do not.

FerretDB v1 filters with ``_jsonb->'field' @> value``, pushes only equality down to PostgreSQL (no
range, no sort, no limit when there is a filter) and sorts in memory (docs/servers.md, FerretDB's lookups and
pages): a page read as "after X, sorted, first 50" reads and sorts every match, and grows with the
read model (bench/scale.py). So a list is read by equality on buckets of layout.BUCKET_SIZE:

- the preferred customers are numbered in the order they became preferred (``preferred_seq``,
  ``preferred_bucket``; numbers from whole_document_updates.ClaimedNumbers), and a page reads one
  or two buckets. A rebuild meets the streams in id order, not in time order, so it defers the
  numbering (NumberedLists.defer) and numbers them all, in time order, once every stream is in.
- an account's history is kept in one document per bucket of 50 versions, a page reads one or two.

On MongoDB, ``preferred_at`` and an account's transactions would be indexed and paged with a range,
a sort and a limit: no numbering, no buckets.
"""

from collections.abc import Callable
from typing import Any
from uuid import UUID

from pymongo.asynchronous.collection import AsyncCollection

from cqrs_contracts import CustomerView, TransactionView
from query_service.read_model import layout
from query_service.read_model.cache import ViewCache
from query_service.read_model.changes import DocumentChange, Numbered
from query_service.read_model.cursors import Page, decode_cursor, encode_cursor, first_of, in_range
from query_service.read_model.layout import Document
from query_service.read_model.limits.whole_document_updates import ClaimedNumbers

Collections = Callable[[str], AsyncCollection[Document]]


def buckets_per_page(limit: int) -> int:
    """The most buckets one page reads: enough for ``limit`` items and a few sparse buckets; a page
    that stops there ends with a cursor where it stopped."""
    return limit // layout.BUCKET_SIZE + 3


class NumberedLists:
    """Places in the numbered lists (changes.Numbered) of one generation."""

    def __init__(self, collections: Collections, cache: Callable[[], ViewCache[Any]]) -> None:
        self._collections = collections
        self._cache = cache
        self.numbers = ClaimedNumbers(collections(layout.COUNTERS))
        # While a rebuild fills this generation, a document that joins a list is not numbered at once
        # (streams arrive in id order, not in time order): number_deferred numbers them all, in the
        # order they joined, once every stream is in.
        self.defer = False

    async def fields(self, change: DocumentChange) -> dict[str, Any]:
        """What ``change`` sets for its place in a list: its number, or, deferred, when it joined."""
        if change.numbered is None:
            return {}
        if self.defer:
            return {change.numbered.waiting_field: change.fields[layout.UPDATED_AT]}
        return change.numbered.numbers(await self.numbers.reserve(change.numbered.counter, 1))

    async def number_deferred(self, collection: str, numbered: Numbered) -> int:
        """Stop deferring; number the documents of ``collection`` that wait for a number in
        ``numbered``'s list, in the order they joined it (one pass; call again until it finds none,
        for applies in flight when it began). Returns how many it numbered."""
        self.defer = False
        where = {numbered.waiting_field: {"$exists": True}}
        documents = self._collections(collection)
        waiting = sorted(
            [(doc[numbered.waiting_field], doc[layout.ID]) async for doc in documents.find(where)]
        )
        first = await self.numbers.reserve(numbered.counter, len(waiting)) if waiting else 0
        for seq, (_, doc_id) in enumerate(waiting, start=first):
            with self._cache().writing((collection, doc_id)):
                await documents.update_one(
                    {layout.ID: doc_id},
                    {"$set": numbered.numbers(seq), "$unset": {numbered.waiting_field: ""}},
                )
        return len(waiting)


class BucketPages:
    """The lists read bucket by bucket: preferred customers, an account's history."""

    def __init__(self, collections: Collections, numbers: ClaimedNumbers) -> None:
        self._customers = collections(layout.CUSTOMERS)
        self._transactions = collections(layout.TRANSACTIONS)
        self._accounts = collections(layout.ACCOUNTS)
        self._numbers = numbers

    async def preferred_customers(self, limit: int, after: str | None) -> Page[CustomerView]:
        """Preferred customers in the order they became preferred, read bucket by bucket."""
        top = await self._numbers.last(layout.PREFERRED_COUNTER)
        last = -1 if after is None else in_range(decode_cursor(after, int), 0, top)
        docs: list[Document] = []
        bucket = (last + 1) // layout.BUCKET_SIZE
        end = min(top // layout.BUCKET_SIZE, bucket + buckets_per_page(limit) - 1)
        # Up to ``limit`` only: the counter tells whether more follow, so no extra bucket is read for it.
        while bucket <= end and len(docs) < limit:
            where = layout.exists({layout.PREFERRED_BUCKET: bucket})
            found = sorted(await self._customers.find(where).to_list(None), key=_seq)
            docs += [doc for doc in found if doc[layout.PREFERRED_SEQ] > last]
            bucket += 1
        if not docs and bucket <= top // layout.BUCKET_SIZE:
            # Sparse buckets used up this page's reads: the next page goes on from here.
            return Page([], encode_cursor(str(bucket * layout.BUCKET_SIZE - 1)))
        more = len(docs) > limit or (bool(docs) and docs[-1][layout.PREFERRED_SEQ] < top)
        return first_of(docs, limit, layout.PREFERRED_SEQ, layout.customer_view, more)

    async def transactions(
        self, account_id: UUID, limit: int, after: str | None, version: int | None = None
    ) -> Page[TransactionView]:
        """An account's transactions, newest first, read bucket by bucket from the newest (the
        account's ``version``, when the caller has it, saves looking it up)."""
        account = str(account_id)
        if version is None:
            found = await self._accounts.find_one({layout.ID: account}, {layout.VERSION: 1})
            version = int(layout.field_of(found, layout.VERSION) or 0)
        below = version + 1 if after is None else in_range(decode_cursor(after, int), 1, version)
        items: list[tuple[int, str]] = []
        bucket = layout.bucket_of(below - 1)
        last_bucket = max(0, bucket - buckets_per_page(limit) + 1)
        while bucket >= last_bucket and len(items) <= limit:
            found = await self._transactions.find_one({layout.ID: layout.history_bucket(account, bucket)})
            items += sorted((item for item in layout.history_items(found) if item[0] < below), reverse=True)
            bucket -= 1
        shown = items[:limit]
        after = encode_cursor(str(shown[-1][0])) if len(items) > limit else None
        if after is None and bucket >= 0:
            # Sparse buckets used up this page's reads: the next page goes on below them.
            after = encode_cursor(str((bucket + 1) * layout.BUCKET_SIZE))
        return Page([layout.transaction_view(version, line) for version, line in shown], after)


def _seq(doc: Document) -> int:
    return int(doc[layout.PREFERRED_SEQ])
