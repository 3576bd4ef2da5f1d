//! Smoke tests: each part that `scripts/setup.sh` installs does real work.

use serde_json::{Value, json};
use std::{fs, net::TcpStream, path::Path, process::Command};
use tessera_harness::{Anvil, IpfsNode, LocalStack, Toolchain, mnist_dir};

fn toolchain() -> Toolchain {
    Toolchain::discover().expect("run `make setup` first")
}

#[test]
fn tch_multiplies_matrices() {
    let a = tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).reshape([2, 2]);
    let product = a.matmul(&a);
    let values: Vec<f32> = product.flatten(0, -1).try_into().expect("a flat f32 tensor");
    assert_eq!(values, [7.0, 10.0, 15.0, 22.0]);
}

#[tokio::test]
async fn anvil_answers_chain_id() {
    let anvil = Anvil::builder().chain_id(31337).spawn(&toolchain()).expect("anvil starts");
    assert!(anvil.url().starts_with("http://127.0.0.1:"), "{}", anvil.url());
    assert_eq!(anvil.accounts().len(), 10);

    let response: Value = reqwest::Client::new()
        .post(anvil.url())
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": [] }))
        .send()
        .await
        .expect("anvil answers")
        .json()
        .await
        .expect("a JSON-RPC response");
    assert_eq!(response["result"], "0x7a69");
}

#[test]
fn stack_stops_when_a_test_panics() {
    let toolchain = toolchain();
    let (sender, receiver) = std::sync::mpsc::channel();
    let panicked = std::thread::spawn(move || {
        let stack = LocalStack::start(&toolchain).expect("the stack starts");
        let addresses =
            [stack.anvil.url(), stack.ipfs.api_url()].map(|url| url.trim_start_matches("http://").to_owned());
        sender.send(addresses).expect("the test thread listens");
        panic!("a test fails while it holds the stack");
    })
    .join();
    assert!(panicked.is_err(), "the thread was meant to panic");

    for address in receiver.recv().expect("the stack had started") {
        assert!(TcpStream::connect(&address).is_err(), "{address} still accepts connections after the panic");
    }
}

#[tokio::test]
async fn ipfs_add_then_cat_round_trips() {
    let node = IpfsNode::start(&toolchain()).expect("the IPFS node starts");
    let client = reqwest::Client::new();
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();

    let part = reqwest::multipart::Part::bytes(payload.clone())
        .file_name("payload")
        .mime_str("application/octet-stream")
        .expect("a valid MIME type");
    let added: Value = client
        .post(format!("{}/api/v0/add?cid-version=0&pin=true", node.api_url()))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("add is answered")
        .error_for_status()
        .expect("add succeeds")
        .json()
        .await
        .expect("add returns JSON");
    let cid = added["Hash"].as_str().expect("add returns a CID");
    assert!(cid.starts_with("Qm"), "a CIDv0: {cid}");

    let fetched = client
        .post(format!("{}/api/v0/cat?arg={cid}", node.api_url()))
        .send()
        .await
        .expect("cat is answered")
        .error_for_status()
        .expect("cat succeeds")
        .bytes()
        .await
        .expect("cat streams the bytes");
    assert_eq!(fetched.len(), payload.len());
    assert!(fetched == payload, "cat returned different bytes");
}

#[test]
fn forge_builds_a_contract() {
    let toolchain = toolchain();
    let project = tempfile::tempdir().expect("a temporary folder");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/forge-smoke/src/Counter.sol");
    fs::create_dir(project.path().join("src")).expect("src folder");
    fs::copy(&fixture, project.path().join("src/Counter.sol")).expect("fixture copied");
    let node_modules = toolchain.node_modules();
    let config = format!(
        "[profile.default]\nsolc = \"{solc}\"\noffline = true\nallow_paths = [\"{modules}\"]\nremappings = [\"@openzeppelin/contracts/={modules}/@openzeppelin/contracts/\"]\n",
        solc = toolchain.bin("solc").expect("the solc shim").display(),
        modules = node_modules.display(),
    );
    fs::write(project.path().join("foundry.toml"), config).expect("foundry.toml written");

    let output = Command::new(toolchain.bin("forge").expect("forge"))
        .arg("build")
        .current_dir(project.path())
        .output()
        .expect("forge runs");
    assert!(output.status.success(), "forge build failed:\n{}", String::from_utf8_lossy(&output.stderr));

    let artifact: Value = serde_json::from_slice(
        &fs::read(project.path().join("out/Counter.sol/Counter.json")).expect("the artifact exists"),
    )
    .expect("the artifact is JSON");
    let bytecode = artifact["bytecode"]["object"].as_str().expect("bytecode in the artifact");
    assert!(bytecode.len() > 100, "bytecode too short: {bytecode}");
    let functions: Vec<&str> =
        artifact["abi"].as_array().expect("an ABI array").iter().filter_map(|item| item["name"].as_str()).collect();
    assert!(functions.contains(&"increment") && functions.contains(&"owner"), "{functions:?}");
}

/// Reads an IDX header: the magic number, then one big-endian u32 per dimension.
fn idx_dims(path: &Path, expected_magic: u32) -> Vec<u32> {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let word = |i: usize| u32::from_be_bytes(bytes[4 * i..4 * i + 4].try_into().expect("four bytes"));
    assert_eq!(word(0), expected_magic, "{}", path.display());
    let dims: Vec<u32> = (1..=(expected_magic & 0xff) as usize).map(word).collect();
    let payload: usize = dims.iter().map(|&d| d as usize).product();
    assert_eq!(bytes.len(), 4 * (dims.len() + 1) + payload, "{} is truncated", path.display());
    dims
}

#[test]
fn mnist_headers_read_back() {
    let dir = mnist_dir();
    assert_eq!(idx_dims(&dir.join("train-images-idx3-ubyte"), 0x0803), [60_000, 28, 28]);
    assert_eq!(idx_dims(&dir.join("train-labels-idx1-ubyte"), 0x0801), [60_000]);
    assert_eq!(idx_dims(&dir.join("t10k-images-idx3-ubyte"), 0x0803), [10_000, 28, 28]);
    assert_eq!(idx_dims(&dir.join("t10k-labels-idx1-ubyte"), 0x0801), [10_000]);
}
