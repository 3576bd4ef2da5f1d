use serde::{Deserialize, Serialize};

use crate::{
    Result, Store,
    codec::{int, uint},
    store::dispatch,
};

/// An initial model prepared for a requester's wallet: enough to rebuild the checkpoint, so it is published only
/// once a task on chain names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftedModel {
    /// The checkpoint's CID, computed locally.
    pub initial_model_cid: String,
    /// The architecture's stable name.
    pub architecture: String,
    /// The seed of the initial weights.
    pub seed: u64,
    /// When it was prepared, unix milliseconds.
    pub created_at_ms: i64,
}

#[derive(sqlx::FromRow)]
struct DraftRow {
    initial_model_cid: String,
    architecture: String,
    seed: i64,
    created_at_ms: i64,
}

impl TryFrom<DraftRow> for DraftedModel {
    type Error = crate::Error;

    fn try_from(row: DraftRow) -> Result<Self> {
        Ok(Self {
            initial_model_cid: row.initial_model_cid,
            architecture: row.architecture,
            seed: uint(row.seed, "task_drafts.seed")?,
            created_at_ms: row.created_at_ms,
        })
    }
}

impl Store {
    /// Records a draft; preparing the same initial model again changes nothing.
    pub async fn insert_task_draft(&self, draft: &DraftedModel) -> Result<()> {
        let seed = int(draft.seed, "seed")?;
        dispatch!(self, pool => {
            sqlx::query(
                "INSERT INTO task_drafts (initial_model_cid, architecture, seed, created_at_ms) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (initial_model_cid) DO NOTHING",
            )
            .bind(&draft.initial_model_cid)
            .bind(&draft.architecture)
            .bind(seed)
            .bind(draft.created_at_ms)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Records a draft as [`Store::insert_task_draft`] does, unless `max_pending` unpublished drafts are kept
    /// already; unpublished drafts created before `expire_before_ms` that no task names are dropped first. Says
    /// whether the draft is kept (one already kept is). Concurrent calls may overshoot the cap by their number, never more.
    pub async fn insert_task_draft_bounded(
        &self,
        draft: &DraftedModel,
        max_pending: u64,
        expire_before_ms: i64,
    ) -> Result<bool> {
        let known: Option<i64> = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM task_drafts WHERE initial_model_cid = $1")
                .bind(&draft.initial_model_cid)
                .fetch_optional(pool)
                .await?
        });
        if known.is_some() {
            return Ok(true);
        }
        let pending: i64 = dispatch!(self, pool => {
            sqlx::query(
                "DELETE FROM task_drafts WHERE published_at_ms IS NULL AND created_at_ms < $1 \
                 AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.initial_model_cid = task_drafts.initial_model_cid)",
            )
            .bind(expire_before_ms)
            .execute(pool)
            .await?;
            sqlx::query_scalar("SELECT COUNT(*) FROM task_drafts WHERE published_at_ms IS NULL")
                .fetch_one(pool)
                .await?
        });
        if u64::try_from(pending).unwrap_or(0) >= max_pending {
            return Ok(false);
        }
        self.insert_task_draft(draft).await?;
        Ok(true)
    }

    /// Drafts that a task on chain now names and that are not yet published: the engine publishes these.
    pub async fn drafts_to_publish(&self) -> Result<Vec<DraftedModel>> {
        let rows: Vec<DraftRow> = dispatch!(self, pool => {
            sqlx::query_as(
                "SELECT d.initial_model_cid, d.architecture, d.seed, d.created_at_ms FROM task_drafts d \
                 WHERE d.published_at_ms IS NULL \
                 AND EXISTS (SELECT 1 FROM tasks t WHERE t.initial_model_cid = d.initial_model_cid) \
                 ORDER BY d.created_at_ms",
            )
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(DraftedModel::try_from).collect()
    }

    /// Marks a draft's checkpoint published.
    pub async fn mark_draft_published(&self, initial_model_cid: &str, at_ms: i64) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query("UPDATE task_drafts SET published_at_ms = $2 WHERE initial_model_cid = $1")
                .bind(initial_model_cid)
                .bind(at_ms)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }
}
