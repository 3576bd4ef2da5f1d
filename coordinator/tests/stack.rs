//! The coordinator on the real stack (anvil, an IPFS node, SQLite, libtorch): three workers train through two
//! rounds over the HTTP API; the model improves, both rounds are finalized on chain once, the proofs verify
//! against the root on chain, the claims pay, and `verify` recomputes every round.

mod common;

use alloy::primitives::{B256, U256};
use common::{Stack, initial_accuracy};
use std::time::Duration;
use tessera_chain::{MerkleTree, reward_leaf};

const TASK_ENDED: u8 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_two_rounds_on_the_real_stack() {
    let stack = Stack::start(3).await;
    let task = stack.create_task(2, 3, 120);
    let workers = stack.join_workers(task, 3, 300).await;
    let coordinator = stack.coordinator_process(3, None).await;
    let initial = initial_accuracy(&stack, &coordinator, task).await;

    let mut accuracies = Vec::new();
    for round in 1..=2 {
        coordinator.wait_for_round(task, round).await;
        for worker in &workers {
            let receipt = worker.train_and_submit(&stack, &coordinator, task, round).await;
            assert_eq!(
                receipt["coordinator"],
                format!("{:#x}", stack.coordinator().address.parse::<alloy::primitives::Address>().unwrap())
            );
        }
        let finalized = coordinator.wait_for_finalized(task, round).await;
        accuracies.push(finalized["metrics"]["accuracy"].as_f64().unwrap());
        assert_eq!(finalized["scores"].as_array().unwrap().len(), 3, "{finalized}");
    }
    assert!(accuracies[1] > initial + 0.3, "accuracy {accuracies:?} from {initial}");
    assert!(accuracies[1] >= accuracies[0] - 0.05, "accuracy fell: {accuracies:?}");

    let chain = stack.client(stack.requester());
    let on_chain = chain.task(U256::from(task)).await.unwrap();
    assert_eq!((on_chain.currentRound, on_chain.status), (2, TASK_ENDED));
    for round in 1..=2 {
        assert_eq!(stack.finalize_events(task, round).await, 1, "round {round} finalized more than once");
    }
    coordinator.wait_for(&format!("/api/v1/tasks/{task}"), Duration::from_secs(30), |t| t["status"] == "ended").await;

    let mut paid = U256::ZERO;
    for worker in &workers {
        let proof = coordinator.get(&format!("/api/v1/tasks/{task}/workers/{:#x}/proof", worker.address())).await;
        let amount: U256 = proof["cumulative_amount"].as_str().unwrap().parse().unwrap();
        let nodes: Vec<B256> =
            proof["proof"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().parse().unwrap()).collect();
        let root: B256 = proof["rewards_root"].as_str().unwrap().parse().unwrap();
        assert_eq!(root, on_chain.rewardsRoot);
        assert!(MerkleTree::verify(root, reward_leaf(U256::from(task), worker.address(), amount), &nodes));
        assert!(amount > U256::ZERO, "an honest worker earned nothing: {proof}");
        let before = stack.balance(worker.address()).await;
        worker.client.claim(U256::from(task), amount, nodes).await.unwrap();
        assert_eq!(stack.balance(worker.address()).await, before + amount);
        paid += amount;
    }
    let pool = U256::from(common::REWARD_TOKENS * common::TOKEN_UNIT);
    assert!(paid <= pool && paid > pool / U256::from(2), "paid {paid} of {pool}");

    // The indexer sees the claims, and the workers' page shows them.
    let summaries = coordinator
        .wait_for(&format!("/api/v1/tasks/{task}/workers"), Duration::from_secs(30), |workers| {
            workers.as_array().is_some_and(|all| all.iter().all(|w| w["claimed"] != "0"))
        })
        .await;
    for summary in summaries.as_array().unwrap() {
        assert_eq!(summary["claimed"], summary["rewards"], "{summary}");
        assert_eq!(summary["reputation_history"].as_array().unwrap().len(), 2, "{summary}");
    }
    let metrics = reqwest::get(format!("{}/metrics", coordinator.url)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("tessera_rounds_finalized_total 2"), "{metrics}");
    assert!(metrics.contains("tessera_submissions_accepted_total 6"), "{metrics}");

    let (status, report) = stack.verify(task);
    assert!(status.success(), "verify failed:\n{report}");
    assert!(report.contains("2 round(s) verified"), "{report}");
    assert!(!report.contains("MISMATCH"), "{report}");
}
