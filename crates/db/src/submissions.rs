use serde::{Deserialize, Serialize};

use crate::{
    Error, Result, RoundPhase, Store,
    codec::{self, int, parse, uint},
    error::unique_violation,
    store::{BeginWrite, dispatch},
};

/// A worker's signed submission, as the API received it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSubmission {
    /// The task.
    pub task_id: u64,
    /// The round.
    pub round: u32,
    /// The signer (0x-hex address).
    pub worker: String,
    /// The update's CID.
    pub update_cid: String,
    /// Samples the worker trained on.
    pub num_samples: u64,
    /// The EIP-712 signature (0x-hex).
    pub signature: String,
    /// The EIP-712 digest that was signed (0x-hex).
    pub digest: String,
    /// When the coordinator received it, unix milliseconds.
    pub received_at_ms: i64,
}

/// A stored submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// The task.
    pub task_id: u64,
    /// The round.
    pub round: u32,
    /// The signer (0x-hex address).
    pub worker: String,
    /// Receipt order within the round: 0, 1, 2, … with no gaps.
    pub sequence: u64,
    /// The update's CID.
    pub update_cid: String,
    /// Samples the worker trained on.
    pub num_samples: u64,
    /// The EIP-712 signature (0x-hex).
    pub signature: String,
    /// The EIP-712 digest that was signed (0x-hex).
    pub digest: String,
    /// When the coordinator received it, unix milliseconds.
    pub received_at_ms: i64,
    /// The coordinator's signature on the receipt (0x-hex), once signed.
    pub receipt_signature: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SubmissionRow {
    task_id: i64,
    round: i64,
    worker: String,
    sequence: i64,
    update_cid: String,
    num_samples: i64,
    signature: String,
    digest: String,
    received_at_ms: i64,
    receipt_signature: Option<String>,
}

impl TryFrom<SubmissionRow> for Submission {
    type Error = Error;

    fn try_from(row: SubmissionRow) -> Result<Self> {
        Ok(Self {
            task_id: uint(row.task_id, "submissions.task_id")?,
            round: uint(row.round, "submissions.round")?,
            worker: row.worker,
            sequence: uint(row.sequence, "submissions.sequence")?,
            update_cid: row.update_cid,
            num_samples: uint(row.num_samples, "submissions.num_samples")?,
            signature: row.signature,
            digest: row.digest,
            received_at_ms: row.received_at_ms,
            receipt_signature: row.receipt_signature,
        })
    }
}

const COLUMNS: &str = "task_id, round, worker, sequence, update_cid, num_samples, signature, digest, \
    received_at_ms, receipt_signature";

/// The [`Error::Duplicate`] for a unique violation on `submissions`, or the error itself.
fn conflict(err: sqlx::Error) -> Error {
    match unique_violation(&err) {
        Some(key) if key.contains("digest") => Error::Duplicate { what: "submission digest" },
        Some(key) if key.contains("sequence") => Error::Duplicate { what: "submission sequence" },
        Some(_) => Error::Duplicate { what: "submission by this worker in this round" },
        None => err.into(),
    }
}

impl Store {
    /// Accepts a submission and gives it the round's next sequence number, in one transaction that also counts it
    /// on the round. Rejected with [`Error::Duplicate`] if the worker already submitted in this round or the digest
    /// was ever accepted (a replay), with [`Error::PhaseConflict`] once the round has left
    /// [`RoundPhase::Collecting`], and with [`Error::NotFound`] if there is no such round. A rejected submission
    /// uses no sequence number.
    ///
    /// The count and the phase check lock the round's row, so a submission either lands before the engine moves
    /// the round on (and the engine sees it) or is rejected.
    pub async fn insert_submission(&self, submission: &NewSubmission) -> Result<Submission> {
        let sql = format!(
            "INSERT INTO submissions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL) RETURNING {COLUMNS}"
        );
        let task_id = int(submission.task_id, "task_id")?;
        let round = i64::from(submission.round);
        let worker = codec::hex(&submission.worker, "worker")?;
        let num_samples = int(submission.num_samples, "num_samples")?;
        let signature = codec::hex(&submission.signature, "signature")?;
        let digest = codec::hex(&submission.digest, "digest")?;
        let row: SubmissionRow = dispatch!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let count: Option<i64> = sqlx::query_scalar(
                "UPDATE rounds SET submission_count = submission_count + 1 \
                 WHERE task_id = $1 AND round = $2 AND phase = 'collecting' RETURNING submission_count",
            )
            .bind(task_id)
            .bind(round)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(count) = count else {
                tx.rollback().await?;
                let phase: Option<String> =
                    sqlx::query_scalar("SELECT phase FROM rounds WHERE task_id = $1 AND round = $2")
                        .bind(task_id)
                        .bind(round)
                        .fetch_optional(pool)
                        .await?;
                return Err(match phase {
                    None => Error::not_found(format!("round {}/{}", submission.task_id, submission.round)),
                    Some(phase) => Error::PhaseConflict {
                        task_id: submission.task_id,
                        round: submission.round,
                        expected: RoundPhase::Collecting,
                        actual: parse(&phase, "rounds.phase")?,
                    },
                });
            };
            let inserted = sqlx::query_as(&sql)
                .bind(task_id)
                .bind(round)
                .bind(&worker)
                .bind(count - 1)
                .bind(&submission.update_cid)
                .bind(num_samples)
                .bind(&signature)
                .bind(&digest)
                .bind(submission.received_at_ms)
                .fetch_one(&mut *tx)
                .await;
            match inserted {
                Ok(row) => {
                    tx.commit().await?;
                    row
                }
                Err(e) => {
                    tx.rollback().await?;
                    return Err(conflict(e));
                }
            }
        });
        row.try_into()
    }

    /// Stores the coordinator's receipt signature for a submission. [`Error::NotFound`] if there is none.
    pub async fn set_receipt_signature(&self, task_id: u64, round: u32, worker: &str, signature: &str) -> Result<()> {
        let id = int(task_id, "task_id")?;
        let worker = codec::hex(worker, "worker")?;
        let signature = codec::hex(signature, "receipt_signature")?;
        let updated = dispatch!(self, pool => {
            sqlx::query(
                "UPDATE submissions SET receipt_signature = $4 WHERE task_id = $1 AND round = $2 AND worker = $3",
            )
            .bind(id)
            .bind(i64::from(round))
            .bind(&worker)
            .bind(&signature)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if updated == 0 {
            return Err(Error::not_found(format!("submission {task_id}/{round} from {worker}")));
        }
        Ok(())
    }

    /// A worker's submission in a round, if any.
    pub async fn get_submission(&self, task_id: u64, round: u32, worker: &str) -> Result<Option<Submission>> {
        let sql = format!("SELECT {COLUMNS} FROM submissions WHERE task_id = $1 AND round = $2 AND worker = $3");
        let task_id = int(task_id, "task_id")?;
        let worker = codec::hex(worker, "worker")?;
        let row: Option<SubmissionRow> = dispatch!(self, pool => {
            sqlx::query_as(&sql).bind(task_id).bind(i64::from(round)).bind(&worker).fetch_optional(pool).await?
        });
        row.map(Submission::try_from).transpose()
    }

    /// A round's submissions, in receipt order.
    pub async fn list_submissions(&self, task_id: u64, round: u32) -> Result<Vec<Submission>> {
        let sql = format!("SELECT {COLUMNS} FROM submissions WHERE task_id = $1 AND round = $2 ORDER BY sequence");
        let task_id = int(task_id, "task_id")?;
        let rows: Vec<SubmissionRow> = dispatch!(self, pool => {
            sqlx::query_as(&sql).bind(task_id).bind(i64::from(round)).fetch_all(pool).await?
        });
        rows.into_iter().map(Submission::try_from).collect()
    }

    /// How many submissions a round has from workers whose membership is still active: those count towards closing
    /// its window early, and one that submitted and then left does not.
    pub async fn count_active_submissions(&self, task_id: u64, round: u32) -> Result<u64> {
        let task_id = int(task_id, "task_id")?;
        let count: i64 = dispatch!(self, pool => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM submissions s JOIN workers w ON w.task_id = s.task_id AND w.worker = s.worker \
                 WHERE s.task_id = $1 AND s.round = $2 AND w.status = $3",
            )
            .bind(task_id)
            .bind(i64::from(round))
            .bind(crate::Membership::Active.as_str())
            .fetch_one(pool)
            .await?
        });
        uint(count, "submission count")
    }

    /// How many submissions a round has.
    pub async fn count_submissions(&self, task_id: u64, round: u32) -> Result<u64> {
        let task_id = int(task_id, "task_id")?;
        let count: i64 = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM submissions WHERE task_id = $1 AND round = $2")
                .bind(task_id)
                .bind(i64::from(round))
                .fetch_one(pool)
                .await?
        });
        uint(count, "submission count")
    }
}
