//! `POST /api/v1/tasks/{task}/rounds/{round}/submissions`: a worker's EIP-712 signed update.

use super::{ApiError, ApiJson, ApiPath, params::RoundPath};
use crate::{AppState, LiveEvent, limits::Limits, now_ms, sealing::TaskSealing};
use alloy::primitives::{Address, B256, U256};
use axum::{Extension, extract::State, http::StatusCode};
use std::{sync::Arc, time::Instant};
use tessera_api::{ErrorBody, Receipt, SubmissionRequest, responses};
use tessera_chain::eip712::{self, Submission, SubmissionReceipt};
use tessera_db::{Membership, NewSubmission, RoundPhase, TaskStatus};
use tessera_storage::Cid;
use tessera_train::{DecodeLimits, FileKind};

/// Takes a worker's signed update into the open round and answers with the coordinator's signed receipt: 201
/// for a new submission, 200 with the same receipt when the same signed message comes again.
#[utoipa::path(post, path = "/api/v1/tasks/{task}/rounds/{round}/submissions", tag = "rounds", params(RoundPath),
    request_body = SubmissionRequest,
    responses(
        (status = CREATED, description = "Accepted.", body = Receipt),
        (status = OK, description = "Accepted before: the same receipt.", body = Receipt),
        responses::BadRequest,
        (status = UNAUTHORIZED, description = "`bad_signature`.", body = ErrorBody),
        (status = FORBIDDEN, description = "`not_joined`.", body = ErrorBody),
        (status = CONFLICT, description = "`wrong_round`, `window_closed` or `replay`.", body = ErrorBody),
        (status = PAYLOAD_TOO_LARGE, description = "`payload_too_large`.", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "`update_unavailable` or `malformed_update`.", body = ErrorBody),
        responses::TooManyRequests,
        responses::Internal,
    ))]
pub(super) async fn submit(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ApiPath(RoundPath { task: task_id, round }): ApiPath<RoundPath>,
    request: Result<ApiJson<SubmissionRequest>, ApiError>,
) -> Result<(StatusCode, ApiJson<Receipt>), ApiError> {
    let accepted = match request {
        Ok(ApiJson(request)) => accept(&state, &limits, task_id, round, request).await,
        Err(error) => Err(error),
    };
    match &accepted {
        // The same submission again (200) only repeats its receipt.
        Ok((StatusCode::OK, _)) => {}
        Ok((_, ApiJson(receipt))) => {
            state.live.counters.submissions_accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            state.live.publish(LiveEvent::submission(task_id, round, &format!("{:#x}", receipt.worker)));
        }
        Err(error) => state.live.counters.rejected(error.code()),
    }
    accepted
}

async fn accept(
    state: &AppState,
    limits: &Limits,
    task_id: u64,
    round: u32,
    request: SubmissionRequest,
) -> Result<(StatusCode, ApiJson<Receipt>), ApiError> {
    let signed = Signed::verify(state, task_id, round, &request)?;
    let (task, open, received_at_ms) = collecting_round(state, task_id, round).await?;
    if !joined(state, task_id, &signed).await? {
        return Err(ApiError::NotJoined { worker: signed.worker_hex, task: task_id });
    }
    // Counted only for a joined worker whose signature verifies: nobody can spend another worker's turns, and keys
    // made by the thousand cannot fill the limiter's table (that costs a stake each) to lock real workers out.
    limits
        .per_worker
        .check(&signed.worker, Instant::now())
        .map_err(|retry| ApiError::too_many(format!("too many submissions from {}", signed.worker_hex), retry))?;
    if let Some(held) = state.db.get_submission(task_id, round, &signed.worker_hex).await? {
        // The same signed message again (a worker retrying after a lost answer) gets its receipt back.
        if let (true, Some(receipt_signature)) = (held.digest == signed.digest, held.receipt_signature) {
            let response = Receipt {
                task_id,
                round,
                worker: signed.worker,
                update_cid: super::wire::parse("update CID", &held.update_cid)?,
                num_samples: held.num_samples,
                sequence: held.sequence,
                received_at_ms: held.received_at_ms,
                coordinator: state.signer.address(),
                receipt_signature,
            };
            return Ok((StatusCode::OK, ApiJson(response)));
        }
        return Err(ApiError::Replay(format!("worker {} already submitted in round {round}", signed.worker_hex)));
    }
    let sealing = state.sealer.for_task(state.content.as_ref(), &task).await.map_err(ApiError::Internal)?;
    let expected = Expected {
        worker: &signed.worker_hex,
        round,
        global_cid: &open.global_model_cid,
        num_samples: request.num_samples,
    };
    let bytes =
        check_update(state, limits, &task.model_architecture_id, signed.cid, &expected, sealing.as_ref()).await?;
    keep(state, task_id, round, signed.cid, bytes).await?;
    let response = receipt(state, signed, received_at_ms, open.deadline_ms).await?;
    Ok((StatusCode::CREATED, ApiJson(response)))
}

/// Whether the signer is an active worker of the task: the indexed workers answer first, and the chain only for
/// those not (yet) among them, so a flood of submissions costs the chain's endpoint nothing for known workers.
async fn joined(state: &AppState, task_id: u64, signed: &Signed) -> Result<bool, ApiError> {
    let indexed = state.db.get_worker(task_id, &signed.worker_hex).await?;
    if indexed.is_some_and(|worker| worker.status == Membership::Active) {
        return Ok(true);
    }
    Ok(state.membership.is_worker(task_id, signed.worker).await?)
}

/// A submission whose EIP-712 signature was made by the worker it names.
struct Signed {
    worker: Address,
    worker_hex: String,
    cid: Cid,
    signature: String,
    typed: Submission,
    digest: String,
}

impl Signed {
    fn verify(state: &AppState, task_id: u64, round: u32, request: &SubmissionRequest) -> Result<Self, ApiError> {
        let worker: Address = request
            .worker
            .parse()
            .map_err(|_| ApiError::BadRequest(format!("{:?} is not an address", request.worker)))?;
        let cid: Cid = request.update_cid.parse().map_err(|e| ApiError::BadRequest(format!("update_cid: {e}")))?;
        let signature = eip712::parse_signature(&request.signature).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let typed = Submission {
            taskId: U256::from(task_id),
            round,
            worker,
            updateCid: B256::from(cid.to_bytes32()),
            numSamples: request.num_samples,
        };
        let signer = eip712::recover_signer(&typed, &state.domain, &signature)
            .map_err(|_| ApiError::BadSignature(request.worker.clone()))?;
        if signer != worker {
            return Err(ApiError::BadSignature(request.worker.clone()));
        }
        let digest = format!("{:#x}", eip712::digest(&typed, &state.domain));
        Ok(Self { worker, worker_hex: format!("{worker:#x}"), cid, signature: signature.to_string(), typed, digest })
    }
}

/// The task and its round, if the task is running that round and its window is open now; with the time of
/// receipt.
async fn collecting_round(
    state: &AppState,
    task_id: u64,
    round: u32,
) -> Result<(tessera_db::Task, tessera_db::Round, i64), ApiError> {
    let task = state.db.get_task(task_id).await?.ok_or(ApiError::NotFound(format!("task {task_id}")))?;
    if task.status != TaskStatus::Running || task.current_round != round {
        return Err(ApiError::WrongRound(format!(
            "task {task_id} is {:?} in round {}, not accepting round {round}",
            task.status, task.current_round
        )));
    }
    let open = state
        .db
        .get_round(task_id, round)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("round {round} of task {task_id}")))?;
    let received_at_ms = now_ms();
    if open.phase != RoundPhase::Collecting || received_at_ms > open.deadline_ms {
        return Err(ApiError::WindowClosed { round, deadline_ms: open.deadline_ms });
    }
    Ok((task, open, received_at_ms))
}

/// Records the submission in its round's sequence and signs the coordinator's receipt for it.
async fn receipt(state: &AppState, signed: Signed, received_at_ms: i64, deadline_ms: i64) -> Result<Receipt, ApiError> {
    let Submission { taskId, round, worker, updateCid, numSamples } = signed.typed;
    let task_id: u64 = taskId.to();
    let stored = state
        .db
        .insert_submission(&NewSubmission {
            task_id,
            round,
            worker: signed.worker_hex.clone(),
            update_cid: signed.cid.to_string(),
            num_samples: numSamples,
            signature: signed.signature,
            digest: signed.digest,
            received_at_ms,
        })
        .await
        .map_err(|e| match e {
            tessera_db::Error::Duplicate { what } => ApiError::Replay(format!("duplicate {what}")),
            // The engine closed the round while this request was being checked.
            tessera_db::Error::PhaseConflict { .. } => ApiError::WindowClosed { round, deadline_ms },
            other => other.into(),
        })?;
    let receipt = SubmissionReceipt {
        taskId,
        round,
        worker,
        updateCid,
        numSamples,
        sequence: stored.sequence,
        receivedAtMs: u64::try_from(received_at_ms).unwrap_or_default(),
    };
    let receipt_signature =
        eip712::sign(&state.signer, &receipt, &state.domain).map_err(|e| ApiError::Internal(e.into()))?.to_string();
    state.db.set_receipt_signature(task_id, round, &signed.worker_hex, &receipt_signature).await?;
    Ok(Receipt {
        task_id,
        round,
        worker,
        update_cid: signed.cid,
        num_samples: numSamples,
        sequence: stored.sequence,
        received_at_ms,
        coordinator: state.signer.address(),
        receipt_signature,
    })
}

/// Keeps a checked update before it is receipted: on this replica's disk, which the round is aggregated from, and
/// pinned on the IPFS node, where other replicas and `verify` find it. An update that cannot be kept is not
/// receipted; the worker sends it again.
async fn keep(state: &AppState, task_id: u64, round: u32, cid: Cid, bytes: bytes::Bytes) -> Result<(), ApiError> {
    state
        .spool
        .keep(task_id, round, &cid, bytes)
        .await
        .map_err(|e| ApiError::Internal(eyre::eyre!("spooling {cid}: {e}")))?;
    state.content.pin(&cid).await.map_err(|e| ApiError::UpdateUnavailable {
        cid: cid.to_string(),
        reason: format!("it could not be pinned: {e}"),
    })
}

/// What a submitted update must say of itself.
struct Expected<'a> {
    worker: &'a str,
    round: u32,
    global_cid: &'a str,
    num_samples: u64,
}

/// Fetches the update within the time limit and checks it is an update of the task's model for
/// this round, trained from the round's global checkpoint, with the sample count the worker signed; its bytes.
/// In a confidential task the update must be sealed for the coordinator and every auditor, and is opened first.
async fn check_update(
    state: &AppState,
    limits: &Limits,
    architecture_hex: &str,
    cid: Cid,
    expected: &Expected<'_>,
    sealing: Option<&TaskSealing>,
) -> Result<bytes::Bytes, ApiError> {
    let Expected { round, global_cid, num_samples, .. } = *expected;
    let lookup = state.config.model_lookup().map_err(ApiError::Internal)?;
    let architecture = crate::content::architecture_of(state.content.as_ref(), architecture_hex, lookup)
        .await
        .map_err(|e| ApiError::Internal(e.wrap_err("the stored task's architecture")))?;
    let decode = DecodeLimits::expecting(architecture, FileKind::Update);
    // The line for fetch turns is bounded too: past it, a burst is told to come back instead of piling up.
    let _place = limits.fetch_place().map_err(|retry| ApiError::too_many("the update fetch queue is full", retry))?;
    let _turn = state.fetches.acquire().await.map_err(|e| ApiError::Internal(e.into()))?;
    let overhead = if sealing.is_some() { tessera_seal::MAX_OVERHEAD } else { 0 };
    let fetch = state.content.get(&cid, decode.max_bytes as u64 + overhead);
    let bytes = match tokio::time::timeout(state.config.fetch_timeout, fetch).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(tessera_storage::Error::TooLarge { limit, .. })) => {
            return Err(malformed(
                cid,
                format!("larger than the {limit} bytes an update of {} can take", architecture.name()),
            ));
        }
        Ok(Err(error)) => return Err(ApiError::UpdateUnavailable { cid: cid.to_string(), reason: error.to_string() }),
        Err(_) => {
            let reason = format!("not fetched within {:?}", state.config.fetch_timeout);
            return Err(ApiError::UpdateUnavailable { cid: cid.to_string(), reason });
        }
    };
    let plaintext = match sealing {
        Some(sealing) => std::borrow::Cow::Owned(
            sealing
                .open_update(round, expected.worker, &cid.to_string(), &bytes)
                .map_err(|e| malformed(cid, format!("{e:#}")))?,
        ),
        None => std::borrow::Cow::Borrowed(&bytes[..]),
    };
    crate::manifest::decode_update(architecture, &plaintext, round, global_cid, num_samples)
        .map_err(|e| malformed(cid, e.to_string()))?;
    Ok(bytes)
}

fn malformed(cid: Cid, reason: String) -> ApiError {
    ApiError::MalformedUpdate { cid: cid.to_string(), reason }
}
