//! The chain subcommands (`join`, `leave`, `claim`, `withdraw`, `status`) of the built binary
//! against a real anvil with the marketplace deployed; the coordinator's `info` and `proof`
//! endpoints are served by a stub holding a rewards tree built here.

use alloy::{
    primitives::{Address, B256, U256},
    sol_types::SolCall,
};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tessera_api as api;
use tessera_chain::{Deployment, FinalizeRound, IMarketplace, Marketplace, MarketplaceClient, RewardTree, TestToken};
use tessera_harness::{Anvil, DevAccount, Toolchain};
use tessera_train::ArchitectureId;

const POOL: u64 = 1_000_000;
const STAKE: u64 = 10_000;

/// What the stub coordinator serves.
struct Stub {
    chain_id: u64,
    marketplace: Address,
    coordinator: Address,
    /// The latest finalized round and its rewards tree.
    rewards: Option<(u32, RewardTree)>,
}

type Shared = Arc<Mutex<Stub>>;

async fn info(State(stub): State<Shared>) -> Json<api::Info> {
    let stub = stub.lock().unwrap();
    Json(api::Info {
        chain_id: stub.chain_id,
        marketplace: stub.marketplace,
        coordinator: stub.coordinator,
        version: "stub".into(),
    })
}

async fn proof(State(stub): State<Shared>, Path((task, worker)): Path<(u64, String)>) -> Response {
    let stub = stub.lock().unwrap();
    let worker: Address = worker.parse().unwrap();
    let not_found = || {
        let detail = api::ErrorDetail { code: "not_found".into(), message: "no rewards".into() };
        (StatusCode::NOT_FOUND, Json(api::ErrorBody { error: detail })).into_response()
    };
    let Some((round, tree)) = &stub.rewards else { return not_found() };
    let Some((amount, proof)) = tree.claim(worker) else { return not_found() };
    let call = Marketplace::claimCall { taskId: U256::from(task), cumulativeAmount: amount, proof: proof.clone() };
    Json(api::ClaimProof {
        task_id: task,
        worker,
        round: *round,
        cumulative_amount: api::Amount::from(amount),
        proof,
        rewards_root: tree.root(),
        claimed: api::Amount::ZERO,
        claimable: api::Amount::from(amount),
        call: api::UnsignedCall {
            description: "Claim the rewards".into(),
            to: stub.marketplace,
            data: alloy::primitives::Bytes::from(call.abi_encode()).to_string(),
        },
    })
    .into_response()
}

/// Runs the worker binary with `account`'s key; returns (success, stdout, stderr).
async fn worker(anvil: &Anvil, coordinator: &str, account: &DevAccount, args: &[&str]) -> (bool, String, String) {
    let home = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera-worker"))
        .args(args)
        .args(["--rpc-url", anvil.url(), "--coordinator", coordinator, "--quiet"])
        .env("TESSERA_PRIVATE_KEY", &account.private_key)
        .env("HOME", home.path())
        .env_remove("TESSERA_KEYSTORE")
        .env_remove("TESSERA_MARKETPLACE")
        .output()
        .await
        .unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (output.status.success(), text(output.stdout), text(output.stderr))
}

async fn balance(client: &MarketplaceClient, token: Address, account: Address) -> U256 {
    TestToken::new(token, client.provider()).balanceOf(account).call().await.unwrap()
}

/// One story on one chain, longer than 80 lines on purpose: each step (join, leave, finalize, claim, withdraw)
/// starts from the balances and stakes the step before left, so split into functions it would only pass them along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_leave_claim_and_withdraw_through_the_binary() {
    let anvil = Anvil::builder().spawn(&Toolchain::discover().expect("run `make setup` first")).unwrap();
    let accounts = anvil.accounts();
    let chain = Deployment::deploy(anvil.url(), &accounts[0].private_key, "Test").await.unwrap();
    let (token, marketplace) = (chain.token, chain.marketplace);
    chain.fund(accounts[..4].iter().map(|a| a.address), U256::from(POOL * 2)).await.unwrap();
    let client = |account: &DevAccount| chain.client(&account.private_key).unwrap();
    let (requester, coordinator) = (client(&accounts[0]), client(&accounts[1]));
    let (stayer, leaver) = (&accounts[2], &accounts[3]);
    let stayer_address = stayer.address;
    let leaver_address = leaver.address;

    requester.approve(token, U256::from(POOL)).await.unwrap();
    let (task, _) = requester
        .create_task(IMarketplace::TaskConfig {
            rewardToken: token,
            rewardPool: U256::from(POOL),
            stakeRequired: U256::from(STAKE),
            numRounds: 2,
            maxWorkers: 3,
            submissionWindow: 600,
            coordinator: coordinator.account(),
            modelArchitectureId: B256::from(ArchitectureId::Lenet5MnistV1.to_bytes32()),
            initialModelCid: B256::repeat_byte(1),
            validationSetCommitment: B256::repeat_byte(0xc0),
            allowlistRoot: B256::ZERO,
            slashToRequester: false,
            maxSlashBps: 10_000,
            accessPolicy: alloy::primitives::B256::ZERO,
        })
        .await
        .unwrap();
    assert_eq!(task, U256::from(1));

    let stub = Arc::new(Mutex::new(Stub {
        chain_id: anvil.chain_id(),
        marketplace,
        coordinator: coordinator.account(),
        rewards: None,
    }));
    let app = Router::new()
        .route("/api/v1/info", get(info))
        .route("/api/v1/tasks/{task}/workers/{worker}/proof", get(proof))
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // Join: approve then join; a second join is a no-op.
    for account in [stayer, leaver] {
        let (ok, out, err) = worker(&anvil, &url, account, &["join", "--task", "1"]).await;
        assert!(ok, "{out}{err}");
        assert!(out.contains("Approved") && out.contains("Joined task 1"), "{out}");
    }
    assert!(requester.is_worker(task, stayer_address).await.unwrap());
    let (ok, out, _) = worker(&anvil, &url, stayer, &["join", "--task", "1"]).await;
    assert!(ok && out.contains("already joined"), "{out}");

    // Leave between rounds: the stake comes back.
    let before = balance(&requester, token, leaver_address).await;
    let (ok, out, err) = worker(&anvil, &url, leaver, &["leave", "--task", "1"]).await;
    assert!(ok, "{out}{err}");
    assert_eq!(balance(&requester, token, leaver_address).await - before, U256::from(STAKE));
    assert!(!requester.is_worker(task, leaver_address).await.unwrap());

    // A model that does not take the worker's images is refused before anything is staked.
    let (ok, out, err) = worker(&anvil, &url, leaver, &["join", "--task", "1", "--dataset", "cifar10"]).await;
    let refusal = "takes [1, 28, 28] images in 10 classes; --dataset cifar10 gives [3, 32, 32] in 10";
    assert!(!ok && err.contains(refusal), "{out}{err}");
    assert!(!requester.is_worker(task, leaver_address).await.unwrap());
    assert_eq!(balance(&requester, token, leaver_address).await - before, U256::from(STAKE));

    // A worker that is not in the task is told to join before it loads data or trains.
    let data = tessera_harness::mnist_dir();
    let run = ["run", "--task", "1", "--data", data.to_str().unwrap(), "--startup-wait", "0"];
    let (ok, out, err) = worker(&anvil, &url, leaver, &run).await;
    assert!(!ok && err.contains("has not joined task 1"), "{out}{err}");

    // Nothing to claim before any round.
    let (ok, out, err) = worker(&anvil, &url, stayer, &["claim", "--task", "1"]).await;
    assert!(ok && out.contains("Nothing to claim"), "{out}{err}");

    // Round 1 pays the stayer; it claims once, and a second claim finds nothing new.
    coordinator.start_round(task, B256::repeat_byte(2)).await.unwrap();
    let tree = RewardTree::new(task, [(stayer_address, U256::from(300_000))]).unwrap();
    let finalize = |round: u32, tree: &RewardTree| FinalizeRound {
        task_id: task,
        round,
        new_model_cid: B256::repeat_byte(3),
        manifest_cid: B256::repeat_byte(4),
        rewards_root: tree.root(),
        cumulative_rewards_total: tree.total(),
        slashes: vec![],
    };
    coordinator.finalize_round(finalize(1, &tree)).await.unwrap();
    stub.lock().unwrap().rewards = Some((1, tree));
    let before = balance(&requester, token, stayer_address).await;
    let (ok, out, err) = worker(&anvil, &url, stayer, &["claim", "--task", "1"]).await;
    assert!(ok && out.contains("Claimed"), "{out}{err}");
    assert_eq!(balance(&requester, token, stayer_address).await - before, U256::from(300_000));
    let (ok, out, err) = worker(&anvil, &url, stayer, &["claim", "--task", "1"]).await;
    assert!(ok && out.contains("already claimed"), "{out}{err}");

    // Stake cannot be withdrawn while the task runs; after the last round it can.
    let (ok, _, err) = worker(&anvil, &url, stayer, &["withdraw", "--task", "1"]).await;
    assert!(!ok && err.contains("once it has ended"), "{err}");
    coordinator.start_round(task, B256::repeat_byte(5)).await.unwrap();
    let tree = RewardTree::new(task, [(stayer_address, U256::from(300_000))]).unwrap();
    coordinator.finalize_round(finalize(2, &tree)).await.unwrap();
    let before = balance(&requester, token, stayer_address).await;
    let (ok, out, err) = worker(&anvil, &url, stayer, &["withdraw", "--task", "1"]).await;
    assert!(ok, "{out}{err}");
    assert_eq!(balance(&requester, token, stayer_address).await - before, U256::from(STAKE));

    // Status reads the chain without a key when given an address.
    let (ok, out, err) =
        worker(&anvil, &url, leaver, &["status", "--task", "1", "--json", "--address", &stayer.address.to_string()])
            .await;
    assert!(ok, "{out}{err}");
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["chain"]["task_status"], "ended", "{status}");
    assert_eq!(status["chain"]["claimed"], "300000", "{status}");
    assert_eq!(status["chain"]["token_symbol"], "TST", "{status}");

    // The marketplace is pinned at first use: a coordinator that later names another is refused before anything
    // is approved or signed, and the message says how to trust the new one on purpose.
    let home = tempfile::tempdir().unwrap();
    let pins = home.path().join("pins.json").display().to_string();
    let (ok, out, err) = worker(&anvil, &url, stayer, &["status", "--task", "1", "--pins", &pins]).await;
    assert!(ok, "{out}{err}");
    let elsewhere = Address::repeat_byte(0x66);
    stub.lock().unwrap().marketplace = elsewhere;
    let (ok, out, err) = worker(&anvil, &url, leaver, &["join", "--task", "1", "--pins", &pins]).await;
    assert!(!ok, "{out}{err}");
    assert!(err.contains("refusing") && err.contains(&format!("--marketplace {elsewhere:#x}")), "{err}");
    assert!(err.contains(&format!("{marketplace:#x}")), "the pinned marketplace is named: {err}");
}
