use serde::{Deserialize, Serialize};

use crate::{
    Amount, Error, Result, Store,
    codec::{self, int, parse, uint},
    error::unique_violation,
    store::{BeginWrite, dispatch},
};

/// One worker's result in a round, as the engine computed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewScore {
    /// The worker (0x-hex address).
    pub worker: String,
    /// The contribution score (finite).
    pub score: f64,
    /// The reward for this round.
    pub reward: Amount,
    /// Why the contribution was suspect: `free_rider`, `poisoning`, `copy` or `no_show` (`tessera_api::Reason`)
    pub flags: Vec<String>,
    /// Stake slashed this round.
    pub slashed: Amount,
    /// Why, when slashed.
    pub slash_reason: Option<String>,
    /// The worker's reputation after the round, when it has one.
    pub reputation: Option<f64>,
    /// The numbers behind each flag, as the round's manifest records them (a JSON array).
    #[serde(default = "no_evidence")]
    pub evidence: serde_json::Value,
}

fn no_evidence() -> serde_json::Value {
    serde_json::Value::Array(Vec::new())
}

/// A stored score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The task.
    pub task_id: u64,
    /// The round.
    pub round: u32,
    /// The worker (0x-hex address).
    pub worker: String,
    /// The contribution score.
    pub score: f64,
    /// The reward for this round.
    pub reward: Amount,
    /// Why the contribution was suspect.
    pub flags: Vec<String>,
    /// Stake slashed this round.
    pub slashed: Amount,
    /// Why, when slashed.
    pub slash_reason: Option<String>,
    /// The worker's reputation after the round, when it has one.
    pub reputation: Option<f64>,
    /// The numbers behind each flag (a JSON array).
    pub evidence: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct ScoreRow {
    task_id: i64,
    round: i64,
    worker: String,
    score: f64,
    reward: String,
    flags: String,
    slashed: String,
    slash_reason: Option<String>,
    reputation: Option<f64>,
    evidence: String,
}

impl TryFrom<ScoreRow> for Score {
    type Error = Error;

    fn try_from(row: ScoreRow) -> Result<Self> {
        Ok(Self {
            task_id: uint(row.task_id, "scores.task_id")?,
            round: uint(row.round, "scores.round")?,
            worker: row.worker,
            score: row.score,
            reward: parse(&row.reward, "scores.reward")?,
            flags: codec::from_json(&row.flags, "scores.flags")?,
            slashed: parse(&row.slashed, "scores.slashed")?,
            slash_reason: row.slash_reason,
            reputation: row.reputation,
            evidence: codec::from_json(&row.evidence, "scores.evidence")?,
        })
    }
}

const COLUMNS: &str = "task_id, round, worker, score, reward, flags, slashed, slash_reason, reputation, evidence";

/// A score's values as bound: worker, score, reward, flags, slashed, slash reason, reputation, evidence.
type Bound<'a> = (String, f64, String, String, String, Option<&'a str>, Option<f64>, String);

fn bound(score: &NewScore) -> Result<Bound<'_>> {
    Ok((
        codec::hex(&score.worker, "worker")?,
        codec::finite(score.score, "score")?,
        score.reward.to_string(),
        codec::to_json(&score.flags, "flags")?,
        score.slashed.to_string(),
        score.slash_reason.as_deref(),
        score.reputation.map(|r| codec::finite(r, "reputation")).transpose()?,
        codec::to_json(&score.evidence, "evidence")?,
    ))
}

impl Store {
    /// Replaces a round's scores with `scores`, in one transaction: readers see the old set or the new one, and a
    /// failure (a duplicate worker, a missing round) leaves the old set. Re-running a step after a crash is safe.
    pub async fn replace_scores(&self, task_id: u64, round: u32, scores: &[NewScore]) -> Result<()> {
        let id = int(task_id, "task_id")?;
        let rows = scores.iter().map(bound).collect::<Result<Vec<_>>>()?;
        let sql = format!("INSERT INTO scores ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
        let written: std::result::Result<(), sqlx::Error> = dispatch!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // Lock the round's row first: on PostgreSQL two replacements would otherwise each delete only the
            // rows they saw and both insert, leaving the union.
            let round_rows = sqlx::query("UPDATE rounds SET phase = phase WHERE task_id = $1 AND round = $2")
                .bind(id)
                .bind(i64::from(round))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if round_rows == 0 {
                tx.rollback().await?;
                return Err(Error::not_found(format!("round {task_id}/{round}")));
            }
            sqlx::query("DELETE FROM scores WHERE task_id = $1 AND round = $2")
                .bind(id)
                .bind(i64::from(round))
                .execute(&mut *tx)
                .await?;
            let mut written = Ok(());
            for (worker, score, reward, flags, slashed, reason, reputation, evidence) in &rows {
                let inserted = sqlx::query(&sql)
                    .bind(id)
                    .bind(i64::from(round))
                    .bind(worker)
                    .bind(score)
                    .bind(reward)
                    .bind(flags)
                    .bind(slashed)
                    .bind(reason)
                    .bind(reputation)
                    .bind(evidence)
                    .execute(&mut *tx)
                    .await;
                if let Err(e) = inserted {
                    written = Err(e);
                    break;
                }
            }
            crate::store::settle(tx, written).await
        });
        match written {
            Ok(()) => Ok(()),
            Err(e) if unique_violation(&e).is_some() => Err(Error::Duplicate { what: "score for this worker" }),
            Err(e) => Err(e.into()),
        }
    }

    /// A round's scores, by worker address.
    pub async fn list_scores(&self, task_id: u64, round: u32) -> Result<Vec<Score>> {
        let sql = format!("SELECT {COLUMNS} FROM scores WHERE task_id = $1 AND round = $2 ORDER BY worker");
        let task_id = int(task_id, "task_id")?;
        let rows: Vec<ScoreRow> = dispatch!(self, pool => {
            sqlx::query_as(&sql).bind(task_id).bind(i64::from(round)).fetch_all(pool).await?
        });
        rows.into_iter().map(Score::try_from).collect()
    }

    /// A worker's scores in a task, round by round.
    pub async fn worker_scores(&self, task_id: u64, worker: &str) -> Result<Vec<Score>> {
        let sql = format!("SELECT {COLUMNS} FROM scores WHERE task_id = $1 AND worker = $2 ORDER BY round");
        let task_id = int(task_id, "task_id")?;
        let worker = codec::hex(worker, "worker")?;
        let rows: Vec<ScoreRow> = dispatch!(self, pool => {
            sqlx::query_as(&sql).bind(task_id).bind(&worker).fetch_all(pool).await?
        });
        rows.into_iter().map(Score::try_from).collect()
    }
}
