-- Why the round engine could not take a task further, while it cannot: one row per failing task (the fault as
-- JSON: the error, failures in a row, when they began, when to retry), deleted once a step of that task succeeds
-- again. The engine goes on with every other task and retries this one later, backing off as failures repeat.
CREATE TABLE task_faults (
    task_id BIGINT PRIMARY KEY REFERENCES tasks (task_id),
    fault   TEXT   NOT NULL
);
