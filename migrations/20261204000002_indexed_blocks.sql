-- Which chain the indexer followed: the hash of every block it took events from and of the last block of each
-- pass (the newest 1,024 of them are kept), and each event's block hash. A pass first compares the newest recorded
-- hash with the chain's: a reorganisation deeper than the confirmations the indexer waits for shows there, and the
-- indexer rolls back to the newest recorded block still on the chain and indexes the canonical blocks again.
CREATE TABLE indexed_blocks (
    block_number BIGINT NOT NULL PRIMARY KEY,
    block_hash   TEXT   NOT NULL
);

ALTER TABLE chain_events ADD COLUMN block_hash TEXT;
