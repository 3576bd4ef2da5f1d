use serde::{Deserialize, Serialize};

use crate::{
    Error, Result, Store,
    codec::{self, int, uint},
    error::is_foreign_key_violation,
    store::{BeginWrite, dispatch},
};

/// A worker's standing in a task: its RFFL reputation and the participation history the weights use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reputation {
    /// The task.
    pub task_id: u64,
    /// The worker (0x-hex address).
    pub worker: String,
    /// The reputation (finite).
    pub reputation: f64,
    /// The scoring crate's participation state, as JSON.
    pub participation: serde_json::Value,
    /// The last round whose scores this includes, so that replaying a round after a crash does not count it twice.
    pub as_of_round: u32,
}

#[derive(sqlx::FromRow)]
struct ReputationRow {
    task_id: i64,
    worker: String,
    reputation: f64,
    participation: String,
    as_of_round: i64,
}

impl TryFrom<ReputationRow> for Reputation {
    type Error = Error;

    fn try_from(row: ReputationRow) -> Result<Self> {
        Ok(Self {
            task_id: uint(row.task_id, "reputations.task_id")?,
            worker: row.worker,
            reputation: row.reputation,
            participation: codec::from_json(&row.participation, "reputations.participation")?,
            as_of_round: uint(row.as_of_round, "reputations.as_of_round")?,
        })
    }
}

impl Store {
    /// Inserts or replaces reputations, all in one transaction. [`Error::NotFound`] if a task is unknown.
    pub async fn upsert_reputations(&self, reputations: &[Reputation]) -> Result<()> {
        let rows = reputations
            .iter()
            .map(|r| {
                Ok((
                    int(r.task_id, "task_id")?,
                    codec::hex(&r.worker, "worker")?,
                    codec::finite(r.reputation, "reputation")?,
                    codec::to_json(&r.participation, "participation")?,
                    i64::from(r.as_of_round),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let written: std::result::Result<(), sqlx::Error> = dispatch!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut written = Ok(());
            for (task_id, worker, reputation, participation, as_of_round) in &rows {
                let upserted = sqlx::query(
                    "INSERT INTO reputations (task_id, worker, reputation, participation, as_of_round) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (task_id, worker) DO UPDATE SET \
                     reputation = excluded.reputation, participation = excluded.participation, \
                     as_of_round = excluded.as_of_round",
                )
                .bind(task_id)
                .bind(worker)
                .bind(reputation)
                .bind(participation)
                .bind(as_of_round)
                .execute(&mut *tx)
                .await;
                if let Err(e) = upserted {
                    written = Err(e);
                    break;
                }
            }
            crate::store::settle(tx, written).await
        });
        match written {
            Ok(()) => Ok(()),
            Err(e) if is_foreign_key_violation(&e) => Err(Error::not_found("task of a reputation")),
            Err(e) => Err(e.into()),
        }
    }

    /// A task's reputations, by worker address.
    pub async fn list_reputations(&self, task_id: u64) -> Result<Vec<Reputation>> {
        let task_id = int(task_id, "task_id")?;
        let rows: Vec<ReputationRow> = dispatch!(self, pool => {
            sqlx::query_as(
                "SELECT task_id, worker, reputation, participation, as_of_round FROM reputations \
                 WHERE task_id = $1 ORDER BY worker",
            )
            .bind(task_id)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(Reputation::try_from).collect()
    }
}
