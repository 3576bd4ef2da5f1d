//! The whole task lifecycle against a real anvil: deploy, three workers over two rounds, a slash,
//! claims with proofs built here, and the contract's typed errors.

use alloy::{
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
};
use futures_util::StreamExt;
use tessera_chain::{
    ChainEvent, Deployment, FinalizeRound, IMarketplace, Marketplace::MarketplaceErrors,
    Marketplace::MarketplaceEvents, MarketplaceClient, RewardTree, TestToken, connect,
};
use tessera_harness::{Anvil, DevAccount, Toolchain};

const POOL: u64 = 1_000_000;
const STAKE: u64 = 10_000;

struct Party {
    client: MarketplaceClient,
}

fn party(anvil: &Anvil, account: &DevAccount, marketplace: Address) -> Party {
    let provider = connect(anvil.url(), &account.private_key).unwrap();
    Party { client: MarketplaceClient::new(provider, marketplace, account.address) }
}

async fn balance(provider: &DynProvider, token: Address, account: Address) -> U256 {
    TestToken::new(token, provider).balanceOf(account).call().await.unwrap()
}

fn cid(byte: u8) -> B256 {
    B256::repeat_byte(byte)
}

#[tokio::test]
async fn three_workers_two_rounds_a_slash_and_claims() {
    let anvil = Anvil::builder().spawn(&Toolchain::discover().expect("run `make setup` first")).unwrap();
    let accounts = anvil.accounts();
    let chain = Deployment::deploy(anvil.url(), &accounts[0].private_key, "Test").await.unwrap();
    let (token, marketplace) = (chain.token, chain.marketplace);

    let requester = party(&anvil, &accounts[0], marketplace);
    let coordinator = party(&anvil, &accounts[1], marketplace);
    let workers: Vec<Party> = accounts[2..5].iter().map(|account| party(&anvil, account, marketplace)).collect();
    chain.fund(accounts[..5].iter().map(|a| a.address), U256::from(POOL * 2)).await.unwrap();

    requester.client.approve(token, U256::from(POOL)).await.unwrap();
    let config = IMarketplace::TaskConfig {
        rewardToken: token,
        rewardPool: U256::from(POOL),
        stakeRequired: U256::from(STAKE),
        numRounds: 2,
        maxWorkers: 3,
        submissionWindow: 600,
        coordinator: coordinator.client.account(),
        modelArchitectureId: B256::repeat_byte(0xa1),
        initialModelCid: cid(1),
        validationSetCommitment: B256::repeat_byte(0xc0),
        allowlistRoot: B256::ZERO,
        slashToRequester: false,
        maxSlashBps: 10_000,
        accessPolicy: alloy::primitives::B256::ZERO,
    };
    let (task, _) = requester.client.create_task(config).await.unwrap();
    assert_eq!(task, U256::from(1));
    for worker in &workers {
        worker.client.approve(token, U256::from(STAKE)).await.unwrap();
        worker.client.join(task, vec![]).await.unwrap();
    }
    assert_eq!(requester.client.task(task).await.unwrap().workerCount, 3);

    let [honest, partial, cheat] = [0, 1, 2].map(|i| workers[i].client.account());

    // Round 1: the third worker is a free-rider and loses half its stake into the pool.
    coordinator.client.start_round(task, cid(2)).await.unwrap();
    let round_one = RewardTree::new(task, [(honest, U256::from(300_000)), (partial, U256::from(100_000))]).unwrap();
    coordinator
        .client
        .finalize_round(FinalizeRound {
            task_id: task,
            round: 1,
            new_model_cid: cid(3),
            manifest_cid: cid(4),
            rewards_root: round_one.root(),
            cumulative_rewards_total: round_one.total(),
            slashes: vec![IMarketplace::Slash {
                worker: cheat,
                amount: U256::from(STAKE / 2),
                reason: 0, // FreeRider
            }],
        })
        .await
        .unwrap();
    assert_eq!(requester.client.worker(task, cheat).await.unwrap().stake, alloy::primitives::Uint::from(STAKE / 2));

    // The second worker claims after round 1 with a proof built here.
    let (amount, proof) = round_one.claim(partial).unwrap();
    workers[1].client.claim(task, amount, proof.clone()).await.unwrap();
    let again = workers[1].client.claim(task, amount, proof).await.unwrap_err();
    assert!(matches!(again.revert_reason(), Some(MarketplaceErrors::MarketplaceNothingToClaim(_))), "{again}");

    // Round 2: cumulative amounts grow; the pool now holds the slashed stake too.
    coordinator.client.start_round(task, cid(3)).await.unwrap();
    let round_two = RewardTree::new(
        task,
        [(honest, U256::from(700_000)), (partial, U256::from(300_000)), (cheat, U256::from(5_000))],
    )
    .unwrap();
    coordinator
        .client
        .finalize_round(FinalizeRound {
            task_id: task,
            round: 2,
            new_model_cid: cid(5),
            manifest_cid: cid(6),
            rewards_root: round_two.root(),
            cumulative_rewards_total: round_two.total(),
            slashes: vec![],
        })
        .await
        .unwrap();

    // An inflated amount is refused by the contract's proof check.
    let (amount, proof) = round_two.claim(honest).unwrap();
    let inflated = workers[0].client.claim(task, amount + U256::from(1), proof.clone()).await.unwrap_err();
    assert!(
        matches!(inflated.revert_reason(), Some(MarketplaceErrors::MarketplaceInvalidRewardProof(_))),
        "{inflated}"
    );

    // One claim pays both rounds; the other claims pay the difference.
    let provider = requester.client.provider().clone();
    let before = balance(&provider, token, honest).await;
    workers[0].client.claim(task, amount, proof).await.unwrap();
    assert_eq!(balance(&provider, token, honest).await - before, U256::from(700_000));
    let (amount, proof) = round_two.claim(partial).unwrap();
    let before = balance(&provider, token, partial).await;
    workers[1].client.claim(task, amount, proof).await.unwrap();
    assert_eq!(balance(&provider, token, partial).await - before, U256::from(200_000));

    // The task ended with round 2: stakes come back, less the slash, and the unspent pool too.
    for worker in &workers {
        worker.client.withdraw_stake(task).await.unwrap();
    }
    requester.client.withdraw_unspent(task).await.unwrap();
    let (amount, proof) = round_two.claim(cheat).unwrap();
    workers[2].client.claim(task, amount, proof).await.unwrap();
    let held = balance(&provider, token, marketplace).await;
    assert_eq!(held, U256::ZERO, "the contract should hold nothing once everyone is paid");
    let cheat_total = balance(&provider, token, cheat).await;
    assert_eq!(cheat_total, U256::from(POOL * 2 - STAKE / 2 + 5_000));

    // The indexer's view: every state change as a typed event, in order.
    let latest = provider.get_block_number().await.unwrap();
    let events = requester.client.events(0, latest).await.unwrap();
    let count = |pick: fn(&ChainEvent) -> bool| events.iter().filter(|event| pick(event)).count();
    assert_eq!(count(|e| matches!(e.event, MarketplaceEvents::TaskCreated(_))), 1);
    assert_eq!(count(|e| matches!(e.event, MarketplaceEvents::WorkerJoined(_))), 3);
    assert_eq!(count(|e| matches!(e.event, MarketplaceEvents::RoundStarted(_))), 2);
    assert_eq!(count(|e| matches!(e.event, MarketplaceEvents::RoundFinalized(_))), 2);
    assert_eq!(count(|e| matches!(e.event, MarketplaceEvents::WorkerSlashed(_))), 1);
    assert_eq!(count(|e| matches!(e.event, MarketplaceEvents::RewardClaimed(_))), 4);
    assert!(
        events
            .windows(2)
            .all(|pair| (pair[0].block_number, pair[0].log_index) < (pair[1].block_number, pair[1].log_index))
    );

    // The same events arrive through the polling stream the coordinator's indexer follows.
    let streamed: Vec<ChainEvent> = requester
        .client
        .event_stream(0, std::time::Duration::from_millis(50))
        .take(events.len())
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(streamed, events);
}

#[tokio::test]
async fn reverts_decode_to_typed_errors() {
    let anvil = Anvil::builder().spawn(&Toolchain::discover().expect("run `make setup` first")).unwrap();
    let accounts = anvil.accounts();
    let chain = Deployment::deploy(anvil.url(), &accounts[0].private_key, "Test").await.unwrap();
    let stranger = party(&anvil, &accounts[3], chain.marketplace);

    let error = stranger.client.start_round(U256::from(9), cid(1)).await.unwrap_err();
    assert!(matches!(error.revert_reason(), Some(MarketplaceErrors::MarketplaceTaskNotFound(_))), "{error}");
    let error = stranger.client.task(U256::from(9)).await.unwrap_err();
    assert!(matches!(error.revert_reason(), Some(MarketplaceErrors::MarketplaceTaskNotFound(_))), "{error}");
}
