//! The marketplace off plain loopback HTTP: the coordinator and the worker processes reach anvil, the IPFS node
//! and the coordinator's API over real TLS, through proxies presenting certificates of a CA made for the test,
//! and the IPFS API only with a bearer token, as a hosted RPC and a pinning service would ask. A round runs
//! through all of it and the workers claim over it; a client that does not trust the CA, and one without the
//! token, are refused with a clear error.

mod common;

use alloy::primitives::U256;
use std::time::Duration;
use tessera_chain::MarketplaceClient;
use tessera_demo::{Binaries, Demo, Scenario};
use tessera_storage::{ClientConfig, ContentStore, IpfsStore, TlsRoots};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_runs_over_tls_and_untrusted_or_tokenless_clients_are_refused() {
    let binaries = Binaries::in_dir(&common::profile_dir()).expect("cargo test --workspace builds both binaries");
    let scenario = Scenario { tls: true, ..Scenario::with_red_team(1, 300, &[]) };
    let mut demo = Demo::start(binaries, scenario, true).await.unwrap();
    assert!(demo.public_url().starts_with("https://127.0.0.1:"), "{}", demo.public_url());
    assert!(demo.public_ipfs_url().starts_with("https://"), "{}", demo.public_ipfs_url());
    demo.run_to_end(Duration::from_secs(600)).await.unwrap();

    // The round was finalized, and every worker's claim (sent through the TLS proxy of the RPC) paid.
    let chain = MarketplaceClient::new(demo.provider().clone(), demo.marketplace, alloy::primitives::Address::ZERO);
    let task = chain.task(U256::from(demo.task)).await.unwrap();
    assert_eq!(task.currentRound, 1);
    for index in 0..4 {
        let worker = chain.worker(U256::from(demo.task), demo.worker_address(index).unwrap()).await.unwrap();
        assert!(worker.claimed > 0, "worker {index} claimed nothing over TLS");
    }

    // A worker that does not trust the CA is refused during the handshake, and says so.
    let untrusting = demo
        .worker_command(0)
        .env_remove("TESSERA_TLS_CA_FILE")
        .args(["claim", "--task", &demo.task.to_string()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&untrusting.stderr);
    assert!(!untrusting.status.success(), "{said}");
    assert!(said.to_lowercase().contains("certificate"), "the refusal does not name the certificate: {said}");

    // The IPFS API demands its token: without it a clear 401, with it the object is stored.
    let roots = TlsRoots::with_ca_file(&demo.tls_ca_file().unwrap()).unwrap();
    let tokenless = IpfsStore::new(demo.public_ipfs_url(), ClientConfig { roots, ..ClientConfig::default() }).unwrap();
    let refused = tokenless.put(bytes::Bytes::from_static(b"no token")).await.unwrap_err().to_string();
    assert!(refused.contains("401") || refused.to_lowercase().contains("bearer"), "{refused}");
}
