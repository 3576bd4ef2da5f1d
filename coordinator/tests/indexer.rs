//! The indexer against a real anvil: tasks and workers reach the database, and indexing again
//! changes nothing.

use alloy::primitives::{B256, U256};
use tessera_chain::{Deployment, IMarketplace};
use tessera_coordinator::indexer::index_once;
use tessera_db::{Membership, Store, TaskStatus};
use tessera_harness::{Anvil, Toolchain};

#[tokio::test]
async fn tasks_and_workers_reach_the_database_once() {
    let anvil = Anvil::builder().spawn(&Toolchain::discover().expect("run `make setup` first")).unwrap();
    let accounts = anvil.accounts();
    let chain = Deployment::deploy(anvil.url(), &accounts[0].private_key, "Test").await.unwrap();
    let token = chain.token;
    let client = |i: usize| chain.client(&accounts[i].private_key).unwrap();
    chain.fund(accounts[..4].iter().map(|a| a.address), U256::from(10_000)).await.unwrap();

    let owner = client(0);
    owner.approve(token, U256::from(5_000)).await.unwrap();
    let (task, _) = owner
        .create_task(IMarketplace::TaskConfig {
            rewardToken: token,
            rewardPool: U256::from(5_000),
            stakeRequired: U256::from(100),
            numRounds: 2,
            maxWorkers: 5,
            submissionWindow: 60,
            coordinator: accounts[1].address,
            modelArchitectureId: B256::with_last_byte(1),
            initialModelCid: B256::repeat_byte(0x11),
            validationSetCommitment: B256::repeat_byte(0x22),
            allowlistRoot: B256::ZERO,
            slashToRequester: false,
        })
        .await
        .unwrap();
    for i in [2, 3] {
        let worker = client(i);
        worker.approve(token, U256::from(100)).await.unwrap();
        worker.join(task, vec![]).await.unwrap();
    }
    client(3).leave(task).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let db = Store::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("db").display())).await.unwrap();
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
