-- The coordinator's own state: tasks, rounds, submissions, scores and reputations.
-- One dialect for SQLite and PostgreSQL: BIGINT, TEXT and DOUBLE PRECISION only; token amounts are decimal TEXT,
-- addresses, hashes and signatures lowercase 0x-hex TEXT, CIDs TEXT, times unix milliseconds, JSON TEXT.

CREATE TABLE tasks (
    task_id                BIGINT NOT NULL PRIMARY KEY,
    requester              TEXT   NOT NULL,
    coordinator            TEXT   NOT NULL,
    reward_token           TEXT   NOT NULL,
    reward_pool            TEXT   NOT NULL,
    stake_required         TEXT   NOT NULL,
    num_rounds             BIGINT NOT NULL,
    max_workers            BIGINT NOT NULL,
    submission_window_secs BIGINT NOT NULL,
    model_architecture_id  TEXT   NOT NULL,
    initial_model_cid      TEXT   NOT NULL,
    status                 TEXT   NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'running', 'ended', 'cancelled')),
    -- The latest round started; 0 before the first (rounds count from 1, as on chain).
    current_round          BIGINT NOT NULL DEFAULT 0,
    created_at_ms          BIGINT NOT NULL,
    config                 TEXT   NOT NULL DEFAULT '{}'
);

CREATE TABLE rounds (
    task_id                  BIGINT NOT NULL REFERENCES tasks (task_id),
    round                    BIGINT NOT NULL,
    phase                    TEXT   NOT NULL
        CHECK (phase IN ('collecting', 'aggregating', 'publishing', 'finalizing', 'finalized')),
    global_model_cid         TEXT   NOT NULL,
    deadline_ms              BIGINT NOT NULL,
    new_model_cid            TEXT,
    manifest_cid             TEXT,
    rewards_root             TEXT,
    cumulative_rewards_total TEXT,
    metrics                  TEXT,
    -- Submissions accepted so far; the next one gets this as its sequence number.
    submission_count         BIGINT NOT NULL DEFAULT 0,
    started_at_ms            BIGINT NOT NULL,
    finalized_at_ms          BIGINT,
    CONSTRAINT rounds_pkey PRIMARY KEY (task_id, round)
);

CREATE TABLE submissions (
    task_id           BIGINT NOT NULL,
    round             BIGINT NOT NULL,
    worker            TEXT   NOT NULL,
    sequence          BIGINT NOT NULL,
    update_cid        TEXT   NOT NULL,
    num_samples       BIGINT NOT NULL,
    signature         TEXT   NOT NULL,
    digest            TEXT   NOT NULL,
    received_at_ms    BIGINT NOT NULL,
    receipt_signature TEXT,
    CONSTRAINT submissions_pkey PRIMARY KEY (task_id, round, worker),
    CONSTRAINT submissions_sequence_key UNIQUE (task_id, round, sequence),
    CONSTRAINT submissions_digest_key UNIQUE (digest),
    FOREIGN KEY (task_id, round) REFERENCES rounds (task_id, round)
);

CREATE TABLE scores (
    task_id      BIGINT           NOT NULL,
    round        BIGINT           NOT NULL,
    worker       TEXT             NOT NULL,
    score        DOUBLE PRECISION NOT NULL,
    reward       TEXT             NOT NULL,
    flags        TEXT             NOT NULL DEFAULT '[]',
    slashed      TEXT             NOT NULL DEFAULT '0',
    slash_reason TEXT,
    CONSTRAINT scores_pkey PRIMARY KEY (task_id, round, worker),
    FOREIGN KEY (task_id, round) REFERENCES rounds (task_id, round)
);

CREATE INDEX scores_worker_idx ON scores (task_id, worker, round);

CREATE TABLE reputations (
    task_id       BIGINT           NOT NULL REFERENCES tasks (task_id),
    worker        TEXT             NOT NULL,
    reputation    DOUBLE PRECISION NOT NULL,
    participation TEXT             NOT NULL DEFAULT '{}',
    -- The last round whose scores this reputation includes, so a replayed round is not counted twice.
    as_of_round   BIGINT           NOT NULL,
    CONSTRAINT reputations_pkey PRIMARY KEY (task_id, worker)
);
