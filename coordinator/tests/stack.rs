//! The coordinator on the real stack (anvil, an IPFS node, SQLite, libtorch): three workers train through two
//! rounds over the HTTP API; the model improves, both rounds are finalized on chain once, the proofs verify
//! against the root on chain, the claims pay, and `verify` recomputes every round.

mod common;

use alloy::primitives::{B256, U256};
use common::{Stack, initial_accuracy};
use std::time::Duration;
use tessera_chain::IMarketplace;
use tessera_chain::{MerkleTree, reward_leaf};
use tessera_harness::{FlakyRpc, SlowContent};
use tessera_storage::ContentStore;

const TASK_ENDED: u8 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_two_rounds_on_the_real_stack() {
    let (stack, task, workers) = Stack::with_task(3, 2, 120, 300).await;
    let coordinator = stack.coordinator_process(3, None).await;
    let initial = initial_accuracy(&stack, &coordinator, task).await;

    let mut accuracies = Vec::new();
    for round in 1..=2 {
        coordinator.wait_for_round(task, round).await;
        for worker in &workers {
            let receipt = worker.train_and_submit(&stack, &coordinator, task, round).await;
            assert_eq!(receipt["coordinator"], format!("{:#x}", stack.coordinator().address));
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

/// Credit cannot be taken: a worker that sends another's update (its CID, signed under its own name) is the
/// copy, received later, and earns nothing while the author is paid; an update trained from another
/// checkpoint than the round's is refused with a clear error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_cid_is_flagged_and_a_stale_parent_is_refused_on_the_real_stack() {
    let (stack, task, workers) = Stack::with_task(4, 1, 120, 300).await;
    let coordinator = stack.coordinator_process(4, None).await;
    coordinator.wait_for_round(task, 1).await;
    let copier = &workers[3];

    let round = coordinator.get(&format!("/api/v1/tasks/{task}/rounds/1")).await;
    let global = round["global_model_cid"].as_str().unwrap().to_owned();
    let file = tessera_train::WeightsFile {
        header: tessera_train::Header {
            architecture: common::ARCH,
            kind: tessera_train::FileKind::Update,
            round: 1,
            parent_cid: "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG".into(),
            num_samples: 300,
            dtype: tessera_train::WireDtype::F32,
        },
        parameters: tessera_train::Parameters::zeros(common::ARCH),
    };
    let cid = stack.content.put(file.encode().unwrap().into()).await.unwrap();
    let (status, refused) = copier.submit_cid(&coordinator, task, 1, cid, 300).await;
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("parent checkpoint") && message.contains(&global), "{message}");

    let mut receipts = Vec::new();
    for worker in &workers[..3] {
        receipts.push(worker.train_and_submit(&stack, &coordinator, task, 1).await);
    }
    let original: tessera_storage::Cid = receipts[0]["update_cid"].as_str().unwrap().parse().unwrap();
    let (status, copied) = copier.submit_cid(&coordinator, task, 1, original, 300).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{copied}");

    let finalized = coordinator.wait_for_finalized(task, 1).await;
    let score = |worker: &common::SimWorker| {
        let me = format!("{:#x}", worker.address());
        finalized["scores"].as_array().unwrap().iter().find(|s| s["worker"] == me).cloned().unwrap()
    };
    let (author, copy) = (score(&workers[0]), score(copier));
    assert_eq!(copy["reward"], "0", "{copy}");
    assert_ne!(author["reward"], "0", "{author}");
    let manifest_cid: tessera_storage::Cid = finalized["manifest_cid"].as_str().unwrap().parse().unwrap();
    let bytes = stack.content.get(&manifest_cid, 64 << 20).await.unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let flags = manifest["result"]["flags"].as_array().unwrap();
    let flag = flags.iter().find(|f| f["worker"] == format!("{:#x}", copier.address())).unwrap();
    assert_eq!(flag["reason"], "Copy", "{flag}");
    assert_eq!(flag["evidence"]["source"]["worker"], format!("{:#x}", workers[0].address()), "{flag}");
    assert!(flag["evidence"]["residual"].as_f64().unwrap() < 1e-6, "{flag}");
}

/// A worker that sends a copy and then leaves during the round (notice) is slashed by that round's finalize all
/// the same: leaving is no escape from what it submitted, and the slash stays within the task's per-round bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_copies_and_leaves_during_the_round_is_slashed_all_the_same() {
    let (stack, task, workers) = Stack::with_task(4, 1, 120, 300).await;
    let coordinator = stack.coordinator_process(4, None).await;
    coordinator.wait_for_round(task, 1).await;
    let copier = &workers[3];
    let original = workers[0].train_and_submit(&stack, &coordinator, task, 1).await;
    let original: tessera_storage::Cid = original["update_cid"].as_str().unwrap().parse().unwrap();
    let (status, copied) = copier.submit_cid(&coordinator, task, 1, original, 300).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{copied}");
    let staked = copier.client.worker(U256::from(task), copier.address()).await.unwrap().stake.to::<u128>();
    copier.client.leave(U256::from(task)).await.unwrap();
    // The coordinator has seen it leave before the round is scored.
    let path = format!("/api/v1/tasks/{task}/workers/{:#x}", copier.address());
    coordinator.wait_for(&path, Duration::from_secs(60), |w| w["status"] == "exited").await;
    for worker in &workers[1..3] {
        worker.train_and_submit(&stack, &coordinator, task, 1).await;
    }
    coordinator.wait_for_finalized(task, 1).await;
    let left = copier.client.worker(U256::from(task), copier.address()).await.unwrap().stake.to::<u128>();
    assert!(left < staked, "the copier kept its whole stake: {left} of {staked}");
    // Once the round is finalized, what is left of its stake (if any) comes back.
    if left > 0 {
        copier.client.withdraw_stake(U256::from(task)).await.unwrap();
        assert_eq!(copier.client.worker(U256::from(task), copier.address()).await.unwrap().stake.to::<u128>(), 0);
    }
}

/// One task the coordinator cannot advance (it names a model architecture this coordinator does not know) does
/// not hold up its others: the failure is recorded, shown in the API and retried later, and the healthy task,
/// which comes after it in every pass, still finalizes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_task_does_not_hold_up_the_others() {
    let stack = Stack::start(1).await;
    let requester = stack.client(stack.requester());
    let (pool, stake) = (common::REWARD_TOKENS * common::TOKEN_UNIT, common::STAKE_TOKENS * common::TOKEN_UNIT);
    requester.approve(stack.chain.token, U256::from(pool)).await.unwrap();
    let (poisoned, _) = requester
        .create_task(IMarketplace::TaskConfig {
            rewardToken: stack.chain.token,
            rewardPool: U256::from(pool),
            stakeRequired: U256::from(stake),
            numRounds: 1,
            maxWorkers: 1,
            submissionWindow: 5,
            coordinator: stack.coordinator().address,
            modelArchitectureId: B256::repeat_byte(0xee),
            initialModelCid: B256::repeat_byte(0x11),
            validationSetCommitment: B256::ZERO,
            allowlistRoot: B256::ZERO,
            slashToRequester: false,
            maxSlashBps: 10_000,
            accessPolicy: alloy::primitives::B256::ZERO,
        })
        .await
        .unwrap();
    let poisoned: u64 = poisoned.to();
    let healthy = stack.create_task(1, 1, 30);
    assert!(poisoned < healthy, "the failing task comes first in every pass");
    stack.join_workers(poisoned, 1, 100).await;
    let workers = stack.join_workers(healthy, 1, 300).await;
    let coordinator = stack.coordinator_process(1, None).await;

    coordinator.wait_for_round(healthy, 1).await;
    workers[0].train_and_submit(&stack, &coordinator, healthy, 1).await;
    let finalized = coordinator.wait_for_finalized(healthy, 1).await;
    assert_eq!(finalized["scores"].as_array().unwrap().len(), 1, "{finalized}");
    assert_eq!(stack.finalize_events(healthy, 1).await, 1);

    let path = format!("/api/v1/tasks/{poisoned}");
    let stalled = coordinator.wait_for(&path, Duration::from_secs(60), |task| task["fault"].is_object()).await;

    let fault = &stalled["fault"];
    assert!(fault["message"].as_str().unwrap().contains("architecture"), "{fault}");
    let failures = stalled["fault"]["failures"].as_u64();
    let later = coordinator
        .wait_for(&path, Duration::from_secs(30), |task| task["fault"]["failures"].as_u64() > failures)
        .await;
    let (first, again) = (&stalled["fault"], &later["fault"]);
    assert_eq!(first["first_failed_at_ms"], again["first_failed_at_ms"], "the same fault, failing again");
    assert!(again["retry_at_ms"].as_i64() > first["retry_at_ms"].as_i64(), "{first} then {again}");
    assert!(coordinator.get(&format!("/api/v1/tasks/{healthy}")).await["fault"].is_null());
    let metrics = reqwest::get(format!("{}/metrics", coordinator.url)).await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("tessera_engine_errors_total 0\n"), "{metrics}");
}

/// A task whose content is slow to come (every fetch of its initial model is held 60 s, as by a far, overloaded
/// node) does not delay another task's rounds: each task has a runner of its own. With one loop over the tasks, the
/// fast task's rounds would wait out every one of those fetches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_task_does_not_delay_the_others() {
    let stack = Stack::start(1).await;
    let slow = stack.create_task_with(1, 1, 30, &["--seed", "7"]);
    let fast = stack.create_task(2, 1, 4);
    assert!(slow < fast, "the slow task comes first in every pass");
    let on_chain = stack.client(stack.requester()).task(U256::from(slow)).await.unwrap();
    let slow_model = tessera_storage::Cid::from_bytes32(on_chain.initialModelCid.0).unwrap();
    let held = SlowContent::start(stack.ipfs.api_url()).await.unwrap();
    held.hold(&slow_model.to_string(), Duration::from_secs(60));
    stack.join_workers(slow, 1, 100).await;
    let workers = stack.join_workers(fast, 1, 300).await;
    let settings = [("TESSERA_IPFS_API_URL", held.url().to_owned())];
    let coordinator = stack.coordinator_process_with(1, None, &settings).await;

    for round in 1..=2 {
        coordinator.wait_for_round(fast, round).await;
        workers[0].train_and_submit(&stack, &coordinator, fast, round).await;
        // Its only worker has submitted: the window closes on the engine's next tick.
        let closed = std::time::Instant::now();
        coordinator.wait_for_finalized(fast, round).await;
        let took = closed.elapsed();
        eprintln!("the fast task's round {round} finalized {} ms after its last submission", took.as_millis());
        assert!(took < Duration::from_secs(10), "round {round} finalized {took:?} after its last submission");
    }
    assert!(held.held() >= 1, "the slow task's model was asked for");
    let task = coordinator.get(&format!("/api/v1/tasks/{slow}")).await;
    assert_eq!(task["current_round"], 0, "the slow task is still waiting for its model: {task}");
}

/// A hosted RPC's bad minute: while the finalize's requests are rate limited (HTTP 429, JSON-RPC error -32005) or
/// left unanswered past the coordinator's RPC timeout, in turn, the coordinator keeps trying instead of giving the
/// finalize up as a revert, and the round is finalized once when the node answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_rpc_delays_the_finalize_and_it_is_sent_once() {
    let (stack, task, workers) = Stack::with_task(1, 1, 120, 300).await;
    let flaky = FlakyRpc::start(stack.anvil.url()).await.unwrap();
    let rpc = [("TESSERA_CHAIN_RPC_URL", flaky.url().to_owned()), ("TESSERA_RPC_TIMEOUT_SECS", "2".to_owned())];
    let coordinator = stack.coordinator_process_with(1, None, &rpc).await;
    coordinator.wait_for_round(task, 1).await;
    workers[0].train_and_submit(&stack, &coordinator, task, 1).await;
    // The finalize's gas estimate, and its broadcast, are refused or stalled for a while: neither is a revert.
    flaky.fail_for(Duration::from_secs(12), &["eth_estimateGas", "eth_sendRawTransaction"]);
    let finalized = coordinator.wait_for_finalized(task, 1).await;
    assert!(flaky.refused() >= 3, "the stand-in did not refuse and stall: {}", flaky.refused());
    assert!(
        coordinator.log_text().contains("timed out") || coordinator.log_text().contains("timeout"),
        "no timeout seen"
    );
    assert_eq!(finalized["scores"].as_array().unwrap().len(), 1, "{finalized}");
    assert_eq!(stack.finalize_events(task, 1).await, 1, "finalized more than once");
    let chain = stack.client(stack.requester());
    assert_eq!(chain.task(U256::from(task)).await.unwrap().status, TASK_ENDED);
}

/// Mines an empty block every 100 ms while `on`, so confirmations accrue on anvil, which otherwise mines only
/// when a transaction comes.
struct Miner {
    on: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Miner {
    fn start(provider: alloy::providers::DynProvider) -> Self {
        use alloy::providers::Provider;
        let on = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = on.clone();
        let task = tokio::spawn(async move {
            loop {
                if flag.load(std::sync::atomic::Ordering::SeqCst) {
                    let _: Result<serde_json::Value, _> = provider.raw_request("evm_mine".into(), ()).await;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Self { on, task }
    }

    fn set(&self, on: bool) {
        self.on.store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Miner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A reorganisation takes away the block holding the round's finalize. With two confirmations required the
/// coordinator has not counted it yet; it finds the transaction gone, sends it again with the same nonce, and the
/// round is finalized once on the canonical chain. The indexer holds exactly what a fresh index of that chain
/// holds, and the worker is paid once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finalize_orphaned_before_its_confirmations_is_sent_again_and_counted_once() {
    finalize_orphaned_by_a_reorganisation(2).await;
}

/// The same, but deeper than the confirmations (none, as on anvil by default): the finalize was counted and
/// indexed. The indexer sees the recorded block gone, rolls back its events and reopens the finalize in the
/// outbox, which is sent again; the end is the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finalize_orphaned_after_it_was_counted_is_rolled_back_and_sent_again() {
    finalize_orphaned_by_a_reorganisation(0).await;
}

async fn finalize_orphaned_by_a_reorganisation(confirmations: u64) {
    use alloy::providers::Provider;
    let (stack, task, workers) = Stack::with_task(1, 1, 120, 300).await;
    let miner = Miner::start(stack.chain.admin.clone());
    let settings = [("TESSERA_CONFIRMATIONS", confirmations.to_string())];
    let coordinator = stack.coordinator_process_with(1, None, &settings).await;
    coordinator.wait_for_round(task, 1).await;
    let db = tessera_db::Store::connect(&stack.database_url()).await.unwrap();
    let reader = stack.client(stack.requester());

    // No more blocks than the finalize's own until the reorganisation: it is mined, and counted only without
    // confirmations.
    miner.set(false);
    let snapshot: serde_json::Value = stack.chain.admin.raw_request("evm_snapshot".into(), ()).await.unwrap();
    workers[0].train_and_submit(&stack, &coordinator, task, 1).await;
    let started = std::time::Instant::now();
    while stack.finalize_events(task, 1).await == 0 {
        assert!(started.elapsed() < Duration::from_secs(120), "the finalize was never mined");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if confirmations == 0 {
        coordinator.wait_for_finalized(task, 1).await;
        let finalize_block = reader.block_number().await.unwrap();
        let started = std::time::Instant::now();
        while db.get_cursor().await.unwrap() < Some(finalize_block) {
            assert!(started.elapsed() < Duration::from_secs(60), "the finalize was never indexed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let indexed = db.list_events(Some(task)).await.unwrap();
        assert!(indexed.iter().any(|e| e.kind == "RoundFinalized"), "the finalize was indexed");
    } else {
        let round = coordinator.get(&format!("/api/v1/tasks/{task}/rounds/1")).await;
        assert_ne!(round["phase"], "finalized", "counted before its confirmations: {round}");
    }
    let reverted: bool = stack.chain.admin.raw_request("evm_revert".into(), (snapshot,)).await.unwrap();
    assert!(reverted);
    // The coordinator may notice first and send it again (it is woken as soon as anything moves): then the log says
    // so before the new copy is mined.
    let gone = stack.finalize_events(task, 1).await == 0;
    assert!(
        gone || coordinator.log_text().contains("re-sending outbox transaction"),
        "the reorganisation took the finalize away"
    );

    miner.set(true);
    coordinator.wait_for_finalized(task, 1).await;
    let started = std::time::Instant::now();
    while stack.finalize_events(task, 1).await == 0 {
        assert!(started.elapsed() < Duration::from_secs(120), "the finalize was never sent again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stack.finalize_events(task, 1).await, 1, "finalized once on the canonical chain");
    let log = coordinator.log_text();
    assert!(log.contains("re-sending outbox transaction"), "{log}");
    if confirmations == 0 {
        assert!(log.contains("a reorganisation dropped indexed blocks"), "{log}");
    }

    // The indexer's events are those of a fresh index of the canonical chain, up to the same block.
    miner.set(false);
    let started = std::time::Instant::now();
    let cursor = loop {
        let latest = reader.provider().get_block_number().await.unwrap();
        let cursor = db.get_cursor().await.unwrap();
        if cursor == Some(latest - confirmations) {
            break latest - confirmations;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the indexer stopped at {cursor:?} of {latest}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let dir = tempfile::tempdir().unwrap();
    let fresh = tessera_db::Store::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("fresh.db").display()))
        .await
        .unwrap();
    while fresh.get_cursor().await.unwrap() != Some(cursor) {
        tessera_coordinator::indexer::index_once(
            &reader,
            &fresh,
            cursor + 1 - fresh.get_cursor().await.unwrap().map_or(0, |c| c + 1),
        )
        .await
        .unwrap();
    }
    assert_eq!(db.list_events(None).await.unwrap(), fresh.list_events(None).await.unwrap());
    assert_eq!(db.list_workers(task).await.unwrap(), fresh.list_workers(task).await.unwrap());

    // Paid once.
    let proof = coordinator.get(&format!("/api/v1/tasks/{task}/workers/{:#x}/proof", workers[0].address())).await;
    let amount: U256 = proof["cumulative_amount"].as_str().unwrap().parse().unwrap();
    let nodes: Vec<B256> =
        proof["proof"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().parse().unwrap()).collect();
    miner.set(true);
    let before = stack.balance(workers[0].address()).await;
    workers[0].client.claim(U256::from(task), amount, nodes.clone()).await.unwrap();
    assert!(workers[0].client.claim(U256::from(task), amount, nodes).await.is_err(), "a second claim pays nothing");
    assert_eq!(stack.balance(workers[0].address()).await, before + amount);
}
