//! The store against a real IPFS node started by the harness.

use bytes::Bytes;
use std::time::Duration;
use tessera_harness::{IpfsNode, Toolchain};
use tessera_storage::{CHUNK_SIZE, ClientConfig, ContentStore, DagBuilder, DiskCache, Error, IpfsStore};

fn node() -> IpfsNode {
    IpfsNode::start(&Toolchain::discover().expect("run `make setup` first")).expect("the IPFS node starts")
}

fn quick() -> ClientConfig {
    ClientConfig {
        request_timeout: Duration::from_secs(3),
        read_timeout: Duration::from_secs(3),
        retries: 2,
        backoff: Duration::from_millis(20),
        ..ClientConfig::default()
    }
}

fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len).map(|i| ((i as u64 * 2_654_435_761) >> 13) as u8 ^ seed).collect::<Vec<u8>>().into()
}

#[tokio::test]
async fn add_gives_the_local_cid_and_cat_the_same_bytes() {
    let node = node();
    let store = IpfsStore::new(node.api_url(), ClientConfig::default()).unwrap();
    let client = store.client();
    assert!(client.id().await.unwrap().agent_version.contains("ipfs"));

    for len in [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17] {
        let bytes = pattern(len, 1);
        let added = client.add(bytes.clone(), true).await.unwrap();
        assert_eq!(added.cid, DagBuilder::cid_of(&bytes), "{len} bytes");
        let fetched = store.get(&added.cid, len as u64).await.unwrap();
        assert!(fetched == bytes, "{len} bytes came back different");
    }
}

#[tokio::test]
async fn pins_and_unpins() {
    let node = node();
    let store = IpfsStore::new(node.api_url(), ClientConfig::default()).unwrap();
    let client = store.client();
    let bytes = pattern(2 * CHUNK_SIZE, 2);
    let added = client.add(bytes, false).await.unwrap();
    client.pin_add(&added.cid).await.unwrap();
    let stat = client.block_stat(&added.cid).await.unwrap();
    assert!(stat.size > 0 && stat.size < 200, "a root block of two links: {stat:?}");
    client.pin_rm(&added.cid).await.unwrap();
    let unpinned_twice = client.pin_rm(&added.cid).await;
    assert!(matches!(unpinned_twice, Err(Error::Node { status: 500, .. })), "{unpinned_twice:?}");
}

#[tokio::test]
async fn a_node_down_at_start_is_reported_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let store = IpfsStore::new(&format!("http://127.0.0.1:{port}"), quick()).unwrap();
    let error = store.put(Bytes::from_static(b"payload")).await.unwrap_err();
    assert!(matches!(error, Error::Unreachable { .. }), "{error}");
}

#[tokio::test]
async fn an_unknown_cid_fails_in_time_instead_of_hanging() {
    let node = node();
    let store = IpfsStore::new(node.api_url(), quick()).unwrap();
    let unknown = DagBuilder::cid_of(b"never added anywhere");
    let started = std::time::Instant::now();
    let error = store.get(&unknown, 1 << 20).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert!(matches!(error, Error::Timeout { .. } | Error::Node { .. }), "{error}");
}

#[tokio::test]
async fn a_node_killed_mid_transfer_leaves_no_file() {
    let mut node = node();
    let store = IpfsStore::new(node.api_url(), quick()).unwrap();
    let bytes = pattern(40 << 20, 3);
    let cid = store.put(bytes).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("object");
    let partial = target.with_extension("partial");
    let download = tokio::spawn({
        let (store, target) = (store.clone(), target.clone());
        async move { store.get_to_file(&cid, 64 << 20, &target).await }
    });
    while std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    node.kill();

    let error = download.await.unwrap().unwrap_err();
    assert!(matches!(error, Error::Transfer { .. } | Error::Timeout { .. } | Error::ContentMismatch { .. }), "{error}");
    assert!(!target.exists(), "an unverified object was left at the target");
    assert!(!partial.exists(), "the partial download was left behind");
}

#[tokio::test]
async fn a_tampered_cache_is_caught_and_repaired() {
    let node = node();
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::open(dir.path()).await.unwrap();
    let store = IpfsStore::new(node.api_url(), ClientConfig::default()).unwrap().with_cache(cache.clone());
    let bytes = pattern(CHUNK_SIZE + 5, 4);
    let cid = store.put(bytes.clone()).await.unwrap();

    let mut tampered = bytes.to_vec();
    tampered[7] ^= 0xff;
    std::fs::write(cache.path_of(&cid), &tampered).unwrap();
    let error = cache.get(&cid, 1 << 20).await.unwrap_err();
    assert!(matches!(error, Error::CacheCorrupted { .. }), "{error}");
    assert!(!cache.path_of(&cid).exists(), "the corrupted copy is still there");

    std::fs::write(cache.path_of(&cid), &tampered).unwrap();
    assert!(store.get(&cid, 1 << 20).await.unwrap() == bytes, "the store served tampered bytes");
    assert!(cache.get(&cid, 1 << 20).await.unwrap().unwrap() == bytes, "the cache was not repaired");
}

#[tokio::test]
async fn an_object_over_the_limit_is_refused() {
    let node = node();
    let store = IpfsStore::new(node.api_url(), ClientConfig::default()).unwrap();
    let cid = store.put(pattern(3 * CHUNK_SIZE, 5)).await.unwrap();
    let error = store.get(&cid, CHUNK_SIZE as u64).await.unwrap_err();
    assert!(matches!(error, Error::TooLarge { .. }), "{error}");
}
