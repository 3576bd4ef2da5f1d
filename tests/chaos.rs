//! The demo under chaos: the coordinator and the workers killed (SIGKILL) at least 20 times at random moments while
//! a task runs on the real stack, each started again by the demo, the IPFS node killed and started again in one
//! round's submission window and anvil stopped and started again from its saved state in another's. Afterwards: every round finalized exactly once
//! on chain, the coordinator sent one finalize per round, payouts equal to the manifests (`verify` recomputes every
//! round), every update a worker holds a receipt for is in its round, and no honest worker slashed.

mod common;

use alloy::primitives::{Address, U256};
use std::{collections::BTreeMap, time::Duration};
use tessera_chain::{Marketplace::MarketplaceEvents, MarketplaceClient};
use tessera_demo::{Attack, Binaries, Chaos, Demo, Role, Scenario};

/// Kills in one run, as the issue of record asks: at least 20.
const KILLS: u32 = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rounds_finalize_exactly_once_and_no_receipt_is_lost_while_processes_are_killed_at_random() {
    let binaries = Binaries::in_dir(&common::profile_dir()).expect("cargo test --workspace builds both binaries");
    let chaos = Chaos {
        min_gap: Duration::from_millis(500),
        max_gap: Duration::from_millis(1500),
        ipfs_restart_round: Some(2),
        anvil_restart_round: Some(4),
        ..Chaos::kills(KILLS, 7)
    };
    let scenario =
        Scenario { validation_samples: 500, chaos: Some(chaos), ..Scenario::equal(6, 3, 200, &[Attack::FreeRider]) };
    let mut demo = Demo::start(binaries, scenario.clone(), true).await.unwrap();
    demo.run_to_end(Duration::from_secs(1200)).await.unwrap();
    let report = demo.report().await.unwrap();
    println!("{report}");
    for kill in &report.kills {
        println!("  {:>6.1}s killed {} during {}", kill.at_s, kill.victim, kill.during);
    }
    println!("restarts: {:?}", report.restarts);

    let stack = ["ipfs", "anvil"];
    let processes = report.kills.iter().filter(|k| !stack.contains(&k.victim.as_str())).count();
    assert_eq!(processes, KILLS as usize, "every planned kill happened before the task ended");
    for service in stack {
        assert!(report.kills.iter().any(|k| k.victim == service), "{service} was never restarted");
    }
    let coordinator_kills = report.kills.iter().filter(|k| k.victim == "coordinator").count();
    assert!(coordinator_kills >= 5, "the coordinator was killed {coordinator_kills} times");
    assert_eq!(report.restarts["coordinator"] as usize, coordinator_kills, "each kill was a restart");

    // Exactly once on chain: one RoundFinalized per round, and the coordinator's record shows one finalize
    // transaction per round, mined.
    let chain = MarketplaceClient::new(demo.provider().clone(), demo.marketplace, Address::ZERO);
    let head = chain.block_number().await.unwrap();
    let mut finalized: BTreeMap<u32, usize> = BTreeMap::new();
    let mut slashed: BTreeMap<Address, U256> = BTreeMap::new();
    for event in chain.events(0, head).await.unwrap() {
        match event.event {
            MarketplaceEvents::RoundFinalized(e) if e.taskId == U256::from(demo.task) => {
                *finalized.entry(e.round).or_default() += 1;
            }
            MarketplaceEvents::WorkerSlashed(e) if e.taskId == U256::from(demo.task) => {
                *slashed.entry(e.worker).or_default() += e.amount;
            }
            _ => {}
        }
    }
    let expected: BTreeMap<u32, usize> = (1..=scenario.rounds).map(|r| (r, 1)).collect();
    assert_eq!(finalized, expected, "one finalize per round on chain");
    let rounds: serde_json::Value =
        reqwest::get(format!("{}/api/v1/tasks/{}/rounds", demo.url, demo.task)).await.unwrap().json().await.unwrap();
    for round in rounds.as_array().unwrap() {
        let finalizes: Vec<_> =
            round["transactions"].as_array().unwrap().iter().filter(|tx| tx["kind"] == "finalize_round").collect();
        assert_eq!(finalizes.len(), 1, "round {}: {finalizes:?}", round["round"]);
        assert_eq!(round["phase"], "finalized");
    }

    // No receipted update lost: every receipt a worker keeps names an update its round aggregated or scored.
    for (i, spec) in scenario.workers.iter().enumerate() {
        let receipts = demo.dir.path().join(&spec.name).join("receipts");
        let worker = demo.worker_address(i).unwrap();
        for entry in std::fs::read_dir(&receipts).unwrap() {
            let stored: serde_json::Value =
                serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
            let receipt = &stored["receipt"];
            let round = receipt["round"].as_u64().unwrap();
            let listed: serde_json::Value =
                reqwest::get(format!("{}/api/v1/tasks/{}/rounds/{round}/submissions", demo.url, demo.task))
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
            let found = listed.as_array().unwrap().iter().any(|s| {
                s["worker"].as_str().and_then(|w| w.parse::<Address>().ok()) == Some(worker)
                    && s["update_cid"] == receipt["update_cid"]
            });
            assert!(found, "{}'s receipted update of round {round} is not in the round: {listed}", spec.name);
        }
    }

    // No honest worker slashed for the system's faults; the free-rider still is.
    for (i, spec) in scenario.workers.iter().enumerate() {
        let taken = slashed.get(&demo.worker_address(i).unwrap()).copied().unwrap_or_default();
        if spec.role == Role::Honest {
            assert_eq!(taken, U256::ZERO, "{} was slashed", spec.name);
        } else {
            assert!(taken > U256::ZERO, "{} got away", spec.name);
        }
    }
    // Payouts are what the manifests say: anyone recomputes every round from IPFS and the chain.
    common::assert_verified(&demo, scenario.rounds);
}
