//! Credentials stay out of logs, and a CA file that holds no certificate is refused with its path.

use tessera_net::{TlsRoots, redact, redact_urls};

#[test]
fn credentials_never_reach_a_log() {
    assert_eq!(redact("https://user:hunter2@rpc.example/v3"), "https://user:***@rpc.example/v3");
    assert_eq!(redact("https://rpc.example/v3?apiKey=abc123&chain=1"), "https://rpc.example/v3?apiKey=***&chain=1");
    assert_eq!(redact("http://127.0.0.1:8545"), "http://127.0.0.1:8545", "nothing to hide: unchanged");
    assert_eq!(redact("not a url"), "not a url");
    let project = "0123456789abcdef0123456789abcdef";
    assert_eq!(redact(&format!("https://sepolia.example/v3/{project}")), "https://sepolia.example/v3/***");
    assert_eq!(redact("http://127.0.0.1:5001/api/v0/add"), "http://127.0.0.1:5001/api/v0/add", "short segments stay");
}

#[test]
fn urls_quoted_in_error_messages_are_redacted() {
    let error = "error sending request for url (https://rpc.example/v2/0123456789abcdef0123456789abcdef): timed out; \
                 then https://u:hunter2@node.example/ refused";
    let said = redact_urls(error);
    assert!(!said.contains("0123456789abcdef") && !said.contains("hunter2"), "{said}");
    assert!(said.contains("(https://rpc.example/v2/***): timed out") && said.contains("https://u:***@node.example/"));
    assert_eq!(redact_urls("no address here"), "no address here");
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
