-- Task drafts are bounded (the coordinator's `max_task_drafts`) and expire unpublished: counting and expiring the
-- pending ones reads this index, not the whole table.
CREATE INDEX task_drafts_pending ON task_drafts (created_at_ms) WHERE published_at_ms IS NULL;
-- Drafts are matched to the tasks that name their initial model, on every engine pass.
CREATE INDEX tasks_initial_model ON tasks (initial_model_cid);
