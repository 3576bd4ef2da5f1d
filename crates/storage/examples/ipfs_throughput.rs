//! Throughput of the store's `put` and `get` on a local IPFS node at 1, 10 and 50 MB, side by
//! side with a raw HTTP upload and download of the same bytes to the same node, which skips the
//! local hashing and verification the store adds.
//!
//! `cargo run --release -p tessera-storage --example ipfs_throughput`

use bytes::Bytes;
use futures_util::TryStreamExt;
use reqwest::multipart::{Form, Part};
use std::time::{Duration, Instant};
use tessera_harness::{IpfsNode, Toolchain};
use tessera_storage::{ClientConfig, ContentStore, IpfsStore};

const RUNS: usize = 5;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let node = IpfsNode::start(&Toolchain::discover()?)?;
    let store = IpfsStore::new(node.api_url(), ClientConfig::default())?;
    let http = reqwest::Client::new();
    let add_url = format!("{}/api/v0/add?cid-version=0&pin=true&progress=false", node.api_url());

    println!("| size | put (MB/s) | raw add (MB/s) | put / raw | get (MB/s) | raw cat (MB/s) | get / raw |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for megabytes in [1usize, 10, 50] {
        let len = megabytes * 1_000_000;
        let mut put = Vec::new();
        let mut raw_add = Vec::new();
        let mut get = Vec::new();
        let mut raw_cat = Vec::new();
        for run in 0..RUNS {
            // Fresh bytes each run, so no run finds its blocks already stored.
            let bytes: Bytes =
                (0..len).map(|i| ((i as u64 * 2_654_435_761) >> 13) as u8 ^ run as u8).collect::<Vec<_>>().into();
            let raw_bytes: Bytes = bytes.iter().map(|b| b ^ 0x5a).collect::<Vec<_>>().into();

            let started = Instant::now();
            let cid = store.put(bytes.clone()).await?;
            put.push(started.elapsed());

            let started = Instant::now();
            let part = Part::stream_with_length(raw_bytes.clone(), len as u64)
                .file_name("object")
                .mime_str("application/octet-stream")?;
            let answer: serde_json::Value =
                http.post(&add_url).multipart(Form::new().part("file", part)).send().await?.json().await?;
            raw_add.push(started.elapsed());
            let raw_cid = answer["Hash"].as_str().ok_or("no Hash")?.to_owned();

            let started = Instant::now();
            let fetched = store.get(&cid, len as u64).await?;
            get.push(started.elapsed());
            assert_eq!(fetched.len(), len);

            let started = Instant::now();
            let mut stream =
                http.post(format!("{}/api/v0/cat?arg={raw_cid}", node.api_url())).send().await?.bytes_stream();
            let mut received = Vec::with_capacity(len);
            while let Some(piece) = stream.try_next().await? {
                received.extend_from_slice(&piece);
            }
            raw_cat.push(started.elapsed());
            assert_eq!(received.len(), len);
        }
        let rate = |times: &mut Vec<Duration>| {
            times.sort();
            len as f64 / 1e6 / times[RUNS / 2].as_secs_f64()
        };
        let (put, raw_add, get, raw_cat) = (rate(&mut put), rate(&mut raw_add), rate(&mut get), rate(&mut raw_cat));
        println!(
            "| {megabytes} MB | {put:.1} | {raw_add:.1} | {:.2} | {get:.1} | {raw_cat:.1} | {:.2} |",
            put / raw_add,
            get / raw_cat
        );
    }
    println!("\nMedian of {RUNS} runs each; MB = 10^6 bytes; a ratio of 1.00 means no overhead over raw HTTP.");
    Ok(())
}
