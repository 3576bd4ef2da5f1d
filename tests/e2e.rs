//! The demo's scenario at a smaller size, end to end on the real stack: anvil, an IPFS node, SQLite, the
//! coordinator and six worker processes (four honest workers with Dirichlet shards of 1x to 8x the data, a
//! free-rider and a sign-flipper). It checks what a requester and the workers would check afterwards.

mod common;

use alloy::primitives::{Address, U256};
use std::{path::PathBuf, process::Command, time::Duration};
use tessera_chain::{MarketplaceClient, TestToken};
use tessera_demo::{Binaries, Demo, Role, Scenario, TOKEN_UNIT};
use tessera_harness::mnist_dir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_scenario_pays_by_data_slashes_the_cheats_and_verifies() {
    let binaries = Binaries::in_dir(&common::profile_dir()).expect("cargo test --workspace builds both binaries");
    let scenario = Scenario::small();
    let mut demo = Demo::start(binaries, scenario.clone(), true).await.unwrap();
    demo.run_to_end(Duration::from_secs(900)).await.unwrap();
    let report = demo.report().await.unwrap();
    println!("{report}");

    // The model learns.
    assert_eq!(report.rounds.len(), scenario.rounds as usize);
    let last = report.rounds.last().unwrap();
    assert!(last.test_accuracy > 0.8, "test accuracy {:.4}", last.test_accuracy);
    assert!(last.test_accuracy > report.rounds[0].test_accuracy - 0.01);

    // Both cheats are slashed and paid nothing; no honest worker is flagged.
    for worker in &report.workers {
        if worker.role == Role::Honest.to_string() {
            assert!(worker.flags.is_empty() && worker.slashed == 0, "{worker:?}");
            assert!(worker.claimed > 0 && worker.claimed == worker.rewards, "{worker:?}");
        } else {
            assert!(worker.slashed > 0 && worker.claimed == 0, "{worker:?}");
        }
    }
    // Honest rewards follow the work behind them, measured from the updates (their length along the others'
    // direction), not the claims: the half of the honest workers with more data earns more than the half with
    // less, and the most data more than the least. (Neighbours can swap: label skew moves an update's
    // agreement with the others as much as a doubling of its data.)
    let honest: Vec<_> = report.honest().collect();
    assert!(honest.windows(2).all(|pair| pair[0].samples < pair[1].samples), "{honest:?}");
    let half = honest.len() / 2;
    let earned = |workers: &[&tessera_demo::WorkerRow]| workers.iter().map(|w| w.claimed).sum::<u128>();
    assert!(earned(&honest[half..]) > earned(&honest[..half]), "rewards do not grow with data: {honest:#?}");
    assert!(honest[0].claimed < honest[honest.len() - 1].claimed, "rewards do not grow with data: {honest:#?}");

    // Tokens are conserved: everything minted is in an account or owed by the marketplace, which holds exactly
    // the unpaid pool, the slashed stake and the stakes left.
    let chain = MarketplaceClient::new(demo.provider().clone(), demo.marketplace, Address::ZERO);
    let task = chain.task(U256::from(demo.task)).await.unwrap();
    let token = TestToken::new(demo.token, demo.provider());
    let balance = async |account: Address| token.balanceOf(account).call().await.unwrap();
    let mut stakes = U256::ZERO;
    for i in 0..scenario.workers.len() {
        stakes += U256::from(chain.worker(U256::from(demo.task), demo.worker_address(i).unwrap()).await.unwrap().stake);
    }
    let owed = U256::from(task.rewardPool) + U256::from(task.slashedToPool) - U256::from(task.paidOut)
        + U256::from(task.slashedToRequester)
        + stakes;
    assert_eq!(balance(demo.marketplace).await, owed);
    let minted = U256::from(scenario.reward_tokens * TOKEN_UNIT)
        + U256::from(scenario.stake_tokens * TOKEN_UNIT) * U256::from(scenario.workers.len());
    let mut held = balance(demo.marketplace).await;
    for account in demo.funded_accounts().unwrap() {
        held += balance(account).await;
    }
    assert_eq!(held, minted);
    assert_eq!(U256::from(task.paidOut), report.workers.iter().map(|w| U256::from(w.claimed)).sum::<U256>());

    // Anyone can recompute every round from IPFS and the chain.
    common::assert_verified(&demo, scenario.rounds);

    // The final model, loaded in PyTorch, scores what the coordinator reported on the validation set.
    let checkpoint = demo.dir.path().join("final.safetensors");
    common::save_checkpoint(&demo, &last.model_cid, &checkpoint).await;
    let mut evaluation = Command::new(common::python());
    evaluation
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/evaluate_checkpoint.py"))
        .arg(&checkpoint)
        .arg(mnist_dir())
        .arg(scenario.validation_samples.to_string());
    common::pytorch_scores_as_reported(evaluation, last.validation_accuracy, scenario.validation_samples);
}
