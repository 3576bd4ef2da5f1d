-- Who drives what, among coordinator replicas sharing this database: one row per duty (`task:<id>` for a task's
-- round engine, `chain:<account>` for the indexer and the chain writer of one account), held by one replica until
-- `expires_at_ms`. The holder renews it on every pass; a replica that dies stops renewing, and once the lease has
-- expired another takes it over. Taking and renewing are one compare-and-set each.
CREATE TABLE leases (
    name          TEXT   PRIMARY KEY,
    holder        TEXT   NOT NULL,
    expires_at_ms BIGINT NOT NULL
);

-- A nonce goes to one transaction: should two replicas ever send from one account at once (a lease that lapsed
-- mid-send), the second to record a nonce already sent or mined fails here instead of replacing the first.
CREATE UNIQUE INDEX chain_txs_one_per_nonce ON chain_txs (nonce) WHERE state IN ('sent', 'mined');
