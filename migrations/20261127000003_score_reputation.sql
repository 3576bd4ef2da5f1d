-- Each score row also keeps the worker's reputation after that round, so its history can be shown without
-- reading every round's manifest.
ALTER TABLE scores ADD COLUMN reputation DOUBLE PRECISION;
