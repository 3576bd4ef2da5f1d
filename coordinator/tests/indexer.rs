//! The indexer against a real anvil: tasks and workers reach the database, indexing again changes nothing, and a
//! reorganisation deeper than the confirmations is rolled back to what a fresh index of the canonical chain holds.

use alloy::{
    primitives::{B256, U256},
    providers::Provider,
};
use tessera_chain::{Deployment, IMarketplace, MarketplaceClient};
use tessera_coordinator::indexer::{index_events, index_once};
use tessera_db::{Membership, Store, TaskStatus};
use tessera_harness::{Anvil, Toolchain};

/// A marketplace on anvil with `accounts` funded accounts and one task created by account 0, coordinated by
/// account 1.
async fn chain_with_task(accounts: usize) -> (Anvil, Deployment, U256) {
    let anvil = Anvil::builder().spawn(&Toolchain::discover().expect("run `make setup` first")).unwrap();
    let keys = anvil.accounts();
    let chain = Deployment::deploy(anvil.url(), &keys[0].private_key, "Test").await.unwrap();
    chain.fund(keys[..accounts].iter().map(|a| a.address), U256::from(10_000)).await.unwrap();
    let owner = chain.client(&keys[0].private_key).unwrap();
    owner.approve(chain.token, U256::from(5_000)).await.unwrap();
    let (task, _) = owner
        .create_task(IMarketplace::TaskConfig {
            rewardToken: chain.token,
            rewardPool: U256::from(5_000),
            stakeRequired: U256::from(100),
            numRounds: 2,
            maxWorkers: 5,
            submissionWindow: 60,
            coordinator: keys[1].address,
            modelArchitectureId: B256::with_last_byte(1),
            initialModelCid: B256::repeat_byte(0x11),
            validationSetCommitment: B256::repeat_byte(0x22),
            allowlistRoot: B256::ZERO,
            slashToRequester: false,
            maxSlashBps: 10_000,
            accessPolicy: alloy::primitives::B256::ZERO,
        })
        .await
        .unwrap();
    (anvil, chain, task)
}

async fn join(chain: &Deployment, key: &str, task: U256) {
    let worker = chain.client(key).unwrap();
    worker.approve(chain.token, U256::from(100)).await.unwrap();
    worker.join(task, vec![]).await.unwrap();
}

async fn sqlite(dir: &tempfile::TempDir, name: &str) -> Store {
    Store::connect(&format!("sqlite://{}?mode=rwc", dir.path().join(name).display())).await.unwrap()
}

#[tokio::test]
async fn tasks_and_workers_reach_the_database_once() {
    let (anvil, chain, task) = chain_with_task(4).await;
    let accounts = anvil.accounts();
    let client = |i: usize| chain.client(&accounts[i].private_key).unwrap();
    let owner = client(0);
    for i in [2, 3] {
        join(&chain, &accounts[i].private_key, task).await;
    }
    client(3).leave(task).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir, "db").await;
    // A small block range per call, so indexing takes several steps.
    let mut stored = 0;
    for _ in 0..20 {
        stored += index_once(&owner, &db, 3).await.unwrap();
    }
    // Deploying granted two roles; then one TaskCreated, two WorkerJoined, one WorkerLeft.
    assert_eq!(stored, 6);

    let row = db.get_task(1).await.unwrap().expect("the task was indexed");
    assert_eq!((row.status, row.num_rounds, row.reward_pool.0), (TaskStatus::Open, 2, 5_000));
    assert_eq!(row.coordinator, format!("{:#x}", accounts[1].address));
    let workers = db.list_workers(1).await.unwrap();
    let status_of =
        |i: usize| workers.iter().find(|w| w.worker == format!("{:#x}", accounts[i].address)).map(|w| w.status);
    assert_eq!(status_of(2), Some(Membership::Active));
    assert_eq!(status_of(3), Some(Membership::Exited));

    assert_eq!(index_once(&owner, &db, 100).await.unwrap(), 0, "nothing new to index");
    assert_eq!(db.list_events(Some(1)).await.unwrap().len(), 4);
}

/// What the indexer holds, for comparing two databases: every event with its block hash, the task's workers, and
/// its status.
async fn index_state(
    db: &Store,
) -> (Vec<(u64, Option<String>, u64, String, String)>, Vec<tessera_db::Worker>, TaskStatus) {
    let events = db.list_events(None).await.unwrap();
    let events = events.into_iter().map(|e| (e.block_number, e.block_hash, e.log_index, e.tx_hash, e.kind)).collect();
    (events, db.list_workers(1).await.unwrap(), db.get_task(1).await.unwrap().unwrap().status)
}

async fn index_to_head(reader: &MarketplaceClient, db: &Store) {
    let head = reader.block_number().await.unwrap();
    for _ in 0..50 {
        if db.get_cursor().await.unwrap() == Some(head) {
            return;
        }
        index_once(reader, db, 4).await.unwrap();
    }
    panic!("the index did not reach block {head}");
}

/// Blocks the indexer has already applied (a worker joining, another leaving) are replaced by a longer branch in
/// which someone else joins: the next pass sees the recorded hash gone, rolls back to the newest block both
/// branches share, and indexes the new branch, ending with exactly what a fresh index of the canonical chain holds.
#[tokio::test]
async fn a_reorganisation_deeper_than_the_confirmations_is_rolled_back() {
    let (anvil, chain, task) = chain_with_task(5).await;
    let keys = anvil.accounts();
    let reader = chain.client(&keys[0].private_key).unwrap();
    let address = |i: usize| format!("{:#x}", keys[i].address);
    join(&chain, &keys[2].private_key, task).await;
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir, "coordinator.db").await;
    index_to_head(&reader, &db).await;
    let fork = reader.block_number().await.unwrap();

    let snapshot: serde_json::Value = reader.provider().raw_request("evm_snapshot".into(), ()).await.unwrap();
    join(&chain, &keys[3].private_key, task).await;
    chain.client(&keys[2].private_key).unwrap().leave(task).await.unwrap();
    index_to_head(&reader, &db).await;
    let orphaned_head = reader.block_number().await.unwrap();
    let members: Vec<String> = db.list_workers(1).await.unwrap().into_iter().map(|w| w.worker).collect();
    assert_eq!(members, {
        let mut both = vec![address(2), address(3)];
        both.sort();
        both
    });

    let reverted: bool = reader.provider().raw_request("evm_revert".into(), (snapshot,)).await.unwrap();
    assert!(reverted);
    join(&chain, &keys[4].private_key, task).await;
    while reader.block_number().await.unwrap() <= orphaned_head {
        let _: serde_json::Value = reader.provider().raw_request("evm_mine".into(), ()).await.unwrap();
    }

    let pass = index_events(&reader, &db, 4, 0).await.unwrap();
    assert_eq!(pass.rolled_back_to, Some(Some(fork)), "rolled back to the last block both branches hold");
    index_to_head(&reader, &db).await;
    let workers = db.list_workers(1).await.unwrap();
    let status_of = |i: usize| workers.iter().find(|w| w.worker == address(i)).map(|w| w.status);
    assert_eq!(status_of(2), Some(Membership::Active), "its leaving was orphaned");
    assert_eq!(status_of(3), None, "its joining was orphaned");
    assert_eq!(status_of(4), Some(Membership::Active));

    let fresh = sqlite(&dir, "fresh.db").await;
    index_to_head(&reader, &fresh).await;
    assert_eq!(index_state(&db).await, index_state(&fresh).await);
    assert_eq!(index_once(&reader, &db, 100).await.unwrap(), 0, "nothing is indexed twice");
}
