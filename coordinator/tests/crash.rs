//! Crash tests: the coordinator binary aborts at a crash point (after the submissions are in, after the
//! aggregate is published, after `finalizeRound` is sent and before it is mined) and is started again, or another
//! replica on the same PostgreSQL database takes its task over. Each time the round is finalized exactly once and
//! every submission is in its manifest.

mod common;

use common::Stack;
use std::time::Duration;
use tessera_coordinator::content::load_manifest;
use tessera_db::{RoundPhase, Store, TxState};

async fn crash_and_recover(point: &str) {
    let (stack, task, workers) = Stack::with_task(2, 1, 300, 200).await;
    let mut coordinator = stack.coordinator_process(2, Some(point)).await;
    coordinator.wait_for_round(task, 1).await;
    workers[0].train_and_submit(&stack, &coordinator, task, 1).await;
    let hold_blocks = point == "after-finalize-sent";
    if hold_blocks {
        stack.set_automine(false).await;
    }
    workers[1].train_and_submit(&stack, &coordinator, task, 1).await;
    let status = coordinator.wait_for_exit(Duration::from_secs(120)).await;
    assert!(!status.success(), "the coordinator should have aborted at {point}");
    assert!(coordinator.log_text().contains("aborting here"), "{}", coordinator.log_text());

    let db = Store::connect(&stack.database_url()).await.unwrap();
    let round = db.get_round(task, 1).await.unwrap().unwrap();
    let finalize = db.get_tx_by_key(&format!("finalize:{task}:1")).await.unwrap();
    match point {
        "after-submissions" => assert_eq!(round.phase, RoundPhase::Aggregating),
        "after-publish" => {
            assert_eq!(round.phase, RoundPhase::Publishing);
            assert!(round.manifest_cid.is_some() && finalize.is_none());
        }
        "after-finalize-sent" => {
            assert_eq!(round.phase, RoundPhase::Finalizing);
            assert_eq!(finalize.as_ref().map(|tx| tx.state), Some(TxState::Sent));
        }
        other => panic!("unknown crash point {other}"),
    }
    assert_eq!(db.list_submissions(task, 1).await.unwrap().len(), 2);
    let published = round.manifest_cid.clone();
    db.close().await;

    let coordinator = stack.coordinator_process(2, None).await;
    if hold_blocks {
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(stack.finalize_events(task, 1).await, 0, "mined while blocks were held");
        stack.set_automine(true).await;
    }
    let finalized = coordinator.wait_for_finalized(task, 1).await;
    assert_eq!(stack.finalize_events(task, 1).await, 1, "finalized more than once");
    if let Some(cid) = published {
        // The rerun after the crash computed the same round, to the byte.
        assert_eq!(finalized["manifest_cid"].as_str(), Some(cid.as_str()));
    }

    let db = Store::connect(&stack.database_url()).await.unwrap();
    let txs = db.list_txs(Some(task)).await.unwrap();
    let finalizes: Vec<_> = txs.iter().filter(|tx| tx.kind == "finalize_round").collect();
    assert_eq!(finalizes.len(), 1, "{txs:?}");
    assert_eq!(finalizes[0].state, TxState::Mined, "{txs:?}");
    if hold_blocks {
        assert_eq!(finalizes[0].attempts, 1, "the pending transaction was sent again: {txs:?}");
    }
    let manifest =
        load_manifest(stack.content.as_ref(), finalized["manifest_cid"].as_str().unwrap(), None).await.unwrap();
    assert_eq!(manifest.submissions.len(), 2, "a submission was lost");
    db.close().await;

    let (status, report) = stack.verify(task);
    assert!(status.success(), "verify failed:\n{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_submissions_are_in_loses_nothing() {
    crash_and_recover("after-submissions").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_aggregate_is_published_loses_nothing() {
    crash_and_recover("after-publish").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_finalize_is_sent_finalizes_once() {
    crash_and_recover("after-finalize-sent").await;
}

/// Two coordinator replicas on one PostgreSQL database, each serving the API: the first drives the task and dies
/// mid-round (it aborts once the submissions are in, holding its leases); the second, which took half of the
/// submissions, takes the task and the chain writer over once the leases lapse, finalizes the round exactly once
/// and runs the next. No nonce goes to two transactions, and `verify` passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_takes_over_the_round_of_one_killed_on_postgres() {
    // The simulated workers hold tensors, which are not `Sync`: the body runs on a thread of its own.
    let on_own_thread = |db| async move {
        let body = move || tokio::runtime::Runtime::new().unwrap().block_on(replica_takes_over(db));
        tokio::task::spawn_blocking(body).await.unwrap();
    };
    tessera_db::test_utils::run_postgres(on_own_thread).await;
}

async fn replica_takes_over(db: tessera_db::test_utils::TestDb) {
    let (stack, task, workers) = Stack::with_task(2, 2, 300, 200).await;
    let replica = |name: &str| {
        vec![
            ("TESSERA_DATABASE_URL", db.url().to_owned()),
            ("TESSERA_LEASE_SECS", "3".to_owned()),
            ("TESSERA_SPOOL_DIR", stack.dir.path().join(name).display().to_string()),
        ]
    };
    let mut first = stack.coordinator_process_with(2, Some("after-submissions"), &replica("first")).await;
    first.wait_for_round(task, 1).await;
    let second = stack.coordinator_process_with(2, None, &replica("second")).await;
    workers[0].train_and_submit(&stack, &first, task, 1).await;
    workers[1].train_and_submit(&stack, &second, task, 1).await;
    let status = first.wait_for_exit(Duration::from_secs(120)).await;
    assert!(!status.success() && first.log_text().contains("aborting here"), "{}", first.log_text());
    let died = std::time::Instant::now();

    let finalized = second.wait_for_finalized(task, 1).await;
    eprintln!("the second replica finalized round 1 {} ms after the first died", died.elapsed().as_millis());
    assert_eq!(finalized["scores"].as_array().unwrap().len(), 2, "{finalized}");
    assert_eq!(stack.finalize_events(task, 1).await, 1, "finalized more than once");
    second.wait_for_round(task, 2).await;
    for worker in &workers {
        worker.train_and_submit(&stack, &second, task, 2).await;
    }
    second.wait_for_finalized(task, 2).await;
    assert_eq!(stack.finalize_events(task, 2).await, 1, "finalized more than once");
    assert!(second.log_text().contains("round phase"), "the second replica drove the task:\n{}", second.log_text());

    let store = db.store();
    let txs = store.list_txs(None).await.unwrap();
    assert!(txs.iter().all(|tx| tx.state == TxState::Mined), "{txs:?}");
    let mut nonces: Vec<u64> = txs.iter().filter_map(|tx| tx.nonce).collect();
    nonces.sort_unstable();
    let sent = nonces.len();
    nonces.dedup();
    assert_eq!(nonces.len(), sent, "a nonce went to two transactions: {txs:?}");
    assert_eq!(sent, 4, "two starts and two finalizes: {txs:?}");

    let (status, report) = stack.verify(task);
    assert!(status.success(), "verify failed:\n{report}");
    assert!(report.contains("2 round(s) verified"), "{report}");
}
