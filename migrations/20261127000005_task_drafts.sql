-- Initial models the dashboard prepared for a requester's wallet. The checkpoint is derived from the
-- architecture and the seed, so it is published to IPFS only once a task on chain names its CID: a draft that is
-- never sent costs a row, not a pinned object.
CREATE TABLE task_drafts (
    initial_model_cid TEXT PRIMARY KEY,
    architecture TEXT NOT NULL,
    seed BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    published_at_ms BIGINT
);
