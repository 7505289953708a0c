-- The transfer process manager's durable state (command_service/process): one row per transfer,
-- moved only by the events the process consumes (and its commands' refusals), row-locked while it
-- moves so that replicas take turns on one transfer.
CREATE TABLE transfer_processes (
    transfer_id     uuid          PRIMARY KEY,
    from_account_id uuid          NOT NULL,
    to_account_id   uuid          NOT NULL,
    amount          numeric       NOT NULL CHECK (amount > 0),
    reference       text          NOT NULL,
    stage           text          NOT NULL,
    reason          text,
    withdrawal      uuid,
    deposit         uuid,
    -- The message its stage's command answers (causation), in which conversation and trace.
    correlation_id  text          NOT NULL,
    traceparent     text,
    cause           text          NOT NULL,
    -- The sweeper gives the stage's command again from due_at on (NULL once done), attempts times.
    attempts        integer       NOT NULL DEFAULT 0,
    due_at          timestamptz,
    started_at      timestamptz   NOT NULL DEFAULT now(),
    updated_at      timestamptz   NOT NULL DEFAULT now()
);

CREATE INDEX transfer_processes_due ON transfer_processes (due_at) WHERE due_at IS NOT NULL;
