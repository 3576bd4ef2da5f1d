//! What every HTTP client of Tessera shares, so the chain RPC, the IPFS API and the coordinator's API are reached
//! the same way: over rustls, trusting the platform's roots plus any CA the operator names ([`TlsRoots`]), and
//! never writing a credential into a log ([`redact`]).

use std::path::{Path, PathBuf};

/// Why a CA file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("reading the CA file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file holds no PEM certificate, or a malformed one.
    #[error("the CA file {path} holds no usable PEM certificate: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
}

/// Certificate authorities trusted beside the platform's: a private CA in front of a node, a test CA.
#[derive(Clone, Debug, Default)]
pub struct TlsRoots {
    certificates: Vec<reqwest::Certificate>,
}

impl TlsRoots {
    /// The platform's roots only.
    pub fn platform() -> Self {
        Self::default()
    }

    /// The platform's roots and every certificate in the PEM file at `path`.
    pub fn with_ca_file(path: &Path) -> Result<Self, Error> {
        let pem = std::fs::read(path).map_err(|source| Error::Read { path: path.to_owned(), source })?;
        Self::with_ca_pem(&pem).map_err(|reason| Error::Pem { path: path.to_owned(), reason })
    }

    /// The platform's roots and every certificate in `pem`.
    pub fn with_ca_pem(pem: &[u8]) -> Result<Self, String> {
        let certificates = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| e.to_string())?;
        if certificates.is_empty() {
            return Err("no certificate in it".into());
        }
        Ok(Self { certificates })
    }

    /// The platform's roots, and those of the CA file when one is given.
    pub fn from_setting(ca_file: Option<&Path>) -> Result<Self, Error> {
        ca_file.map_or_else(|| Ok(Self::platform()), Self::with_ca_file)
    }

    /// `builder`, trusting these roots over rustls.
    pub fn apply(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        builder.tls_backend_rustls().tls_certs_merge(self.certificates.iter().cloned())
    }
}

/// The shortest path segment taken for a key: hosted RPCs put 32-character project ids and API keys in the path
/// (`/v3/<id>`, `/v2/<key>`), while real path segments (`v3`, `api`, `add`) are short.
const MIN_KEY_SEGMENT: usize = 16;

/// `url` with its password, every path segment long enough to be a key, and any credential-like query parameter
/// (`token`, `key`, `secret`, `password`, `apikey`, `auth`…) replaced by `***`, for logs and error messages. Text
/// that is not a URL is returned as is.
pub fn redact(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else { return url.to_owned() };
    let secret = |key: &str| {
        let key = key.to_ascii_lowercase();
        ["token", "key", "secret", "password", "auth", "signature"].iter().any(|word| key.contains(word))
    };
    let secret_query = parsed.query_pairs().any(|(key, _)| secret(&key));
    let secret_path = parsed.path_segments().is_some_and(|mut segments| segments.any(|s| s.len() >= MIN_KEY_SEGMENT));
    if parsed.password().is_none() && !secret_query && !secret_path {
        return url.to_owned();
    }
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if secret_path {
        let path: Vec<&str> = parsed
            .path_segments()
            .into_iter()
            .flatten()
            .map(|segment| if segment.len() >= MIN_KEY_SEGMENT { "***" } else { segment })
            .collect();
        parsed.set_path(&path.join("/"));
    }
    if secret_query {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let shown = if secret(&key) { "***".to_owned() } else { value.into_owned() };
                (key.into_owned(), shown)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// `text` (an error message, a log line) with every `http://` or `https://` URL in it passed through [`redact`]:
/// errors of HTTP clients quote the URL they failed on, credentials and all.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("http://").into_iter().chain(rest.find("https://")).min() {
        out.push_str(&rest[..start]);
        let url = &rest[start..];
        let end =
            url.find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | ',')).unwrap_or(url.len());
        out.push_str(&redact(&url[..end]));
        rest = &url[end..];
    }
    out.push_str(rest);
    out
}
