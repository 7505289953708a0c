-- The event store (which doubles as the outbox), current state per stream, and command results.

CREATE TABLE events (
    seq             bigserial PRIMARY KEY,
    event_id        uuid        NOT NULL UNIQUE,
    stream_type     text        NOT NULL,
    stream_id       uuid        NOT NULL,
    version         integer     NOT NULL CHECK (version > 0),
    type            text        NOT NULL,
    schema_version  integer     NOT NULL,
    data            jsonb       NOT NULL,
    correlation_id  text        NOT NULL,
    causation_id    text,
    traceparent     text,
    occurred_at     timestamptz NOT NULL,
    published_at    timestamptz,
    CONSTRAINT events_stream_version UNIQUE (stream_id, version)
);

-- The relay scans only what is still to publish; the index shrinks as events go out.
CREATE INDEX events_unpublished ON events (seq) WHERE published_at IS NULL;

CREATE TABLE streams (
    stream_id   uuid        PRIMARY KEY,
    stream_type text        NOT NULL,
    version     integer     NOT NULL CHECK (version > 0),
    state       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE command_results (
    command_id   uuid        PRIMARY KEY,
    command_type text        NOT NULL,
    reply        jsonb       NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
