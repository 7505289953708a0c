-- No planner statistics for the columns no query filters, joins or sorts on: the documents (an
-- event's data, a stream's state, a command's reply) and the tracing text. ANALYZE samples up to
-- 30,000 rows and, for each column with a target, sorts the sample's values; for these it was most
-- of the work and told the planner nothing. Measured on this project's 2-core machine, with the
-- tables of a 12-minute soak (43,000 events, 35,000 streams, 43,000 results), where autovacuum
-- analyzes each table about once a minute and its runs showed as lag spikes (docs/performance.md,
-- "The soak's lag spikes"): events 885 -> 270 ms, command_results 285-456 -> 110 ms, streams
-- 290-372 -> 108 ms. Queries keep every statistic they use (ids, versions, positions, stream types).
ALTER TABLE events
    ALTER COLUMN data SET STATISTICS 0,
    ALTER COLUMN correlation_id SET STATISTICS 0,
    ALTER COLUMN causation_id SET STATISTICS 0,
    ALTER COLUMN traceparent SET STATISTICS 0;
ALTER TABLE streams ALTER COLUMN state SET STATISTICS 0;
ALTER TABLE command_results ALTER COLUMN reply SET STATISTICS 0;
