//! The one-command demo.
//!
//! Today it starts the local stack (anvil, an IPFS node), checks the MNIST cache, and reports what
//! each part answered. The marketplace itself (contracts, coordinator, workers) joins it as those
//! parts land; nothing here prints a result that was not measured.

use clap::Parser;
use eyre::{WrapErr, bail};
use serde_json::{Value, json};
use std::{fs, io::BufRead};
use tessera_harness::{LocalStack, Toolchain, mnist_dir};

/// Command-line options of `tessera-demo`.
#[derive(Debug, Parser)]
#[command(about = "Start Tessera's local stack and report what each part answers", long_about = None)]
pub struct Args {
    /// Keep the stack running until Enter or Ctrl-C, instead of stopping it at once.
    #[arg(long)]
    pub hold: bool,
}

/// Runs the demo.
pub async fn run(args: Args) -> eyre::Result<()> {
    let toolchain = Toolchain::discover().wrap_err("the toolchain is not installed")?;
    println!("Starting the local stack (anvil, IPFS node)...");
    let stack = LocalStack::start(&toolchain).wrap_err("starting the local stack")?;
    let http = reqwest::Client::new();

    let chain_id: Value = http
        .post(stack.anvil.url())
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": [] }))
        .send()
        .await
        .wrap_err("asking anvil for its chain id")?
        .json()
        .await?;
    let chain_id = chain_id["result"]
        .as_str()
        .and_then(|hex| u64::from_str_radix(hex.trim_start_matches("0x"), 16).ok())
        .ok_or_else(|| eyre::eyre!("anvil answered eth_chainId with {chain_id}"))?;
    println!("  chain      {}  chain id {chain_id}", stack.anvil.url());
    println!("             {} funded dev accounts", stack.anvil.accounts().len());

    let id: Value = http
        .post(format!("{}/api/v0/id", stack.ipfs.api_url()))
        .send()
        .await
        .wrap_err("asking the IPFS node for its id")?
        .error_for_status()?
        .json()
        .await?;
    let text = |key: &str| id[key].as_str().unwrap_or("?").to_owned();
    println!("  ipfs       {}  peer {}  ({})", stack.ipfs.api_url(), text("ID"), text("AgentVersion"));

    let mnist = mnist_dir();
    let train_images = mnist.join("train-images-idx3-ubyte");
    let size = fs::metadata(&train_images).wrap_err_with(|| format!("reading {}", train_images.display()))?.len();
    if size != 47_040_016 {
        bail!("{} has {size} bytes; run `make setup` to restore it", train_images.display());
    }
    println!("  mnist      {}", mnist.display());
    println!();
    println!("The marketplace (contracts, coordinator, workers) is not part of this demo yet.");

    if args.hold {
        println!("Holding the stack; press Enter or Ctrl-C to stop.");
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
    }
    drop(stack);
    Ok(())
}
