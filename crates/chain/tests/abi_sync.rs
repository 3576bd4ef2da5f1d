//! The ABI files `sol!` compiles against are what the contracts build to today.

use std::{fs, path::Path, process::Command};

#[test]
fn committed_abi_matches_the_contracts() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fresh = tempfile::tempdir().unwrap();
    let status = Command::new(crate_dir.join("../../scripts/export-abi.sh")).arg(fresh.path()).status().unwrap();
    assert!(status.success(), "scripts/export-abi.sh failed");
    for contract in ["Marketplace", "TestToken"] {
        let committed = fs::read_to_string(crate_dir.join(format!("abi/{contract}.json"))).unwrap();
        let built = fs::read_to_string(fresh.path().join(format!("{contract}.json"))).unwrap();
        assert!(committed == built, "abi/{contract}.json is stale: run scripts/export-abi.sh");
    }
}
