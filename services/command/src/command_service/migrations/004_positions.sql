-- Every committed event's place in the global commit order of all streams: gap-free, from 1.
-- A sequence cannot give it (a bigserial is taken at insert, so transactions commit out of its order
-- and a rolled-back one leaves a hole); instead one writer at a time (the relay's leader, under an
-- advisory transaction lock: store.py, _POSITION) numbers the committed events that have none, in
-- seq order, after the highest position given. Its transaction sees only committed rows and commits
-- before the next numbering starts, so every reader sees positions 1..head with no hole, and an
-- event that commits late gets a later position, never an earlier one (tests/integration/
-- test_positions.py commits concurrently and reads while they commit).
ALTER TABLE events ADD COLUMN position bigint;
CREATE UNIQUE INDEX events_position ON events (position);
CREATE INDEX events_unpositioned ON events (seq) WHERE position IS NULL;

-- Events committed before this migration, numbered once in seq order.
UPDATE events SET position = numbered.n
FROM (SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM events) AS numbered
WHERE events.seq = numbered.seq;
