//! The wire contract: every JSON body the coordinator's HTTP API sends or takes, as the coordinator writes it
//! and the worker and the dashboard read it, with the schemas the OpenAPI document is derived from.
//!
//! Addresses, hashes, CIDs and amounts are typed here and parsed once, when a body is read. Readers ignore
//! fields they do not know and read an unknown status or phase as `Unknown`, so a newer coordinator does not
//! break an older worker.

mod amount;
mod error;
mod rounds;
mod submissions;
mod tasks;
mod workers;

pub use amount::Amount;
pub use error::{ErrorBody, ErrorDetail, responses};
pub use rounds::{
    Reason, RoundClosed, RoundDetail, RoundKey, RoundMetrics, RoundPhase, RoundSummary, RoundTx, RoundView, ScoreView,
    TxState,
};
pub use submissions::{Receipt, SubmissionListing, SubmissionRequest};
pub use tasks::{DraftRequest, DraftResponse, Health, Info, TaskAccess, TaskFault, TaskStatus, TaskView, UnsignedCall};
pub use workers::{ClaimProof, Membership, WorkerSummary};

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Address, B256};
    use serde_json::json;

    fn cid() -> &'static str {
        "QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR"
    }

    #[test]
    fn a_task_parses_ignoring_fields_this_reader_does_not_know() {
        let task: TaskView = serde_json::from_value(json!({
            "task_id": 3, "requester": format!("{:#x}", Address::repeat_byte(1)),
            "coordinator": format!("{:#x}", Address::repeat_byte(2)), "reward_token": format!("{:#x}", Address::repeat_byte(3)),
            "reward_pool": "1000", "stake_required": "10", "num_rounds": 5, "max_workers": 8,
            "submission_window_secs": 60, "model_architecture_id": format!("0x{}1", "0".repeat(63)),
            "initial_model_cid": cid(), "status": "running", "current_round": 2, "created_at_ms": 1,
            "config": {}, "active_workers": 2, "joined_workers": 3, "added_later": true
        }))
        .unwrap();
        assert_eq!((task.task_id, task.status, task.current_round, task.num_rounds), (3, TaskStatus::Running, 2, 5));
        assert_eq!(task.reward_pool, Amount::from(1000));
        assert_eq!(serde_json::from_value::<TaskStatus>(json!("paused")).unwrap(), TaskStatus::Unknown);
        assert_eq!(serde_json::from_value::<RoundPhase>(json!("voting")).unwrap(), RoundPhase::Unknown);
    }

    #[test]
    fn a_round_detail_flattens_the_round_beside_its_scores() {
        let round = RoundView {
            task_id: 1,
            round: 2,
            phase: RoundPhase::Finalized,
            global_model_cid: cid().parse().unwrap(),
            deadline_ms: 99,
            new_model_cid: None,
            manifest_cid: None,
            rewards_root: Some(B256::repeat_byte(0xcd)),
            cumulative_rewards_total: Some(Amount::from(u128::MAX)),
            metrics: Some(RoundMetrics { accuracy: Some(0.9), ..RoundMetrics::default() }),
            submission_count: 0,
            started_at_ms: 1,
            finalized_at_ms: Some(120),
        };
        let detail = RoundDetail { round, scores: vec![] };
        let text = serde_json::to_value(&detail).unwrap();
        assert_eq!(text["phase"], "finalized");
        assert_eq!(text["global_model_cid"], cid());
        assert_eq!(text["rewards_root"], format!("0x{}", "cd".repeat(32)));
        assert_eq!(text["cumulative_rewards_total"], u128::MAX.to_string());
        assert_eq!(text["scores"], json!([]));
        assert_eq!(serde_json::from_value::<RoundDetail>(text).unwrap(), detail);
    }

    #[test]
    fn reasons_have_one_spelling_each_way() {
        for reason in Reason::ALL {
            let text = serde_json::to_value(reason).unwrap();
            assert_eq!(text, reason.as_str());
            assert_eq!(reason.as_str().parse::<Reason>().unwrap(), reason);
            assert_eq!(serde_json::from_value::<Reason>(text).unwrap(), reason);
        }
        assert_eq!(serde_json::from_value::<Reason>(json!("bribery")).unwrap(), Reason::Unknown);
        assert!("bribery".parse::<Reason>().is_err());
    }

    #[test]
    fn addresses_are_written_lowercase_and_read_in_any_case() {
        let address = Address::repeat_byte(0xab);
        let call = UnsignedCall { description: "d".into(), to: address, data: "0x".into() };
        let text = serde_json::to_value(&call).unwrap();
        assert_eq!(text["to"], format!("0x{}", "ab".repeat(20)));
        let upper = json!({ "description": "d", "to": format!("0x{}", "AB".repeat(20)), "data": "0x" });
        assert_eq!(serde_json::from_value::<UnsignedCall>(upper).unwrap(), call);
    }
}
