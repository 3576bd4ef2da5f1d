//! What sealing costs: sealing and opening alone, then sealed upload and download beside plain ones on a local
//! IPFS node, at a LeNet update's size (2.3 MB), 10 MB and 50 MB. A sealed upload is a seal then a `put`; a
//! sealed download a `get` then an open (each with a key wrapped for two readers, as an update is for the
//! coordinator and one auditor).
//!
//! `cargo run --release -p tessera-seal --example seal_throughput`

use bytes::Bytes;
use std::time::{Duration, Instant};
use tessera_harness::{IpfsNode, Toolchain};
use tessera_seal::{ContentKey, Context, ReaderKey, open, seal};
use tessera_storage::{ClientConfig, ContentStore, IpfsStore};

const RUNS: usize = 5;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let node = IpfsNode::start(&Toolchain::discover()?)?;
    let store = IpfsStore::new(node.api_url(), ClientConfig::default())?;
    let readers = [ReaderKey::random().reader(), ReaderKey::random().reader()];
    let context = Context::update(1, "0x5fbdb2315678afecb367f032d93f642f64180aa3", 1, 1, "0xaa");

    println!(
        "| size | seal (MB/s) | open (MB/s) | plain put (MB/s) | sealed put (MB/s) | sealed / plain | plain get (MB/s) \
         | sealed get (MB/s) | sealed / plain |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (label, len) in [("2.3 MB", 2_328_104usize), ("10 MB", 10_000_000), ("50 MB", 50_000_000)] {
        let mut times: [Vec<Duration>; 6] = Default::default();
        for run in 0..RUNS {
            // Fresh bytes (and a fresh key) each run, so no run finds its blocks already stored; as random as a
            // ciphertext (or a model's weights), so no block of the plain upload repeats another.
            let plain = random_bytes(len, run as u64 + 1);
            let key = ContentKey::random();

            let started = Instant::now();
            let sealed = seal(&key, &context, &plain, &readers);
            times[0].push(started.elapsed());
            let started = Instant::now();
            let opened = open(&sealed, &key, &context)?;
            times[1].push(started.elapsed());
            assert_eq!(opened, plain);

            let other = random_bytes(len, run as u64 + 101);
            let started = Instant::now();
            let plain_cid = store.put(Bytes::from(other)).await?;
            times[2].push(started.elapsed());
            let started = Instant::now();
            let sealed_cid = store.put(Bytes::from(seal(&key, &context, &plain, &readers))).await?;
            times[3].push(started.elapsed());

            let started = Instant::now();
            assert_eq!(store.get(&plain_cid, len as u64).await?.len(), len);
            times[4].push(started.elapsed());
            let started = Instant::now();
            let fetched = store.get(&sealed_cid, len as u64 + tessera_seal::MAX_OVERHEAD).await?;
            assert_eq!(open(&fetched, &key, &context)?.len(), len);
            times[5].push(started.elapsed());
        }
        let rates: Vec<f64> = times
            .iter_mut()
            .map(|t| {
                t.sort();
                len as f64 / 1e6 / t[RUNS / 2].as_secs_f64()
            })
            .collect();
        println!(
            "| {label} | {:.0} | {:.0} | {:.1} | {:.1} | {:.2} | {:.1} | {:.1} | {:.2} |",
            rates[0],
            rates[1],
            rates[2],
            rates[3],
            rates[3] / rates[2],
            rates[4],
            rates[5],
            rates[5] / rates[4]
        );
    }
    println!("\nMedian of {RUNS} runs each; MB = 10^6 bytes; a ratio of 1.00 means sealing costs nothing over plain.");
    Ok(())
}

/// `len` pseudo-random bytes (xorshift64*) from `seed`.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}
