-- How many streams each stream owns (a customer's accounts), counted by the statement that creates
-- an owned stream, on the owner's row: the domain's bound on accounts per customer is read with the
-- customer and held exactly under concurrent openings (store.py, _OWNER).
ALTER TABLE streams ADD COLUMN owned integer NOT NULL DEFAULT 0 CHECK (owned >= 0);

-- Accounts opened before this migration, counted once from their state.
UPDATE streams AS customer SET owned = accounts.n
FROM (
    SELECT (state->>'customer_id')::uuid AS customer_id, count(*)::int AS n
    FROM streams WHERE stream_type = 'account' GROUP BY 1
) AS accounts
WHERE customer.stream_id = accounts.customer_id;
