//! Every test body runs twice: on a fresh SQLite file, and on a fresh PostgreSQL database when
//! `TEST_POSTGRES_URL` (or `DATABASE_URL`) is set (otherwise the PostgreSQL half prints why and passes).

use serde_json::json;
use tessera_db::{
    Amount, Backend, Claim, Derived, Error, EventRecord, Membership, NewChainTx, NewRound, NewScore, NewSubmission,
    NewTask, Reputation, RoundMetrics, RoundPatch, RoundPhase, Store, TaskFault, TaskStatus, TxState, Worker,
    test_utils::TestDb,
};
use tokio::task::JoinSet;

/// Runs each named `async fn(TestDb)` as `<name>::sqlite` and `<name>::postgres`.
macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                tessera_db::test_utils::run_sqlite(super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                tessera_db::test_utils::run_postgres(super::$name).await;
            }
        }
    )+};
}

on_both!(
    migrations_apply_on_a_fresh_database,
    tasks_upsert_without_resetting_progress,
    round_phase_is_a_compare_and_set,
    duplicate_submissions_rejected_and_sequences_dense,
    outbox_enqueue_is_idempotent_by_key,
    in_flight_txs_survive_a_crash,
    indexed_events_are_idempotent,
    a_rollback_takes_back_what_dropped_blocks_applied,
    scores_replace_atomically,
    amounts_and_floats_round_trip_exactly,
    drafts_are_published_once_a_task_names_them,
    pending_drafts_are_capped_and_expire_unless_a_task_names_them,
    only_active_workers_submissions_count_towards_an_early_close,
    task_faults_are_kept_until_cleared,
    a_lease_has_one_holder_until_it_lapses,
);

fn address(n: u64) -> String {
    format!("0x{n:040x}")
}

fn hash(n: u64) -> String {
    format!("0x{n:064x}")
}

fn new_task(task_id: u64) -> NewTask {
    NewTask {
        task_id,
        requester: address(1),
        coordinator: address(2),
        reward_token: address(3),
        reward_pool: Amount(1_000_000),
        stake_required: Amount(100),
        num_rounds: 5,
        max_workers: 10,
        submission_window_secs: 60,
        model_architecture_id: hash(7),
        initial_model_cid: "QmInitial".into(),
        created_at_ms: 1_700_000_000_000,
        config: json!({ "aggregator": "fedavg", "local_epochs": 1 }),
    }
}

fn new_round(task_id: u64, round: u32) -> NewRound {
    NewRound {
        task_id,
        round,
        global_model_cid: format!("QmGlobal{round}"),
        deadline_ms: 1_700_000_060_000,
        started_at_ms: 1_700_000_000_000,
    }
}

fn submission(task_id: u64, round: u32, worker: u64, digest: u64) -> NewSubmission {
    NewSubmission {
        task_id,
        round,
        worker: address(worker),
        update_cid: format!("QmUpdate{worker}"),
        num_samples: 600,
        signature: format!("0x{}", "ab".repeat(65)),
        digest: hash(digest),
        received_at_ms: 1_700_000_010_000,
    }
}

fn score(worker: u64, value: f64) -> NewScore {
    NewScore {
        worker: address(worker),
        score: value,
        reward: Amount(u128::from(worker) * 10),
        flags: vec![],
        slashed: Amount::ZERO,
        slash_reason: None,
        reputation: Some(value / 2.0),
        evidence: json!([]),
    }
}

fn tx(key: &str) -> NewChainTx {
    NewChainTx {
        idempotency_key: key.into(),
        kind: "finalize_round".into(),
        task_id: Some(1),
        round: Some(1),
        payload: json!({ "newModelCid": "QmNew", "rewardsRoot": hash(9) }),
    }
}

fn event(block: u64, log_index: u64) -> EventRecord {
    EventRecord {
        block_number: block,
        block_hash: Some(hash(block)),
        log_index,
        tx_hash: hash(block * 100 + log_index),
        kind: "WorkerJoined".into(),
        task_id: Some(1),
        data: json!({ "worker": address(log_index), "stake": "100" }),
    }
}

/// A task with round 1 collecting.
async fn task_with_round(store: &Store) {
    store.upsert_task(&new_task(1)).await.unwrap();
    store.insert_round(&new_round(1, 1)).await.unwrap();
}

async fn migrations_apply_on_a_fresh_database(mut db: TestDb) {
    let store = db.store().clone();
    let expected = if db.url().starts_with("sqlite") { Backend::Sqlite } else { Backend::Postgres };
    assert_eq!(store.backend(), expected);
    store.ping().await.unwrap();
    assert!(store.list_tasks(None).await.unwrap().is_empty());
    assert!(store.list_txs(None).await.unwrap().is_empty());
    assert!(store.list_events(None).await.unwrap().is_empty());
    assert_eq!(store.get_cursor().await.unwrap(), None);
    assert_eq!(store.next_unsent().await.unwrap(), None);

    // Connecting again finds every migration applied and changes nothing.
    store.upsert_task(&new_task(1)).await.unwrap();
    let store = db.reopen().await.unwrap();
    assert_eq!(store.list_tasks(None).await.unwrap().len(), 1);

    assert!(matches!(Store::connect("mysql://localhost/x").await, Err(Error::UnsupportedUrl { .. })));
}

async fn tasks_upsert_without_resetting_progress(db: TestDb) {
    let store = db.store();
    let task = store.upsert_task(&new_task(1)).await.unwrap();
    assert_eq!((task.status, task.current_round), (TaskStatus::Open, 0));
    assert_eq!(task.config, json!({ "aggregator": "fedavg", "local_epochs": 1 }));
    store.upsert_task(&new_task(2)).await.unwrap();

    store.insert_round(&new_round(1, 1)).await.unwrap();
    let task = store.get_task(1).await.unwrap().unwrap();
    assert_eq!((task.status, task.current_round), (TaskStatus::Running, 1));

    // Re-indexing TaskCreated updates the chain's fields and keeps the coordinator's progress.
    let mut again = new_task(1);
    again.config = json!({ "aggregator": "median" });
    let task = store.upsert_task(&again).await.unwrap();
    assert_eq!((task.status, task.current_round), (TaskStatus::Running, 1));
    assert_eq!(task.config, json!({ "aggregator": "median" }));

    store.set_task_status(2, TaskStatus::Cancelled).await.unwrap();
    let ids = |tasks: Vec<tessera_db::Task>| tasks.into_iter().map(|t| t.task_id).collect::<Vec<_>>();
    assert_eq!(ids(store.list_tasks(None).await.unwrap()), [1, 2]);
    assert_eq!(ids(store.list_tasks(Some(TaskStatus::Running)).await.unwrap()), [1]);
    assert_eq!(ids(store.list_tasks(Some(TaskStatus::Cancelled)).await.unwrap()), [2]);
    assert_eq!(store.get_task(3).await.unwrap(), None);
    assert!(matches!(store.set_task_status(3, TaskStatus::Ended).await, Err(Error::NotFound { .. })));
}

async fn round_phase_is_a_compare_and_set(db: TestDb) {
    let store = db.store();
    store.upsert_task(&new_task(1)).await.unwrap();
    assert!(matches!(store.insert_round(&new_round(9, 1)).await, Err(Error::NotFound { .. })));

    // Two advancers race on each of ten rounds, each with its own result: exactly one wins, and only its
    // result is stored.
    for round in 1..=10 {
        let stored = store.insert_round(&new_round(1, round)).await.unwrap();
        assert_eq!(stored.phase, RoundPhase::Collecting);
        let patch = |cid: &str| RoundPatch { new_model_cid: Some(cid.into()), ..RoundPatch::default() };
        let (patch_a, patch_b) = (patch("QmA"), patch("QmB"));
        let (a, b) = tokio::join!(
            store.advance_round_phase_with(1, round, RoundPhase::Collecting, RoundPhase::Aggregating, &patch_a),
            store.advance_round_phase_with(1, round, RoundPhase::Collecting, RoundPhase::Aggregating, &patch_b),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a ^ b, "round {round}: exactly one advancer wins, got {a} and {b}");
        let stored = store.get_round(1, round).await.unwrap().unwrap();
        assert_eq!(stored.phase, RoundPhase::Aggregating);
        assert_eq!(stored.new_model_cid.as_deref(), Some(if a { "QmA" } else { "QmB" }));
    }
    assert!(matches!(store.insert_round(&new_round(1, 3)).await, Err(Error::Duplicate { what: "round" })));
    assert_eq!(store.get_task(1).await.unwrap().unwrap().current_round, 10);

    // A replica that missed a step loses; a restarted process retrying its step loses too.
    assert!(!store.advance_round_phase(1, 1, RoundPhase::Collecting, RoundPhase::Aggregating).await.unwrap());
    assert!(store.advance_round_phase(1, 1, RoundPhase::Aggregating, RoundPhase::Publishing).await.unwrap());
    let metrics =
        RoundMetrics { accuracy: Some(0.91), loss: Some(0.27), scoring_ms: Some(12), ..RoundMetrics::default() };
    let finalize = RoundPatch {
        manifest_cid: Some("QmManifest".into()),
        rewards_root: Some(hash(0xABC).to_uppercase().replace("0X", "0x")),
        cumulative_rewards_total: Some(Amount(12_345)),
        metrics: Some(metrics),
        finalized_at_ms: Some(1_700_000_100_000),
        ..RoundPatch::default()
    };
    assert!(
        store.advance_round_phase_with(1, 1, RoundPhase::Publishing, RoundPhase::Finalized, &finalize).await.unwrap()
    );
    let round = store.get_round(1, 1).await.unwrap().unwrap();
    assert_eq!(round.phase, RoundPhase::Finalized);
    assert_eq!(round.manifest_cid.as_deref(), Some("QmManifest"));
    assert_eq!(round.rewards_root, Some(hash(0xabc)));
    assert_eq!(round.cumulative_rewards_total, Some(Amount(12_345)));
    assert_eq!(round.metrics, Some(metrics));
    assert_eq!(round.finalized_at_ms, Some(1_700_000_100_000));
    assert!(round.new_model_cid.is_some(), "a patch's None keeps the stored value");

    assert!(matches!(
        store.advance_round_phase(1, 2, RoundPhase::Aggregating, RoundPhase::Collecting).await,
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        store.advance_round_phase(1, 99, RoundPhase::Collecting, RoundPhase::Aggregating).await,
        Err(Error::NotFound { .. })
    ));
    let rounds: Vec<u32> = store.list_rounds(1).await.unwrap().iter().map(|r| r.round).collect();
    assert_eq!(rounds, (1..=10).collect::<Vec<_>>());
}

async fn duplicate_submissions_rejected_and_sequences_dense(db: TestDb) {
    let store = db.store();
    task_with_round(store).await;

    // Twelve workers submit at once, each twice, and four more replay another worker's signed message: twelve
    // accepted, sixteen rejected as duplicates.
    let mut set = JoinSet::new();
    for worker in 1..=12 {
        for attempt in 0..2 {
            let store = store.clone();
            set.spawn(
                async move { (worker, attempt, store.insert_submission(&submission(1, 1, worker, worker)).await) },
            );
        }
    }
    for copier in 100..104 {
        let store = store.clone();
        set.spawn(async move { (copier, 0, store.insert_submission(&submission(1, 1, copier, 1)).await) });
    }
    let (mut accepted, mut duplicates) = (0, 0);
    while let Some(joined) = set.join_next().await {
        match joined.unwrap() {
            (_, _, Ok(stored)) => {
                accepted += 1;
                assert!(stored.sequence < 12);
            }
            (_, _, Err(Error::Duplicate { .. })) => duplicates += 1,
            (worker, attempt, Err(e)) => panic!("worker {worker} attempt {attempt}: {e}"),
        }
    }
    assert_eq!((accepted, duplicates), (12, 16));

    let listed = store.list_submissions(1, 1).await.unwrap();
    let sequences: Vec<u64> = listed.iter().map(|s| s.sequence).collect();
    assert_eq!(sequences, (0..12).collect::<Vec<_>>(), "dense, in receipt order");
    let mut workers: Vec<String> = listed.iter().map(|s| s.worker.clone()).collect();
    workers.sort();
    workers.dedup();
    assert_eq!(workers.len(), 12);
    assert_eq!(store.count_submissions(1, 1).await.unwrap(), 12);
    assert_eq!(store.get_round(1, 1).await.unwrap().unwrap().submission_count, 12);

    // Which duplicate is which (the copiers raced worker 1 for its digest, so take whoever got in first).
    let first = &listed[0];
    let mut same_worker = submission(1, 1, 0, 500);
    same_worker.worker = first.worker.clone();
    assert!(matches!(
        store.insert_submission(&same_worker).await,
        Err(Error::Duplicate { what: "submission by this worker in this round" })
    ));
    let mut replay = submission(1, 1, 200, 0);
    replay.digest = first.digest.clone();
    assert!(matches!(store.insert_submission(&replay).await, Err(Error::Duplicate { what: "submission digest" })));
    // Addresses compare in lowercase whatever case they come in.
    let mut shouting = submission(1, 1, 0xabc, 300);
    shouting.worker = shouting.worker.to_uppercase().replace("0X", "0x");
    let stored = store.insert_submission(&shouting).await.unwrap();
    assert_eq!((stored.worker, stored.sequence), (address(0xabc), 12), "rejections used no sequence number");

    store.set_receipt_signature(1, 1, &address(3), &format!("0x{}", "cd".repeat(65))).await.unwrap();
    let receipt = store.get_submission(1, 1, &address(3)).await.unwrap().unwrap().receipt_signature;
    assert_eq!(receipt, Some(format!("0x{}", "cd".repeat(65))));
    assert!(matches!(store.set_receipt_signature(1, 1, &address(77), "0x01").await, Err(Error::NotFound { .. })));

    // Once the round stops collecting, nothing more gets in; unknown rounds are not found.
    assert!(store.advance_round_phase(1, 1, RoundPhase::Collecting, RoundPhase::Aggregating).await.unwrap());
    assert!(matches!(
        store.insert_submission(&submission(1, 1, 50, 50)).await,
        Err(Error::PhaseConflict { actual: RoundPhase::Aggregating, .. })
    ));
    assert!(matches!(store.insert_submission(&submission(1, 2, 50, 51)).await, Err(Error::NotFound { .. })));
    let mut bad = submission(1, 1, 60, 60);
    bad.digest = "not hex".into();
    assert!(matches!(store.insert_submission(&bad).await, Err(Error::Invalid { .. })));
    assert_eq!(store.count_submissions(1, 1).await.unwrap(), 13);
}

async fn outbox_enqueue_is_idempotent_by_key(db: TestDb) {
    let store = db.store();
    // The same intent, enqueued four times at once (two replicas, retries): one row.
    let intent = tx("finalize:1:1");
    let (a, b, c, d) =
        tokio::join!(store.enqueue(&intent), store.enqueue(&intent), store.enqueue(&intent), store.enqueue(&intent));
    let first = a.unwrap();
    for other in [b, c, d] {
        assert_eq!(other.unwrap(), first);
    }
    assert_eq!((first.id, first.state, first.attempts), (1, TxState::Pending, 0));
    assert_eq!(first.payload, tx("finalize:1:1").payload);
    let mut changed = tx("finalize:1:1");
    changed.payload = json!({ "other": true });
    assert_eq!(store.enqueue(&changed).await.unwrap(), first, "the key decides, not the payload");

    let second = store.enqueue(&tx("start:1:2")).await.unwrap();
    assert_eq!(second.id, 2, "ids stay dense: the lost races gave theirs back");
    assert_eq!(store.list_txs(None).await.unwrap().len(), 2);
    assert_eq!(store.list_txs(Some(1)).await.unwrap().len(), 2);
    assert!(store.list_txs(Some(2)).await.unwrap().is_empty());
    assert_eq!(store.get_tx_by_key("start:1:2").await.unwrap(), Some(second.clone()));
    assert_eq!(store.get_tx_by_key("nope").await.unwrap(), None);

    // Sending is a compare-and-set from pending: of two senders, one sends.
    assert_eq!(store.next_unsent().await.unwrap().map(|t| t.id), Some(1));
    let (hash_a, hash_b) = (hash(0xaa), hash(0xbb));
    let (x, y) = tokio::join!(store.mark_sent(1, 7, &hash_a), store.mark_sent(1, 8, &hash_b));
    assert!(x.unwrap() ^ y.unwrap());
    let sent = store.get_tx(1).await.unwrap().unwrap();
    assert_eq!((sent.state, sent.attempts), (TxState::Sent, 1));
    assert!(
        matches!((sent.nonce, sent.tx_hash.as_deref()), (Some(7), Some(h)) if h == hash(0xaa))
            || matches!((sent.nonce, sent.tx_hash.as_deref()), (Some(8), Some(h)) if h == hash(0xbb))
    );
    assert_eq!(store.next_unsent().await.unwrap().map(|t| t.id), Some(2));

    assert!(store.mark_resent(1, 9, &hash(0xcc)).await.unwrap());
    assert!(store.mark_mined(1, 1234).await.unwrap());
    assert!(!store.mark_mined(1, 1235).await.unwrap());
    assert!(!store.mark_failed(1, "too late").await.unwrap());
    let mined = store.get_tx(1).await.unwrap().unwrap();
    assert_eq!(
        (mined.state, mined.block_number, mined.nonce, mined.attempts),
        (TxState::Mined, Some(1234), Some(9), 2)
    );
    assert_eq!(mined.tx_hash, Some(hash(0xcc)));
    assert_eq!(store.enqueue(&tx("finalize:1:1")).await.unwrap().state, TxState::Mined, "mined intents stay done");

    store.record_tx_error(2, "rpc timeout").await.unwrap();
    assert!(store.mark_failed(2, "reverted: MarketplaceRoundOpen").await.unwrap());
    let failed = store.get_tx(2).await.unwrap().unwrap();
    assert_eq!((failed.state, failed.last_error.as_deref()), (TxState::Failed, Some("reverted: MarketplaceRoundOpen")));
    assert!(!store.mark_sent(2, 1, &hash(1)).await.unwrap());
    assert_eq!(store.next_unsent().await.unwrap(), None);

    let third = store.enqueue(&tx("claim:1")).await.unwrap();
    assert!(store.mark_sent(third.id, 10, &hash(0xdd)).await.unwrap());
    assert!(store.mark_replaced(third.id, "nonce 10 used by 0xee").await.unwrap());
    assert_eq!(store.get_tx(third.id).await.unwrap().unwrap().state, TxState::Replaced);
    assert!(matches!(store.mark_mined(99, 1).await, Err(Error::NotFound { .. })));
}

async fn in_flight_txs_survive_a_crash(mut db: TestDb) {
    let store = db.store().clone();
    task_with_round(&store).await;
    store.advance_round_phase(1, 1, RoundPhase::Collecting, RoundPhase::Aggregating).await.unwrap();
    for key in ["a", "b", "c"] {
        store.enqueue(&tx(key)).await.unwrap();
    }
    store.mark_sent(1, 0, &hash(0x1)).await.unwrap();
    store.mark_mined(1, 100).await.unwrap();
    store.mark_sent(2, 1, &hash(0x2)).await.unwrap();
    drop(store);

    // A new process opens the same database.
    let store = db.reopen().await.unwrap();
    let in_flight = store.list_in_flight().await.unwrap();
    assert_eq!(in_flight.len(), 1);
    assert_eq!((in_flight[0].id, in_flight[0].nonce, in_flight[0].tx_hash.clone()), (2, Some(1), Some(hash(0x2))));
    assert_eq!(store.next_unsent().await.unwrap().map(|t| t.idempotency_key), Some("c".into()));
    assert_eq!(store.get_round(1, 1).await.unwrap().unwrap().phase, RoundPhase::Aggregating);
    // It reconciles: the receipt shows the transaction mined.
    assert!(store.mark_mined(2, 101).await.unwrap());
    assert!(store.list_in_flight().await.unwrap().is_empty());
    assert_eq!(store.enqueue(&tx("d")).await.unwrap().id, 4, "ids continue after a restart");
}

async fn indexed_events_are_idempotent(db: TestDb) {
    let store = db.store();
    let batch: Vec<EventRecord> = vec![event(10, 0), event(10, 1), event(11, 0)];
    assert_eq!(store.record_events(&batch, 11, &hash(11)).await.unwrap(), 3);
    assert_eq!(store.get_cursor().await.unwrap(), Some(11));

    // After a crash the indexer replays from an older block: only the new event is added.
    let replay: Vec<EventRecord> = vec![event(10, 1), event(11, 0), event(12, 3)];
    assert_eq!(store.record_events(&replay, 12, &hash(12)).await.unwrap(), 1);
    assert_eq!(store.record_events(&replay, 12, &hash(12)).await.unwrap(), 0);
    assert_eq!(store.get_cursor().await.unwrap(), Some(12));
    let positions: Vec<(u64, u64)> =
        store.list_events(None).await.unwrap().iter().map(|e| (e.block_number, e.log_index)).collect();
    assert_eq!(positions, [(10, 0), (10, 1), (11, 0), (12, 3)]);
    assert_eq!(store.list_events(Some(1)).await.unwrap()[3], event(12, 3));
    assert!(store.list_events(Some(2)).await.unwrap().is_empty());
    assert_eq!(store.record_events(&[], 13, &hash(13)).await.unwrap(), 0);
    assert_eq!(store.get_cursor().await.unwrap(), Some(13));

    // A batch that fails (a bad hash) records nothing, and leaves the cursor.
    let mut bad = event(14, 0);
    bad.tx_hash = "0xzz".into();
    assert!(store.record_events(&[event(13, 0), bad], 14, &hash(14)).await.is_err());
    assert_eq!(store.get_cursor().await.unwrap(), Some(13));
    assert_eq!(store.list_events(None).await.unwrap().len(), 4);

    // What the indexer derives: newer blocks win, replays of older ones do not undo them.
    let joined = Worker {
        task_id: 1,
        worker: address(5),
        stake: Amount(100),
        status: Membership::Active,
        joined_at_block: 10,
        updated_at_block: 10,
    };
    let left = Worker { status: Membership::Exited, stake: Amount::ZERO, updated_at_block: 12, ..joined.clone() };
    assert!(store.upsert_worker(&joined).await.unwrap());
    assert!(store.upsert_worker(&left).await.unwrap());
    assert!(!store.upsert_worker(&joined).await.unwrap());
    assert_eq!(store.get_worker(1, &address(5)).await.unwrap(), Some(left.clone()));
    assert_eq!(store.list_workers(1).await.unwrap(), [left]);

    let claim = |amount, block| Claim {
        task_id: 1,
        worker: address(5),
        cumulative_claimed: Amount(amount),
        last_tx_hash: hash(block),
        block_number: block,
    };
    assert!(store.upsert_claim(&claim(50, 20)).await.unwrap());
    assert!(store.upsert_claim(&claim(80, 25)).await.unwrap());
    assert!(!store.upsert_claim(&claim(50, 20)).await.unwrap());
    assert_eq!(store.get_claim(1, &address(5)).await.unwrap(), Some(claim(80, 25)));
    assert_eq!(store.list_claims(1).await.unwrap(), [claim(80, 25)]);
}

async fn a_rollback_takes_back_what_dropped_blocks_applied(db: TestDb) {
    let store = db.store();
    task_with_round(store).await;
    store.record_events(&[event(10, 0), event(10, 1)], 11, &hash(11)).await.unwrap();
    store.record_events(&[event(12, 0)], 13, &hash(13)).await.unwrap();
    let blocks: Vec<u64> = store.indexed_blocks().await.unwrap().iter().map(|(block, _)| *block).collect();
    assert_eq!(blocks, [13, 12, 11, 10], "the cursor's block and every event's, newest first");
    let worker = |n: u64, block: u64| Worker {
        task_id: 1,
        worker: address(n),
        stake: Amount(100),
        status: Membership::Active,
        joined_at_block: block,
        updated_at_block: block,
    };
    for (n, block) in [(0, 10), (1, 10), (3, 12)] {
        store.upsert_worker(&worker(n, block)).await.unwrap();
    }
    // A finalize counted mined in block 12, another in block 10.
    for (key, block) in [("a", 10), ("b", 12)] {
        let id = store.enqueue(&tx(key)).await.unwrap().id;
        store.mark_sent(id, id, &hash(id)).await.unwrap();
        store.mark_mined(id, block).await.unwrap();
    }

    let kept = Derived { workers: vec![worker(0, 10), worker(1, 10)], claims: vec![] };
    let rolled = store.roll_back_events(Some(11), &[1], &kept).await.unwrap();
    assert_eq!(rolled.events, [event(12, 0)]);
    assert_eq!(rolled.reopened_txs, 1);
    assert_eq!(store.get_cursor().await.unwrap(), Some(11));
    assert_eq!(store.list_events(None).await.unwrap(), [event(10, 0), event(10, 1)]);
    assert_eq!(store.list_workers(1).await.unwrap(), kept.workers);
    let states: Vec<TxState> = store.list_txs(None).await.unwrap().iter().map(|tx| tx.state).collect();
    assert_eq!(states, [TxState::Mined, TxState::Sent], "the finalize of the dropped block is reconciled again");
    assert_eq!(store.list_in_flight().await.unwrap()[0].block_number, None);
    let blocks: Vec<u64> = store.indexed_blocks().await.unwrap().iter().map(|(block, _)| *block).collect();
    assert_eq!(blocks, [11, 10]);

    // Back to the start: nothing is left, and the next pass indexes from block 0.
    store.roll_back_events(None, &[1], &Derived::default()).await.unwrap();
    assert_eq!(store.get_cursor().await.unwrap(), None);
    assert!(store.list_events(None).await.unwrap().is_empty());
    assert!(store.list_workers(1).await.unwrap().is_empty());
    assert!(store.indexed_blocks().await.unwrap().is_empty());
}

async fn scores_replace_atomically(db: TestDb) {
    let store = db.store();
    task_with_round(store).await;
    store.insert_round(&new_round(1, 2)).await.unwrap();

    store.replace_scores(1, 1, &[score(1, 0.5), score(2, 0.25), score(3, -0.125)]).await.unwrap();
    let mut slashed = score(2, 0.0);
    slashed.flags = vec!["copy".into()];
    slashed.slashed = Amount(100);
    slashed.slash_reason = Some("copied 0x…01".into());
    slashed.evidence = json!([{ "reason": "copy", "evidence": { "kind": "near_copy", "cosine": 0.9999 } }]);
    store.replace_scores(1, 1, &[score(1, 0.75), slashed.clone()]).await.unwrap();
    let scores = store.list_scores(1, 1).await.unwrap();
    assert_eq!(scores.len(), 2, "the third score is gone");
    assert_eq!((scores[0].worker.as_str(), scores[0].score), (address(1).as_str(), 0.75));
    assert_eq!(
        (&scores[1].flags, scores[1].slashed, scores[1].slash_reason.as_deref()),
        (&slashed.flags, Amount(100), slashed.slash_reason.as_deref())
    );
    assert_eq!(scores[1].evidence, slashed.evidence, "the evidence round-trips");

    // A replacement that fails part-way (the same worker twice) leaves the old set whole.
    let failed = store.replace_scores(1, 1, &[score(7, 1.0), score(8, 1.0), score(7, 0.5)]).await;
    assert!(matches!(failed, Err(Error::Duplicate { .. })), "{failed:?}");
    assert_eq!(store.list_scores(1, 1).await.unwrap(), scores);
    assert!(matches!(store.replace_scores(1, 1, &[score(9, f64::NAN)]).await, Err(Error::Invalid { .. })));
    assert!(matches!(store.replace_scores(1, 9, &[score(9, 1.0)]).await, Err(Error::NotFound { .. })));
    assert_eq!(store.list_scores(1, 1).await.unwrap(), scores);

    // Concurrent replacements: readers only ever see one whole set.
    let (ones, twos) = ([score(1, 1.0), score(2, 1.0)], [score(3, 2.0), score(4, 2.0), score(5, 2.0)]);
    let (a, b) = tokio::join!(store.replace_scores(1, 2, &ones), store.replace_scores(1, 2, &twos));
    a.unwrap();
    b.unwrap();
    let round2: Vec<f64> = store.list_scores(1, 2).await.unwrap().iter().map(|s| s.score).collect();
    assert!(round2 == [1.0, 1.0] || round2 == [2.0, 2.0, 2.0], "{round2:?}");

    store.replace_scores(1, 2, &[score(1, 0.9)]).await.unwrap();
    let history: Vec<(u32, f64)> =
        store.worker_scores(1, &address(1)).await.unwrap().iter().map(|s| (s.round, s.score)).collect();
    assert_eq!(history, [(1, 0.75), (2, 0.9)]);

    let reputation = |worker, value, round| Reputation {
        task_id: 1,
        worker: address(worker),
        reputation: value,
        participation: json!({ "intervals": [1, 1] }),
        as_of_round: round,
    };
    store.upsert_reputations(&[reputation(1, 0.5, 1), reputation(2, 0.5, 1)]).await.unwrap();
    store.upsert_reputations(&[reputation(2, 0.3, 2)]).await.unwrap();
    assert_eq!(store.list_reputations(1).await.unwrap(), [reputation(1, 0.5, 1), reputation(2, 0.3, 2)]);
    let mut orphan = reputation(3, 0.1, 1);
    orphan.task_id = 42;
    assert!(matches!(store.upsert_reputations(&[reputation(3, 0.1, 1), orphan]).await, Err(Error::NotFound { .. })));
    assert_eq!(store.list_reputations(1).await.unwrap().len(), 2, "the failed batch left nothing behind");
}

async fn amounts_and_floats_round_trip_exactly(db: TestDb) {
    let store = db.store();
    let max = Amount(u128::MAX);
    let mut task = new_task(u64::try_from(i64::MAX).unwrap());
    task.reward_pool = max;
    task.stake_required = Amount(u128::MAX - 1);
    let stored = store.upsert_task(&task).await.unwrap();
    assert_eq!((stored.reward_pool, stored.stake_required), (max, Amount(u128::MAX - 1)));
    assert_eq!(store.get_task(task.task_id).await.unwrap().unwrap().reward_pool.to_string(), u128::MAX.to_string());
    assert!(matches!(store.upsert_task(&new_task(u64::MAX)).await, Err(Error::Invalid { .. })));

    store.upsert_task(&new_task(1)).await.unwrap();
    store.insert_round(&new_round(1, 1)).await.unwrap();
    let floats = [0.1 + 0.2, 1e-300, f64::MAX, f64::MIN_POSITIVE, -1.0 / 3.0, 5e-324, 123_456_789.012_345_67];
    let rows: Vec<NewScore> = floats
        .iter()
        .enumerate()
        .map(|(i, &value)| NewScore { reward: max, slashed: max, ..score(i as u64 + 1, value) })
        .collect();
    store.replace_scores(1, 1, &rows).await.unwrap();
    for (stored, value) in store.list_scores(1, 1).await.unwrap().iter().zip(floats) {
        assert_eq!(stored.score.to_bits(), value.to_bits(), "{value:e} stored as {:e}", stored.score);
        assert_eq!((stored.reward, stored.slashed), (max, max));
    }

    let patch = RoundPatch { cumulative_rewards_total: Some(max), ..RoundPatch::default() };
    store.advance_round_phase_with(1, 1, RoundPhase::Collecting, RoundPhase::Aggregating, &patch).await.unwrap();
    assert_eq!(store.get_round(1, 1).await.unwrap().unwrap().cumulative_rewards_total, Some(max));
    let worker = Worker {
        task_id: 1,
        worker: address(1),
        stake: max,
        status: Membership::Active,
        joined_at_block: u64::try_from(i64::MAX).unwrap(),
        updated_at_block: 1,
    };
    store.upsert_worker(&worker).await.unwrap();
    assert_eq!(store.list_workers(1).await.unwrap(), [worker]);

    // Amounts travel as JSON strings, so JavaScript clients keep every digit.
    let json = serde_json::to_value(store.get_task(task.task_id).await.unwrap().unwrap()).unwrap();
    assert_eq!(json["reward_pool"], json!("340282366920938463463374607431768211455"));
    assert_eq!(json["status"], json!("open"));
    assert_eq!(serde_json::from_value::<Amount>(json!("340282366920938463463374607431768211455")).unwrap(), max);
    for bad in ["", "-1", "+1", "1e3", " 1", "340282366920938463463374607431768211456"] {
        assert!(bad.parse::<Amount>().is_err(), "{bad:?}");
    }
}

/// `sqlite::memory:` keeps one connection, so the database lives as long as the store and concurrent calls queue.
#[tokio::test]
async fn in_memory_sqlite_serves_concurrent_calls() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    task_with_round(&store).await;
    let (a, b) = (tx("a"), tx("b"));
    let (first, second) = tokio::join!(store.enqueue(&a), store.enqueue(&b));
    let mut ids = [first.unwrap().id, second.unwrap().id];
    ids.sort_unstable();
    assert_eq!(ids, [1, 2]);
    assert_eq!(store.get_round(1, 1).await.unwrap().unwrap().phase, RoundPhase::Collecting);
}

async fn drafts_are_published_once_a_task_names_them(db: TestDb) {
    let store = db.store();
    let draft = tessera_db::DraftedModel {
        initial_model_cid: "QmDraft".into(),
        architecture: "lenet5-mnist-v1".into(),
        seed: u64::from(u32::MAX),
        created_at_ms: 1,
    };
    store.insert_task_draft(&draft).await.unwrap();
    store.insert_task_draft(&tessera_db::DraftedModel { seed: 9, ..draft.clone() }).await.unwrap();
    assert!(store.drafts_to_publish().await.unwrap().is_empty(), "no task names it yet");

    store.upsert_task(&NewTask { initial_model_cid: "QmDraft".into(), ..new_task(1) }).await.unwrap();
    assert_eq!(store.drafts_to_publish().await.unwrap(), vec![draft.clone()], "the first draft of a CID stays");
    store.mark_draft_published("QmDraft", 5).await.unwrap();
    assert!(store.drafts_to_publish().await.unwrap().is_empty());
}

async fn pending_drafts_are_capped_and_expire_unless_a_task_names_them(db: TestDb) {
    let store = db.store();
    let draft = |n: u64, at: i64| tessera_db::DraftedModel {
        initial_model_cid: format!("QmDraft{n}"),
        architecture: "lenet5-mnist-v1".into(),
        seed: n,
        created_at_ms: at,
    };
    for n in 0..3 {
        assert!(store.insert_task_draft_bounded(&draft(n, 100), 3, 0).await.unwrap());
    }
    assert!(!store.insert_task_draft_bounded(&draft(3, 200), 3, 0).await.unwrap(), "the cap is reached");
    // A task names draft 0: it outlives the others' expiry and is still published.
    store.upsert_task(&NewTask { initial_model_cid: "QmDraft0".into(), ..new_task(1) }).await.unwrap();
    assert!(store.insert_task_draft_bounded(&draft(3, 200), 3, 150).await.unwrap(), "expired drafts made room");
    let published: Vec<_> = store.drafts_to_publish().await.unwrap();
    assert_eq!(published, vec![draft(0, 100)]);
    store.mark_draft_published("QmDraft0", 300).await.unwrap();
    // Published drafts do not count towards the cap.
    assert!(store.insert_task_draft_bounded(&draft(4, 300), 2, 150).await.unwrap());
    assert!(!store.insert_task_draft_bounded(&draft(5, 300), 2, 150).await.unwrap());
}

async fn only_active_workers_submissions_count_towards_an_early_close(db: TestDb) {
    let store = db.store();
    task_with_round(store).await;
    for (n, status) in
        [(1, Membership::Active), (2, Membership::Active), (3, Membership::Exited), (4, Membership::Active)]
    {
        let worker = Worker {
            task_id: 1,
            worker: address(n),
            stake: Amount(100),
            status,
            joined_at_block: 10,
            updated_at_block: 10,
        };
        store.upsert_worker(&worker).await.unwrap();
    }
    // Workers 1 to 3 submit; 3 has left since, and 5 is no worker the index knows.
    for n in [1, 2, 3, 5] {
        store.insert_submission(&submission(1, 1, n, n)).await.unwrap();
    }
    assert_eq!(store.count_submissions(1, 1).await.unwrap(), 4);
    assert_eq!(store.count_active_submissions(1, 1).await.unwrap(), 2);
    assert_eq!(store.count_active_submissions(1, 2).await.unwrap(), 0, "another round");
}

async fn task_faults_are_kept_until_cleared(db: TestDb) {
    let store = db.store();
    store.upsert_task(&new_task(1)).await.unwrap();
    store.upsert_task(&new_task(2)).await.unwrap();
    let fault = TaskFault {
        task_id: 2,
        message: "aggregating round 1: the update is malformed".into(),
        failures: 1,
        first_failed_at_ms: 10,
        last_failed_at_ms: 10,
        retry_at_ms: 20,
    };
    store.put_task_fault(&fault).await.unwrap();
    let again = TaskFault { failures: 2, last_failed_at_ms: 30, retry_at_ms: 50, ..fault.clone() };
    store.put_task_fault(&again).await.unwrap();
    assert_eq!(store.list_task_faults().await.unwrap(), std::slice::from_ref(&again), "one row per task, the latest");
    assert_eq!(store.get_task_fault(2).await.unwrap(), Some(again));
    assert_eq!(store.get_task_fault(1).await.unwrap(), None);
    assert!(store.clear_task_fault(2).await.unwrap());
    assert!(!store.clear_task_fault(2).await.unwrap(), "cleared already");
    assert!(store.list_task_faults().await.unwrap().is_empty());
    let unknown = TaskFault { task_id: 9, ..fault };
    assert!(store.put_task_fault(&unknown).await.is_err(), "a fault of a task the database does not know");
}

async fn a_lease_has_one_holder_until_it_lapses(db: TestDb) {
    let store = db.store();
    assert_eq!(store.get_lease("task:1").await.unwrap(), None);
    assert!(store.try_lease("task:1", "a", 1_000, 11_000).await.unwrap());
    assert!(!store.try_lease("task:1", "b", 5_000, 15_000).await.unwrap(), "held by a until 11,000");
    assert!(store.try_lease("task:1", "a", 6_000, 16_000).await.unwrap(), "its holder renews it");
    assert!(store.try_lease("task:2", "b", 6_000, 16_000).await.unwrap(), "another duty is free");
    let held = store.get_lease("task:1").await.unwrap().unwrap();
    assert_eq!((held.holder.as_str(), held.expires_at_ms), ("a", 16_000));
    // a stops renewing (it died): once the lease has lapsed, b takes it, and a cannot take it back.
    assert!(store.try_lease("task:1", "b", 16_001, 26_001).await.unwrap());
    assert!(!store.try_lease("task:1", "a", 16_002, 26_002).await.unwrap());
    assert!(!store.release_lease("task:1", "a").await.unwrap(), "a no longer holds it");
    assert!(store.release_lease("task:1", "b").await.unwrap());
    assert!(store.try_lease("task:1", "a", 16_003, 26_003).await.unwrap(), "released, it is free at once");

    // Many replicas racing for one lapsed lease: exactly one wins.
    let mut racers = JoinSet::new();
    for k in 0..8 {
        let store = store.clone();
        racers.spawn(async move { store.try_lease("task:1", &format!("r{k}"), 30_000, 40_000).await.unwrap() });
    }
    let winners = racers.join_all().await.into_iter().filter(|won| *won).count();
    assert_eq!(winners, 1);

    // And should two replicas ever send from one account at once, a nonce still goes to one transaction.
    let (a, b) = (store.enqueue(&tx("start:9:1")).await.unwrap(), store.enqueue(&tx("start:9:2")).await.unwrap());
    assert!(store.mark_sent(a.id, 7, &hash(1)).await.unwrap());
    assert!(store.mark_sent(b.id, 7, &hash(2)).await.is_err(), "nonce 7 is taken");
    assert!(store.mark_sent(b.id, 8, &hash(2)).await.unwrap());
}
