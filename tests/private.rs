//! Central differential privacy on a confidential task, on the real stack: each round's manifest records the
//! accountant's epsilon and a commitment to its noise seed, which is wrapped for the auditor only. The auditor's
//! key recomputes every noised round bit for bit; the requester's key, which reads the models but neither the
//! updates nor the noise (it would take the noise back out), cannot; once the keys are published, `verify` passes
//! with no key.

mod common;

use std::time::Duration;
use tessera_api::RoundSummary;
use tessera_demo::{Binaries, Confidentiality, Demo, Scenario};
use tessera_storage::IpfsStore;

const ROUNDS: u32 = 2;
const EPSILON: f64 = 8.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_rounds_verify_with_the_auditors_seed_not_the_requesters_key() {
    let binaries = Binaries::in_dir(&common::profile_dir()).expect("cargo test --workspace builds both binaries");
    let confidential = Confidentiality { dp_epsilon: Some(EPSILON), ..Confidentiality::default() };
    let scenario =
        Scenario { validation_samples: 300, confidential: Some(confidential), ..Scenario::equal(ROUNDS, 3, 200, &[]) };
    let mut demo = Demo::start(binaries, scenario, true).await.unwrap();
    demo.run_to_end(Duration::from_secs(900)).await.unwrap();

    // Every manifest records the settings, the seed's commitment wrapped for the one auditor, and the accountant.
    let content = IpfsStore::new(demo.stack.ipfs.api_url(), Default::default()).unwrap();
    let rounds: Vec<RoundSummary> =
        reqwest::get(format!("{}/api/v1/tasks/{}/rounds", demo.url, demo.task)).await.unwrap().json().await.unwrap();
    for summary in &rounds {
        let manifest = demo.read_manifest(&content, &summary.round).await.unwrap();
        let privacy = &manifest["privacy"];
        assert_eq!(privacy["spec"]["clip"], 1.0, "{privacy}");
        assert_eq!(privacy["noise_seed_keys"].as_array().unwrap().len(), 1, "the auditor only: {privacy}");
        assert!(privacy["noise_commitment"].as_str().unwrap().starts_with("0x"));
        let epsilon = privacy["epsilon_task"].as_f64().unwrap();
        if summary.round.round == ROUNDS {
            assert!((epsilon - EPSILON).abs() < 1e-3, "the whole task spends its budget: {epsilon}");
        } else {
            assert!(epsilon < EPSILON, "{epsilon}");
        }
    }

    let verify = |name: &str, key: Option<String>| {
        let mut command = demo.coordinator_command();
        command.args(["verify", "--task", &demo.task.to_string()]);
        if let Some(key) = key {
            command.args(["--reader-key-env", name]).env(name, key);
        }
        command.output().unwrap()
    };
    let hex = |key: &tessera_seal::ReaderKey| alloy::hex::encode_prefixed(key.to_bytes());
    let audited = verify("AUDITOR_KEY", Some(hex(demo.auditor.as_ref().unwrap())));
    let text = String::from_utf8_lossy(&audited.stdout);
    assert!(audited.status.success(), "{text}{}", String::from_utf8_lossy(&audited.stderr));
    assert!(text.contains("differential privacy ran with the task's settings and the committed noise seed: ok"));
    assert!(text.contains(&format!("{ROUNDS} round(s) verified")), "{text}");

    // The requester reads the models, not the updates or the noise: it cannot recompute a round.
    let requester = verify("REQUESTER_KEY", Some(hex(&demo.requester_key().unwrap())));
    let error = String::from_utf8_lossy(&requester.stderr);
    assert!(!requester.status.success() && error.contains("is not one of task"), "{error}");

    common::wait_for_published_keys(&demo).await;
    common::assert_verified(&demo, ROUNDS);
}
