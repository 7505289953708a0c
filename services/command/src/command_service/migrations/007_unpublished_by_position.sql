-- The relay reads the unpublished events in position order (store._UNPUBLISHED: ORDER BY position
-- LIMIT). The index of unpublished events was on seq, so PostgreSQL took the ordered index on every
-- position instead, from the first event ever numbered, and filtered out the published ones: in
-- make bench's lag figure, 7,100-7,800 buffers touched per round with 10,000 events in the table,
-- growing with every event published (docs/performance.md, change 15). An index of the unpublished
-- events in position order holds what a round reads and nothing more; it also serves the outbox's
-- count (store.outbox). It is built here in the migration's transaction, which blocks writes to
-- events while it reads the table: seconds on millions of events, once.
CREATE INDEX events_unpublished_by_position ON events (position) WHERE published_at IS NULL;
DROP INDEX events_unpublished;
