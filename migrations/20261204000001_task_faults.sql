-- Why the round engine could not take a task further, while it cannot: one row per failing task, deleted once a
-- step of that task succeeds again. The engine goes on with every other task and retries this one from
-- `retry_at_ms`, backing off as failures repeat.
CREATE TABLE task_faults (
    task_id            BIGINT PRIMARY KEY REFERENCES tasks (task_id),
    message            TEXT   NOT NULL,
    failures           BIGINT NOT NULL,
    first_failed_at_ms BIGINT NOT NULL,
    last_failed_at_ms  BIGINT NOT NULL,
    retry_at_ms        BIGINT NOT NULL
);
