//! Credentials stay out of logs, and a CA file that holds no certificate is refused with its path.

use tessera_net::{TlsRoots, redact};

#[test]
fn credentials_never_reach_a_log() {
    assert_eq!(redact("https://user:hunter2@rpc.example/v3"), "https://user:***@rpc.example/v3");
    assert_eq!(redact("https://rpc.example/v3?apiKey=abc123&chain=1"), "https://rpc.example/v3?apiKey=***&chain=1");
    assert_eq!(redact("http://127.0.0.1:8545"), "http://127.0.0.1:8545", "nothing to hide: unchanged");
    assert_eq!(redact("not a url"), "not a url");
}

#[test]
fn a_ca_file_without_a_certificate_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, "no certificate here\n").unwrap();
    let error = TlsRoots::with_ca_file(&path).unwrap_err().to_string();
    assert!(error.contains("ca.pem") && error.contains("no usable PEM certificate"), "{error}");
    assert!(TlsRoots::with_ca_file(&dir.path().join("missing.pem")).is_err());
    assert!(TlsRoots::from_setting(None).is_ok());
}
