//! A 50 MB object streams through the store without being held in memory, let alone twice.
//! Alone in its test binary so the process's peak memory belongs to this test.

use std::{fs, time::Duration};
use tessera_harness::{IpfsNode, Toolchain};
use tessera_storage::{ClientConfig, DagBuilder, IpfsStore};

const SIZE: usize = 50 << 20;

/// The process's peak resident memory so far, from /proc.
fn peak_rss_bytes() -> u64 {
    let status = fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).expect("a VmHWM line");
    line.split_whitespace().nth(1).and_then(|kib| kib.parse::<u64>().ok()).expect("a number of KiB") * 1024
}

#[tokio::test]
async fn fifty_megabytes_stream_through_files() {
    let node = IpfsNode::start(&Toolchain::discover().expect("run `make setup` first")).expect("the node starts");
    let config = ClientConfig { request_timeout: Duration::from_secs(120), ..ClientConfig::default() };
    let store = IpfsStore::new(node.api_url(), config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    {
        use std::io::Write;
        let mut file = std::io::BufWriter::new(fs::File::create(&source).unwrap());
        let mut state = 0x9e37_79b9_u32;
        for _ in 0..SIZE / 4 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            file.write_all(&state.to_le_bytes()).unwrap();
        }
    }
    let before = peak_rss_bytes();

    let cid = store.put_file(&source).await.unwrap();
    let target = dir.path().join("target");
    let len = store.get_to_file(&cid, SIZE as u64, &target).await.unwrap();

    let grown = peak_rss_bytes().saturating_sub(before);
    assert_eq!(len, SIZE as u64);
    assert!(fs::read(&source).unwrap() == fs::read(&target).unwrap(), "the copy differs");
    assert_eq!(DagBuilder::cid_of(&fs::read(&target).unwrap()), cid);
    // Holding the object once would add 50 MiB; streaming adds buffers only.
    assert!(grown < (SIZE / 2) as u64, "peak memory grew by {} MiB", grown >> 20);
}
