//! Unsigned transactions for a requester's wallet: the dashboard creates tasks without the coordinator ever
//! holding the requester's key. The initial model is derived from the architecture and a seed; its CID goes
//! into the transaction now, and the checkpoint onto IPFS once the task exists.

use super::{ApiError, ApiJson};
use crate::{
    AppState,
    task_draft::{TaskDraft, bounds},
};
use alloy::primitives::{Address, U256};
use axum::extract::State;
use tessera_api::{DraftRequest, DraftResponse, responses};
use tessera_storage::DagBuilder;
use tessera_train::ArchitectureId;

/// The most rounds and workers a draft may ask for: far above any real task, low enough that a typo is caught
/// here rather than by a reverted transaction.
const MAX_ROUNDS: u32 = 10_000;
const MAX_WORKERS: u32 = 100_000;

/// Publishes nothing yet: answers with the initial model's CID and the calls the requester's wallet signs.
#[utoipa::path(post, path = "/api/v1/task-drafts", tag = "tasks", request_body = DraftRequest,
    responses((status = OK, description = "The initial model and the calls to sign.", body = DraftResponse), responses::BadRequest,
        responses::TooManyRequests, responses::Internal))]
pub(super) async fn create(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<DraftRequest>,
) -> Result<ApiJson<DraftResponse>, ApiError> {
    let draft = validate(&request, state.signer.address())?;
    let marketplace = state
        .domain
        .verifying_contract
        .ok_or_else(|| ApiError::Internal(eyre::eyre!("the EIP-712 domain names no marketplace")))?;
    // Anyone may ask for drafts, so nothing is pinned yet: the engine publishes the checkpoint when a task on
    // chain names its CID (`Engine::publish_drafted_models`).
    let initial = DagBuilder::cid_of(&draft.initial_checkpoint()?);
    let record = tessera_db::DraftedModel {
        initial_model_cid: initial.to_string(),
        architecture: draft.architecture.name().to_owned(),
        seed: draft.seed,
        created_at_ms: crate::now_ms(),
    };
    let ttl_ms = i64::try_from(state.config.task_draft_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let expire_before_ms = record.created_at_ms.saturating_sub(ttl_ms);
    if !state.db.insert_task_draft_bounded(&record, state.config.max_task_drafts, expire_before_ms).await? {
        state.live.counters.rejected("too_many_requests");
        let retry = crate::limits::RetryAfter(std::time::Duration::from_secs(3600));
        return Err(ApiError::too_many("the coordinator holds as many unsent task drafts as it keeps", retry));
    }
    Ok(ApiJson(DraftResponse {
        initial_model_cid: initial,
        coordinator: draft.coordinator,
        transactions: draft.transactions(marketplace, &initial),
    }))
}

/// Checks a request the way the contract would, with messages a person can act on.
fn validate(request: &DraftRequest, coordinator: Address) -> Result<TaskDraft, ApiError> {
    let bad = |message: String| Err(ApiError::BadRequest(message));
    let reward_token: Address =
        request.reward_token.parse().map_err(|_| ApiError::BadRequest("reward_token is not an address".into()))?;
    if reward_token.is_zero() {
        return bad("reward_token is the zero address".into());
    }
    // Amounts are u128 everywhere off chain; a task beyond that could never be indexed.
    let amount = |text: &str, what: &str| -> Result<U256, ApiError> {
        let value = text
            .parse::<u128>()
            .map_err(|_| ApiError::BadRequest(format!("{what} is not a whole number of base units below 2^128")))?;
        if value == 0 {
            return Err(ApiError::BadRequest(format!("{what} must be more than zero")));
        }
        Ok(U256::from(value))
    };
    let reward_pool = amount(&request.reward_pool, "reward_pool")?;
    let stake_required = amount(&request.stake_required, "stake_required")?;
    if !(1..=MAX_ROUNDS).contains(&request.num_rounds) {
        return bad(format!("num_rounds must be from 1 to {MAX_ROUNDS}"));
    }
    if !(1..=MAX_WORKERS).contains(&request.max_workers) {
        return bad(format!("max_workers must be from 1 to {MAX_WORKERS}"));
    }
    if i64::try_from(request.seed).is_err() {
        return bad("seed must be below 2^63".into());
    }
    if !(1..=bounds::MAX_SUBMISSION_WINDOW_SECS).contains(&request.submission_window_secs) {
        return bad(format!("submission_window_secs must be from 1 to {}", bounds::MAX_SUBMISSION_WINDOW_SECS));
    }
    let max_slash_bps = request.max_slash_bps.unwrap_or(bounds::MAX_SLASH_BPS);
    if !(1..=bounds::MAX_SLASH_BPS).contains(&max_slash_bps) {
        return bad(format!("max_slash_bps must be from 1 to {}", bounds::MAX_SLASH_BPS));
    }
    if !bounds::slash_bound_bites(stake_required, max_slash_bps) {
        return bad("max_slash_bps of stake_required rounds to nothing: no cheat could ever be slashed".into());
    }
    let name = request.architecture.as_deref().unwrap_or(ArchitectureId::Lenet5MnistV1.name());
    let Ok(architecture) = name.parse::<ArchitectureId>() else {
        let known: Vec<_> = ArchitectureId::ALL.iter().map(|a| a.name()).collect();
        return bad(format!("unknown architecture {name:?}; known: {}", known.join(", ")));
    };
    Ok(TaskDraft {
        reward_token,
        reward_pool,
        stake_required,
        num_rounds: request.num_rounds,
        max_workers: request.max_workers,
        submission_window_secs: request.submission_window_secs,
        coordinator,
        architecture,
        seed: request.seed,
        slash_to_requester: request.slash_to_requester,
        max_slash_bps,
        access_policy: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> DraftRequest {
        serde_json::from_value(serde_json::json!({
            "reward_token": format!("{:#x}", Address::repeat_byte(1)),
            "reward_pool": "1000000000000000000000",
            "stake_required": "100",
            "num_rounds": 5,
            "max_workers": 10,
            "submission_window_secs": 120,
        }))
        .unwrap()
    }

    #[test]
    fn a_good_request_becomes_a_draft_for_this_coordinator() {
        let me = Address::repeat_byte(9);
        let draft = validate(&request(), me).unwrap();
        assert_eq!(draft.coordinator, me);
        assert_eq!(draft.reward_pool, U256::from(10u64).pow(U256::from(21u64)));
        assert_eq!(draft.architecture, ArchitectureId::Lenet5MnistV1);
    }

    #[test]
    fn bad_fields_are_named() {
        let me = Address::ZERO;
        type Spoil = fn(&mut DraftRequest);
        let cases: [(Spoil, &str); 13] = [
            (|r| r.reward_token = "0x12".into(), "reward_token"),
            (|r| r.reward_token = format!("{:#x}", Address::ZERO), "zero address"),
            (|r| r.reward_pool = "340282366920938463463374607431768211456".into(), "below 2^128"),
            (|r| r.reward_pool = "0".into(), "reward_pool must be more than zero"),
            (|r| r.stake_required = "1.5".into(), "stake_required is not a whole number"),
            (|r| r.num_rounds = 0, "num_rounds"),
            (|r| r.submission_window_secs = 0, "submission_window_secs"),
            (|r| r.submission_window_secs = 30 * 24 * 3600 + 1, "submission_window_secs must be from 1"),
            (|r| r.stake_required = "0".into(), "stake_required must be more than zero"),
            (|r| r.max_slash_bps = Some(0), "max_slash_bps"),
            (|r| r.max_slash_bps = Some(10_001), "max_slash_bps"),
            (|r| (r.stake_required, r.max_slash_bps) = ("1".into(), Some(9_999)), "rounds to nothing"),
            (|r| r.architecture = Some("resnet".into()), "unknown architecture"),
        ];
        for (spoil, expected) in cases {
            let mut spoiled = request();
            spoil(&mut spoiled);
            let message = validate(&spoiled, me).unwrap_err().to_string();
            assert!(message.contains(expected), "{message:?} should mention {expected:?}");
        }
    }
}
