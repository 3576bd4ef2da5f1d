//! A client for the Kubo RPC API (`/api/v0`), as spoken by Kubo, js-ipfs and pinning services.

use crate::{CHUNK_SIZE, Cid, Error, Result};
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt, stream::BoxStream};
use reqwest::multipart::{Form, Part};
use serde::Deserialize;
use serde_json::Value;
use std::{path::Path, time::Duration};
use tessera_net::TlsRoots;
use tokio::io::AsyncReadExt;

/// Timeouts, retries and credentials of a [`KuboClient`].
#[derive(Clone)]
pub struct ClientConfig {
    /// The limit for one request, body included. A node searching for an unknown CID hangs
    /// until this expires.
    pub request_timeout: Duration,
    /// The limit for opening a connection.
    pub connect_timeout: Duration,
    /// The longest pause between two pieces of a streamed body.
    pub read_timeout: Duration,
    /// How often a request that could not connect is tried again.
    pub retries: u32,
    /// The first pause before a retry; it doubles with each retry.
    pub backoff: Duration,
    /// An `Authorization` header value (`Basic …` or `Bearer …`) for pinning services that want one.
    pub authorization: Option<String>,
    /// The certificate authorities an https node is checked against.
    pub roots: TlsRoots,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("retries", &self.retries)
            .field("backoff", &self.backoff)
            .field("authorization", &self.authorization.as_ref().map(|_| "<redacted>"))
            .field("roots", &self.roots)
            .finish()
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(200),
            authorization: None,
            roots: TlsRoots::platform(),
        }
    }
}

/// What `add` stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddedObject {
    /// The object's CID.
    pub cid: Cid,
    /// The size the node reports: the DAG's total block size, not the file's length.
    pub size: u64,
}

/// What `block/stat` reports of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockStat {
    /// The block's CID.
    pub cid: Cid,
    /// The block's size in bytes.
    pub size: u64,
}

/// What `id` reports of the node.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct NodeId {
    /// The peer id.
    #[serde(rename = "ID")]
    pub id: String,
    /// The implementation and version, such as `kubo/0.30.0` or `js-ipfs/0.18.1`.
    #[serde(rename = "AgentVersion", default)]
    pub agent_version: String,
}

/// A Kubo RPC API client.
#[derive(Clone, Debug)]
pub struct KuboClient {
    base: String,
    http: reqwest::Client,
    config: ClientConfig,
}

impl KuboClient {
    /// A client of the node whose API is at `base_url` (such as `http://127.0.0.1:5001`).
    pub fn new(base_url: &str, config: ClientConfig) -> Result<Self> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(value) = &config.authorization {
            let mut value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|e| Error::Protocol { operation: "client setup", reason: format!("authorization: {e}") })?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let http = config
            .roots
            .apply(reqwest::Client::builder())
            .default_headers(headers)
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .build()
            .map_err(|e| Error::Protocol { operation: "client setup", reason: e.to_string() })?;
        Ok(Self { base: base_url.trim_end_matches('/').to_owned(), http, config })
    }

    /// The API base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The node's identity.
    pub async fn id(&self) -> Result<NodeId> {
        let response = self.post("id", &[], "node", None).await?;
        response.json().await.map_err(|e| protocol("id", &e))
    }

    /// Stores `bytes` as a CIDv0 UnixFS file, pinned when `pin` is set.
    pub async fn add(&self, bytes: Bytes, pin: bool) -> Result<AddedObject> {
        let length = bytes.len() as u64;
        self.add_part(&|| Ok(Part::stream_with_length(bytes.clone(), length)), pin).await
    }

    /// Stores a file's contents as a CIDv0 UnixFS file, streamed from disk rather than loaded.
    pub async fn add_file(&self, path: &Path, pin: bool) -> Result<AddedObject> {
        let read_error = |e| Error::Cache { context: format!("reading {}", path.display()), source: e };
        let length = tokio::fs::metadata(path).await.map_err(read_error)?.len();
        let open = || {
            let file = tokio::fs::File::from_std(std::fs::File::open(path).map_err(read_error)?);
            Ok(Part::stream_with_length(reqwest::Body::wrap_stream(file_chunks(file)), length))
        };
        self.add_part(&open, pin).await
    }

    async fn add_part(&self, part: &PartFactory<'_>, pin: bool) -> Result<AddedObject> {
        let pin = if pin { "true" } else { "false" };
        let query = [("cid-version", "0"), ("pin", pin), ("progress", "false")];
        let response = self.post("add", &query, "a new object", Some(part)).await?;
        let text = response.text().await.map_err(|e| transfer("add", "a new object", &e))?;
        // Kubo may answer with several JSON lines; the last names the object.
        let line = text.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or_default();
        let answer: Value = serde_json::from_str(line).map_err(|e| protocol("add", &e))?;
        let cid = answer["Hash"].as_str().ok_or_else(|| protocol("add", &"no Hash in the answer"))?.parse()?;
        Ok(AddedObject { cid, size: size_field(&answer["Size"]).ok_or_else(|| protocol("add", &"no Size"))? })
    }

    /// Streams an object's bytes, unverified; [`crate::IpfsStore`] verifies them.
    pub async fn cat(&self, cid: &Cid) -> Result<BoxStream<'static, Result<Bytes>>> {
        let target = cid.to_string();
        let response = self.post("cat", &[("arg", &target)], &target, None).await?;
        let after = self.config.request_timeout;
        Ok(response.bytes_stream().map_err(move |e| classify("cat", &target, &e, after)).boxed())
    }

    /// Pins an object and everything below it.
    pub async fn pin_add(&self, cid: &Cid) -> Result<()> {
        let target = cid.to_string();
        self.post("pin/add", &[("arg", &target)], &target, None).await.map(drop)
    }

    /// Unpins an object.
    pub async fn pin_rm(&self, cid: &Cid) -> Result<()> {
        let target = cid.to_string();
        self.post("pin/rm", &[("arg", &target)], &target, None).await.map(drop)
    }

    /// The size of an object's root block.
    pub async fn block_stat(&self, cid: &Cid) -> Result<BlockStat> {
        let target = cid.to_string();
        let response = self.post("block/stat", &[("arg", &target)], &target, None).await?;
        let answer: Value = response.json().await.map_err(|e| protocol("block/stat", &e))?;
        let size = size_field(&answer["Size"]).ok_or_else(|| protocol("block/stat", &"no Size"))?;
        Ok(BlockStat { cid: *cid, size })
    }

    /// Sends one API call, retrying only failures to connect: nothing reached the node then, so a
    /// retry cannot apply anything twice.
    async fn post(
        &self,
        operation: &'static str,
        query: &[(&str, &str)],
        target: &str,
        body: Option<&PartFactory<'_>>,
    ) -> Result<reqwest::Response> {
        let url = format!("{}/api/v0/{operation}", self.base);
        let node_timeout = format!("{}ms", self.config.request_timeout.as_millis());
        let mut attempt = 0;
        loop {
            let mut request = self
                .http
                .post(&url)
                .query(query)
                .query(&[("timeout", &node_timeout)])
                .timeout(self.config.request_timeout);
            if let Some(part) = body {
                // js-ipfs answers 500 to a part without a content type.
                let part = part()?
                    .file_name("object")
                    .mime_str("application/octet-stream")
                    .map_err(|e| protocol(operation, &e))?;
                request = request.multipart(Form::new().part("file", part));
            }
            match request.send().await {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => return Err(node_error(operation, response).await),
                Err(e) if e.is_connect() && attempt < self.config.retries => {
                    tokio::time::sleep(self.config.backoff * 2u32.saturating_pow(attempt)).await;
                    attempt += 1;
                }
                Err(e) if e.is_connect() => {
                    return Err(Error::Unreachable { url: self.base.clone(), reason: e.to_string() });
                }
                Err(e) => return Err(classify(operation, target, &e, self.config.request_timeout)),
            }
        }
    }
}

/// Makes the upload body afresh for each attempt, since a sent body is consumed.
type PartFactory<'a> = dyn Fn() -> Result<Part> + Sync + 'a;

/// A file as a stream of chunks of the importer's size.
fn file_chunks(file: tokio::fs::File) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    futures_util::stream::try_unfold(file, |mut file| async move {
        let mut chunk = BytesMut::zeroed(CHUNK_SIZE);
        let mut filled = 0;
        while filled < CHUNK_SIZE {
            match file.read(&mut chunk[filled..]).await? {
                0 => break,
                read => filled += read,
            }
        }
        chunk.truncate(filled);
        Ok((filled > 0).then(|| (chunk.freeze(), file)))
    })
}

/// `Size` is a string in Kubo's answers and a number in js-ipfs's.
fn size_field(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_str()?.parse().ok())
}

async fn node_error(operation: &'static str, response: reqwest::Response) -> Error {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|answer| answer["Message"].as_str().map(str::to_owned))
        .unwrap_or(text);
    Error::Node { operation, status, message }
}

fn classify(operation: &'static str, target: &str, error: &reqwest::Error, after: Duration) -> Error {
    if error.is_timeout() {
        Error::Timeout { operation, target: target.to_owned(), after }
    } else {
        transfer(operation, target, error)
    }
}

fn transfer(operation: &'static str, target: &str, error: &reqwest::Error) -> Error {
    Error::Transfer { operation, target: target.to_owned(), reason: error.to_string() }
}

fn protocol(operation: &'static str, reason: &dyn std::fmt::Display) -> Error {
    Error::Protocol { operation, reason: reason.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn sends_the_authorization_header_and_keeps_it_out_of_debug_output() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0; 4096];
            let read = socket.read(&mut request).await.unwrap();
            let body = r#"{"ID":"peer","AgentVersion":"kubo/0.30.0"}"#;
            let response = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len());
            socket.write_all(response.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&request[..read]).to_ascii_lowercase()
        });
        let config = ClientConfig { authorization: Some("Bearer s3cret".into()), ..ClientConfig::default() };
        assert!(!format!("{config:?}").contains("s3cret"));
        let id = KuboClient::new(&url, config).unwrap().id().await.unwrap();
        assert_eq!(id.agent_version, "kubo/0.30.0");
        let request = server.await.unwrap();
        assert!(request.starts_with("post /api/v0/id"), "{request}");
        assert!(request.contains("authorization: bearer s3cret"), "{request}");
    }

    #[test]
    fn size_is_read_as_number_or_string() {
        assert_eq!(size_field(&json!(14)), Some(14));
        assert_eq!(size_field(&json!("14")), Some(14));
        assert_eq!(size_field(&json!("x")), None);
        assert_eq!(size_field(&Value::Null), None);
    }
}
