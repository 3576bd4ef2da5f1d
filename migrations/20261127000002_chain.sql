-- What the coordinator knows of the chain: the transaction outbox, and the event indexer's cursor, events and the
-- worker and claim state it derives from them. The indexer's tables have no foreign keys: it may start from any block.

CREATE TABLE workers (
    task_id          BIGINT NOT NULL,
    worker           TEXT   NOT NULL,
    stake            TEXT   NOT NULL,
    status           TEXT   NOT NULL CHECK (status IN ('active', 'exited')),
    joined_at_block  BIGINT NOT NULL,
    -- The block of the event this row reflects; an upsert from an older block is ignored.
    updated_at_block BIGINT NOT NULL,
    CONSTRAINT workers_pkey PRIMARY KEY (task_id, worker)
);

CREATE TABLE claims (
    task_id            BIGINT NOT NULL,
    worker             TEXT   NOT NULL,
    cumulative_claimed TEXT   NOT NULL,
    last_tx_hash       TEXT   NOT NULL,
    block_number       BIGINT NOT NULL,
    CONSTRAINT claims_pkey PRIMARY KEY (task_id, worker)
);

-- Named counters, incremented inside the transaction that uses the value: ids stay dense and portable (neither
-- dialect's auto-increment syntax is the other's), and the row lock serialises concurrent writers.
CREATE TABLE counters (
    name  TEXT   NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL
);

INSERT INTO counters (name, value) VALUES ('chain_txs', 0);

-- The outbox: every transaction is recorded before it is sent, and reconciled after.
CREATE TABLE chain_txs (
    id              BIGINT NOT NULL PRIMARY KEY,
    idempotency_key TEXT   NOT NULL,
    kind            TEXT   NOT NULL,
    task_id         BIGINT,
    round           BIGINT,
    payload         TEXT   NOT NULL,
    state           TEXT   NOT NULL CHECK (state IN ('pending', 'sent', 'mined', 'failed', 'replaced')),
    nonce           BIGINT,
    tx_hash         TEXT,
    block_number    BIGINT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at_ms   BIGINT NOT NULL,
    updated_at_ms   BIGINT NOT NULL,
    CONSTRAINT chain_txs_idempotency_key_key UNIQUE (idempotency_key)
);

CREATE INDEX chain_txs_state_idx ON chain_txs (state, id);
CREATE INDEX chain_txs_task_idx ON chain_txs (task_id, round);

-- The last block the indexer has fully recorded (one row).
CREATE TABLE chain_cursor (
    id           BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    block_number BIGINT NOT NULL
);

CREATE TABLE chain_events (
    block_number BIGINT NOT NULL,
    log_index    BIGINT NOT NULL,
    tx_hash      TEXT   NOT NULL,
    kind         TEXT   NOT NULL,
    task_id      BIGINT,
    data         TEXT   NOT NULL,
    CONSTRAINT chain_events_pkey PRIMARY KEY (block_number, log_index)
);

CREATE INDEX chain_events_task_idx ON chain_events (task_id, block_number, log_index);
