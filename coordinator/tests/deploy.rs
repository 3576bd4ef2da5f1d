//! The commands that come before any task runs: `deploy` puts a working marketplace on a chain, the example settings of
//! `docs/deploy.md` load, and `check-model` tells a requester whether a TorchScript module fits a task.

use alloy::primitives::{Address, U256};
use tessera_chain::MarketplaceClient;
use tessera_coordinator::Config;
use tessera_harness::{Anvil, Toolchain};

#[tokio::test]
async fn deploy_puts_a_marketplace_on_the_chain_and_prints_it() {
    let anvil = Anvil::builder().spawn(&Toolchain::discover().expect("run `make setup` first")).unwrap();
    let deployer = &anvil.accounts()[0];
    let admin = anvil.accounts()[1].address;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-coordinator"))
        .args(["deploy", "--admin", &format!("{admin:#x}")])
        .env("TESSERA_CHAIN_RPC_URL", anvil.url())
        .env("TESSERA_DEPLOYER_PRIVATE_KEY", &deployer.private_key)
        .env_remove("TESSERA_CONFIG")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let deployed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(deployed["chain_id"], anvil.chain_id());
    assert_eq!(deployed["admin"], format!("{admin:#x}"));
    let marketplace: Address = deployed["marketplace"].as_str().unwrap().parse().unwrap();
    let client =
        MarketplaceClient::new(tessera_chain::connect(anvil.url(), &deployer.private_key).unwrap(), marketplace, admin);
    assert_eq!(client.task_count().await.unwrap(), U256::ZERO, "a fresh marketplace answers");

    let without_key = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-coordinator"))
        .arg("deploy")
        .env("TESSERA_CHAIN_RPC_URL", anvil.url())
        .env_remove("TESSERA_DEPLOYER_PRIVATE_KEY")
        .output()
        .unwrap();
    assert!(!without_key.status.success());
    assert!(String::from_utf8_lossy(&without_key.stderr).contains("TESSERA_DEPLOYER_PRIVATE_KEY"));
}

#[test]
fn the_example_settings_of_the_deployment_guide_load() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/coordinator.toml");
    let config = Config::load_from(Some(&file), |_| None).unwrap();
    assert!(config.chain_rpc_url.starts_with("https://"));
    assert!(config.ipfs_api_url.starts_with("https://"));
    assert!(config.database_url.contains("sslmode=require"));
    assert_eq!(config.min_workers, 3);
    assert!(config.private_key.is_none() && config.ipfs_authorization.is_none(), "no secret in the file");
    let with_token = Config::load_from(Some(&file), |name| {
        (name == "TESSERA_IPFS_AUTHORIZATION").then(|| "Bearer t0ken".to_owned())
    })
    .unwrap();
    assert_eq!(with_token.ipfs_authorization.as_deref(), Some("Bearer t0ken"));
}

/// `check-model` passes a requester's TorchScript module that fits the task and names what is wrong with one
/// that does not, before anyone stakes on it. Skips when Python has no torch to export them.
#[test]
fn check_model_passes_a_fitting_module_and_names_what_is_wrong_with_another() {
    let dir = tempfile::tempdir().unwrap();
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/train/python/export_script.py");
    let exported = std::process::Command::new(&python).arg(&script).arg(dir.path()).output().unwrap();
    if exported.status.code() == Some(77) {
        return println!("SKIPPED: Python at {} has no torch", python.display());
    }
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));
    let check = |file: &str, extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tessera-coordinator"))
            .arg("check-model")
            .arg(dir.path().join(file))
            .args(extra)
            .env_remove("TESSERA_CONFIG")
            .output()
            .unwrap()
    };
    let fits = check("small_cnn.pt", &[]);
    assert!(fits.status.success(), "{}", String::from_utf8_lossy(&fits.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&fits.stdout).unwrap();
    assert_eq!((summary["classes"].as_u64(), summary["parameters"][0]["name"].as_str()), (Some(10), Some("0.weight")));

    for (file, extra, reason) in [
        ("batch_norm.pt", &[][..], "running statistics"),
        ("small_cnn.pt", &["--like", "resnet18-cifar-v1"][..], "[2, 3, 32, 32]"),
        ("small_cnn.pt", &["--max-parameters", "100"][..], "over the task's limit of 100"),
    ] {
        let refused = check(file, extra);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success() && stderr.contains(reason), "{file} {extra:?}: {stderr}");
    }
}
