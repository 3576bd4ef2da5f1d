//! A confidential task on the real stack (anvil, an IPFS node, SQLite, the coordinator and three worker processes
//! and a free-rider): what it produces is readable by its parties only, and stays auditable. An outsider holding
//! every CID reads no update and no checkpoint; a joined worker reads the global model of the round it takes part
//! in (and no other round's); the requester reads the final model; the auditor's key verifies every round; and
//! once the task publishes its keys, `verify` passes with no key at all.

mod common;

use std::time::{Duration, Instant};
use tessera_api::{RoundKey, RoundSummary, SubmissionListing};
use tessera_demo::{Attack, Binaries, Confidentiality, Demo, Scenario};
use tessera_seal::{Context, ReaderKey, Sealed, WrappedKey, is_sealed};
use tessera_storage::{ContentStore, IpfsStore};
use tessera_train::{ArchitectureId, DecodeLimits, FileKind, WeightsFile};

const ROUNDS: u32 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confidential_task_is_read_by_its_parties_only_and_verifies_with_a_key_then_without() {
    let binaries = Binaries::in_dir(&common::profile_dir()).expect("cargo test --workspace builds both binaries");
    let scenario = Scenario {
        validation_samples: 500,
        confidential: Some(Confidentiality::default()),
        ..Scenario::equal(ROUNDS, 3, 300, &[Attack::FreeRider])
    };
    let mut demo = Demo::start(binaries, scenario.clone(), true).await.unwrap();
    // While the last round runs: a worker asks for its global model's key, and an outsider and an earlier round
    // are refused (keys are served for a running task's latest round only).
    let watcher = tokio::spawn(worker_reads_the_last_global_model(
        demo.url.clone(),
        demo.task,
        demo.worker_key(0).unwrap(),
        demo.stack.ipfs.api_url().to_owned(),
        (demo.stack.anvil.chain_id(), format!("{:#x}", demo.marketplace)),
    ));
    demo.run_to_end(Duration::from_secs(900)).await.unwrap();
    watcher.await.unwrap();
    // The requester reads every round's model: the report opens each with the requester's key and evaluates it.
    let report = demo.report().await.unwrap();
    println!("{report}");
    let last = report.rounds.last().unwrap();
    assert_eq!(report.rounds.len(), ROUNDS as usize);
    // (Three workers of 300 samples, three rounds: about 70%, from 10% untrained.)
    assert!(last.test_accuracy > 0.6, "the requester's final model scores {:.4}", last.test_accuracy);
    assert!(last.test_accuracy > report.rounds[0].test_accuracy, "the model learns");

    let content = IpfsStore::new(demo.stack.ipfs.api_url(), Default::default()).unwrap();
    let http = reqwest::Client::new();
    let get = async |path: String| http.get(format!("{}{path}", demo.url)).send().await.unwrap();
    let rounds: Vec<RoundSummary> = get(format!("/api/v1/tasks/{}/rounds", demo.task)).await.json().await.unwrap();
    let arch = ArchitectureId::Lenet5MnistV1;
    let checkpoint = DecodeLimits::expecting(arch, FileKind::Checkpoint);
    let update = DecodeLimits::expecting(arch, FileKind::Update);
    let marketplace = format!("{:#x}", demo.marketplace);
    let chain_id = demo.stack.anvil.chain_id();
    let outsider = ReaderKey::random();

    // An outsider with every CID: each update and each checkpoint after the initial one is sealed, decodes as no
    // weights file, names no key for the outsider, and the coordinator wraps none for it.
    for summary in &rounds {
        let round = &summary.round;
        let model = round.new_model_cid.unwrap();
        let bytes = content.get(&model, 64 << 20).await.unwrap();
        assert!(is_sealed(&bytes) && WeightsFile::decode(&bytes, &checkpoint).is_err(), "round {}", round.round);
        // The manifest too (it holds the scorer's sketches of every update): sealed, and not for the outsider.
        let sealed_manifest = content.get(round.manifest_cid.as_ref().unwrap(), 64 << 20).await.unwrap();
        let manifest_context = Context::manifest(chain_id, &marketplace, demo.task, round.round);
        assert!(Sealed::parse(&sealed_manifest).unwrap().key_for(&outsider, &manifest_context).is_err());
        let manifest = demo.read_manifest(&content, round).await.unwrap();
        let wraps: Vec<WrappedKey> = serde_json::from_value(manifest["sealing"]["new_model_keys"].clone()).unwrap();
        let context = Context::checkpoint(chain_id, &marketplace, demo.task, round.round);
        assert!(wraps.iter().all(|w| tessera_seal::unwrap(w, &outsider, &context).is_err()));
        assert_eq!(wraps.len(), 2, "the requester and the auditor");

        let listed: Vec<SubmissionListing> =
            get(format!("/api/v1/tasks/{}/rounds/{}/submissions", demo.task, round.round)).await.json().await.unwrap();
        assert_eq!(listed.len(), scenario.workers.len());
        for submission in listed {
            let cid = submission.update_cid.unwrap();
            let bytes = content.get(&cid, 64 << 20).await.unwrap();
            assert!(is_sealed(&bytes) && WeightsFile::decode(&bytes, &update).is_err());
            let worker = format!("{:#x}", submission.worker);
            let context = Context::update(chain_id, &marketplace, demo.task, round.round, &worker);
            let sealed = Sealed::parse(&bytes).unwrap();
            assert!(sealed.key_for(&outsider, &context).is_err(), "an update opens for an outsider");
            // The auditor's key opens it: the coordinator refuses updates that do not wrap it.
            let auditor = demo.auditor.as_ref().unwrap();
            let key = sealed.key_for(auditor, &context).unwrap();
            WeightsFile::decode(&sealed.open(&key, &context).unwrap(), &update).unwrap();
        }
    }
    let last_round = ROUNDS;
    let path = format!("/api/v1/tasks/{}/rounds/{last_round}/keys/{}", demo.task, outsider.reader());
    assert_eq!(get(path).await.status(), 409, "no key once the task is over");

    // The auditor's key verifies every round.
    let auditor = demo.auditor.as_ref().unwrap();
    let verify = demo
        .coordinator_command()
        .args(["verify", "--task", &demo.task.to_string(), "--reader-key-env", "TESSERA_AUDITOR_KEY"])
        .env("TESSERA_AUDITOR_KEY", alloy::hex::encode_prefixed(auditor.to_bytes()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "verify failed:\n{text}\n{}", String::from_utf8_lossy(&verify.stderr));
    assert!(text.contains(&format!("{ROUNDS} round(s) verified")), "{text}");
    assert!(text.contains("updates open to the plaintexts the manifest commits to: ok"), "{text}");

    // The task publishes its keys once it ends; then anyone verifies, with no key.
    common::wait_for_published_keys(&demo).await;
    common::assert_verified(&demo, ROUNDS);
}

/// Waits for the task's last round, then reads its global model as worker `worker` does (the key the coordinator
/// wraps for it); checks that an outsider's key and an earlier round get nothing.
async fn worker_reads_the_last_global_model(
    url: String,
    task: u64,
    worker: ReaderKey,
    ipfs: String,
    (chain_id, marketplace): (u64, String),
) {
    let http = reqwest::Client::new();
    let key_path =
        |round: u32, reader: &ReaderKey| format!("{url}/api/v1/tasks/{task}/rounds/{round}/keys/{}", reader.reader());
    let started = Instant::now();
    let answer = loop {
        assert!(started.elapsed() < Duration::from_secs(900), "the last round never opened");
        let answer = http.get(key_path(ROUNDS, &worker)).send().await.unwrap();
        if answer.status() == 200 {
            break answer.json::<RoundKey>().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let outsider = ReaderKey::random();
    assert_eq!(http.get(key_path(ROUNDS, &outsider)).send().await.unwrap().status(), 403, "an outsider is no worker");
    assert_eq!(http.get(key_path(ROUNDS - 1, &worker)).send().await.unwrap().status(), 409, "an earlier round's key");
    let context = Context::checkpoint(chain_id, &marketplace, task, ROUNDS - 1);
    let key = tessera_seal::unwrap(&answer.wrapped_key, &worker, &context).unwrap();
    assert!(tessera_seal::unwrap(&answer.wrapped_key, &outsider, &context).is_err(), "the wrap is the worker's");
    let content = IpfsStore::new(&ipfs, Default::default()).unwrap();
    let bytes = content.get(&answer.global_model_cid, 64 << 20).await.unwrap();
    let limits = DecodeLimits::expecting(ArchitectureId::Lenet5MnistV1, FileKind::Checkpoint);
    WeightsFile::decode(&tessera_seal::open(&bytes, &key, &context).unwrap(), &limits).unwrap();
}
