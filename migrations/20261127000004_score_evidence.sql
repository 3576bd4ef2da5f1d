-- The evidence behind each flag (the numbers the scorer judged by), as a JSON array of {reason, evidence}, so
-- a slash can be explained without reading the round's manifest from IPFS.
ALTER TABLE scores ADD COLUMN evidence TEXT NOT NULL DEFAULT '[]';
