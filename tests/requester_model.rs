//! A requester's own model on the real stack: a small CNN exported from PyTorch with TorchScript is posted as a
//! task (`create-task --script`, which checks it, publishes it to IPFS and names it on chain by its CID), two
//! worker processes train it for two rounds, and the final weights, loaded back into the PyTorch module by its
//! own parameter names, score the accuracy the coordinator reported. `verify` recomputes both rounds.

mod common;

use std::{process::Command, time::Duration};
use tessera_demo::{Binaries, Demo, Role, Scenario};
use tessera_harness::mnist_dir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torchscript_model_from_pytorch_trains_as_a_task_and_scores_in_pytorch_what_was_reported() {
    let dir = tempfile::tempdir().unwrap();
    let helper = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/script_model.py");
    let module = dir.path().join("small_cnn.pt");
    let exported = Command::new(common::python()).arg(&helper).arg("export").arg(&module).output().unwrap();
    if exported.status.code() == Some(77) {
        return println!("SKIPPED: {}", String::from_utf8_lossy(&exported.stdout));
    }
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));

    let binaries = Binaries::in_dir(&common::profile_dir()).expect("cargo test --workspace builds both binaries");
    let mut scenario = Scenario { model: Some(module.clone()), ..Scenario::with_red_team(2, 400, &[]) };
    scenario.workers.truncate(2);
    let mut demo = Demo::start(binaries, scenario.clone(), true).await.unwrap();
    demo.run_to_end(Duration::from_secs(600)).await.unwrap();
    let report = demo.report().await.unwrap();
    println!("{report}");

    // Both rounds ran on the module, both workers were paid, and the model learned.
    assert_eq!(report.rounds.len(), 2);
    assert!(report.workers.iter().all(|w| w.role == Role::Honest.to_string() && w.flags.is_empty() && w.claimed > 0));
    let last = report.rounds.last().unwrap();
    assert!(last.validation_accuracy > 0.7, "validation accuracy {}", last.validation_accuracy);

    // Anyone can recompute both rounds, fetching the module by the CID the chain names.
    common::assert_verified(&demo, 2);

    // The final weights, in the PyTorch module, give the accuracy the coordinator reported.
    let checkpoint = dir.path().join("final.safetensors");
    common::save_checkpoint(&demo, &last.model_cid, &checkpoint).await;
    let mut evaluation = Command::new(common::python());
    evaluation
        .arg(&helper)
        .arg("evaluate")
        .arg(&module)
        .arg(&checkpoint)
        .arg(mnist_dir())
        .arg(scenario.validation_samples.to_string());
    assert!(
        common::pytorch_scores_as_reported(evaluation, last.validation_accuracy, scenario.validation_samples),
        "torch exported the module, so it evaluates it too"
    );
}
