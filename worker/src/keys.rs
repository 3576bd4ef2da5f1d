//! The worker's Ethereum key: from a Web3 Secret Storage keystore (scrypt + AES-128-CTR, as geth
//! and foundry write them) or, for tests and demos, from an environment variable.

use crate::{Error, Result, fs};
use alloy::signers::local::PrivateKeySigner;
use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
};

/// The environment variable holding a raw private key, for tests and demos.
pub const PRIVATE_KEY_ENV: &str = "TESSERA_PRIVATE_KEY";
/// The environment variable holding the keystore password, unless `--password-env` names another.
pub const PASSWORD_ENV: &str = "TESSERA_KEYSTORE_PASSWORD";

/// Where the key comes from, in the order they are looked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// A hex private key in the named environment variable.
    Env(String),
    /// An encrypted keystore file.
    Keystore(PathBuf),
}

/// What the command line says about the key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyOptions {
    /// `--keystore`.
    pub keystore: Option<PathBuf>,
    /// `--private-key-env`.
    pub private_key_env: Option<String>,
    /// `--password-env`.
    pub password_env: Option<String>,
}

impl KeyOptions {
    /// The variable the keystore password is read from.
    pub fn password_var(&self) -> &str {
        self.password_env.as_deref().unwrap_or(PASSWORD_ENV)
    }
}

/// Picks the key source: `--private-key-env`, then `--keystore`, then `TESSERA_PRIVATE_KEY`, then the
/// default keystore if it exists.
pub fn resolve_source(
    options: &KeyOptions,
    env: impl Fn(&str) -> Option<String>,
    default_keystore: Option<&Path>,
) -> Result<KeySource> {
    if let Some(var) = &options.private_key_env {
        return Ok(KeySource::Env(var.clone()));
    }
    if let Some(path) = &options.keystore {
        return Ok(KeySource::Keystore(path.clone()));
    }
    if env(PRIVATE_KEY_ENV).is_some_and(|key| !key.trim().is_empty()) {
        return Ok(KeySource::Env(PRIVATE_KEY_ENV.to_owned()));
    }
    if let Some(path) = default_keystore.filter(|path| path.exists()) {
        return Ok(KeySource::Keystore(path.to_owned()));
    }
    Err(Error::Key(format!(
        "no key configured: create one with `tessera-worker key new`, pass --keystore <file>, or set {PRIVATE_KEY_ENV}"
    )))
}

/// The worker's signer, from wherever the options point, asking for a password if one is needed.
pub fn load(options: &KeyOptions) -> Result<PrivateKeySigner> {
    let default = default_keystore_path();
    match resolve_source(options, |var| std::env::var(var).ok(), default.as_deref())? {
        KeySource::Env(var) => {
            let key =
                std::env::var(&var).map_err(|_| Error::Key(format!("the environment variable {var} is not set")))?;
            parse_private_key(&key).map_err(|e| Error::Key(format!("{var}: {e}")))
        }
        KeySource::Keystore(path) => {
            let password = password(options.password_var(), &format!("Password for {}: ", path.display()), false)?;
            read_keystore(&path, &password)
        }
    }
}

/// A signer from a hex private key, with or without `0x`.
pub fn parse_private_key(text: &str) -> Result<PrivateKeySigner> {
    text.trim().parse().map_err(|_| Error::Key("not a valid 32-byte hex private key".into()))
}

/// `~/.tessera/worker/keystore.json`, where `key new` writes by default.
pub fn default_keystore_path() -> Option<PathBuf> {
    std::env::home_dir().map(|home| home.join(".tessera").join("worker").join("keystore.json"))
}

/// Decrypts a keystore.
pub fn read_keystore(path: &Path, password: &str) -> Result<PrivateKeySigner> {
    if !path.is_file() {
        return Err(Error::Keystore { path: path.into(), reason: "no such file".into() });
    }
    PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| Error::Keystore {
        path: path.into(),
        reason: format!("cannot decrypt it (wrong password, or not a keystore): {e}"),
    })
}

/// Encrypts `signer`'s key with `password` into a new keystore at `path`; an existing file is
/// kept unless `overwrite`. The file appears whole or not at all, readable by the user only.
pub fn write_keystore(path: &Path, signer: &PrivateKeySigner, password: &str, overwrite: bool) -> Result<()> {
    if path.exists() && !overwrite {
        return Err(Error::Keystore {
            path: path.into(),
            reason: "already exists (pass --force to replace it)".into(),
        });
    }
    let bytes = encrypt(signer, password, &mut rand::thread_rng())
        .map_err(|reason| Error::Keystore { path: path.into(), reason: format!("encrypting: {reason}") })?;
    if overwrite { fs::write_atomic(path, &bytes) } else { fs::write_new(path, &bytes) }
}

/// The scrypt cost geth gives a new account (`StandardScryptN`, 2^18, with r = 8 and p = 1): a second and 256 MiB
/// per guess, where a library's default of 2^13 lets an attacker try thirty times faster.
const SCRYPT_LOG_N: u8 = 18;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;

/// `signer`'s key as a Web3 Secret Storage v3 file: scrypt at geth's cost, AES-128-CTR, Keccak-256 MAC.
fn encrypt(signer: &PrivateKeySigner, password: &str, rng: &mut impl rand::RngCore) -> Result<Vec<u8>, String> {
    use ctr::cipher::{KeyIvInit, StreamCipher};
    let (mut salt, mut iv, mut id) = ([0u8; 32], [0u8; 16], [0u8; 16]);
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut iv);
    rng.fill_bytes(&mut id);
    let params = scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P).map_err(|e| e.to_string())?;
    let mut derived = [0u8; 32];
    scrypt::scrypt(password.as_bytes(), &salt, &params, &mut derived).map_err(|e| e.to_string())?;
    let mut ciphertext = signer.to_bytes().to_vec();
    ctr::Ctr128BE::<aes::Aes128>::new(derived[..16].into(), (&iv).into()).apply_keystream(&mut ciphertext);
    let mac = alloy::primitives::keccak256([&derived[16..32], &ciphertext[..]].concat());
    // A random (version 4) UUID.
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    let id = alloy::hex::encode(id);
    let keystore = serde_json::json!({
        "address": alloy::hex::encode(signer.address()),
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": { "iv": alloy::hex::encode(iv) },
            "ciphertext": alloy::hex::encode(&ciphertext),
            "kdf": "scrypt",
            "kdfparams": { "dklen": 32, "n": 1u32 << SCRYPT_LOG_N, "p": SCRYPT_P, "r": SCRYPT_R, "salt": alloy::hex::encode(salt) },
            "mac": alloy::hex::encode(mac),
        },
        "id": format!("{}-{}-{}-{}-{}", &id[..8], &id[8..12], &id[12..16], &id[16..20], &id[20..]),
        "version": 3,
    });
    serde_json::to_vec_pretty(&keystore).map_err(|e| e.to_string())
}

/// Refuses an empty password for a new keystore, unless `allow_empty` says the worker means it: a keystore
/// anyone can open protects nothing.
pub fn check_new_password(password: &str, allow_empty: bool) -> Result<()> {
    if password.is_empty() && !allow_empty {
        return Err(Error::Key(
            "the new keystore's password is empty: anyone holding the file could use the key \
             (pass --allow-empty-password if that is what you want)"
                .into(),
        ));
    }
    Ok(())
}

/// Copies a keystore after checking that `password` opens it, returning its signer.
pub fn import_keystore(from: &Path, to: &Path, password: &str, overwrite: bool) -> Result<PrivateKeySigner> {
    let signer = read_keystore(from, password)?;
    if from.canonicalize().ok() == to.canonicalize().ok() {
        return Ok(signer);
    }
    if to.exists() && !overwrite {
        return Err(Error::Keystore { path: to.into(), reason: "already exists (pass --force to replace it)".into() });
    }
    let bytes = std::fs::read(from).map_err(|e| Error::io("reading", from, e))?;
    if overwrite {
        fs::write_atomic(to, &bytes)?
    } else {
        fs::write_new(to, &bytes)?
    }
    Ok(signer)
}

/// The password in the environment variable `var`, or one typed at the terminal (twice when
/// `confirm`, for a new keystore).
pub fn password(var: &str, prompt: &str, confirm: bool) -> Result<String> {
    if let Ok(password) = std::env::var(var) {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Key(format!("no keystore password: set {var}, or run in a terminal to be asked for it")));
    }
    let ask =
        |prompt: &str| rpassword::prompt_password(prompt).map_err(|e| Error::Key(format!("reading the password: {e}")));
    let first = ask(prompt)?;
    if confirm && ask("Repeat the password: ")? != first {
        return Err(Error::Key("the passwords differ".into()));
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        move |var| vars.get(var).cloned()
    }

    #[test]
    fn explicit_options_win_over_the_environment_and_the_default_keystore() {
        let dir = tempfile::tempdir().unwrap();
        let default = dir.path().join("keystore.json");
        std::fs::write(&default, "{}").unwrap();
        let with_key = env(&[(PRIVATE_KEY_ENV, "0x01")]);

        let explicit = KeyOptions { private_key_env: Some("MY_KEY".into()), ..Default::default() };
        assert_eq!(resolve_source(&explicit, &with_key, Some(&default)).unwrap(), KeySource::Env("MY_KEY".into()));
        let keystore = KeyOptions { keystore: Some("k.json".into()), ..Default::default() };
        assert_eq!(resolve_source(&keystore, &with_key, None).unwrap(), KeySource::Keystore("k.json".into()));
        let none = KeyOptions::default();
        assert_eq!(resolve_source(&none, &with_key, Some(&default)).unwrap(), KeySource::Env(PRIVATE_KEY_ENV.into()));
        assert_eq!(resolve_source(&none, env(&[]), Some(&default)).unwrap(), KeySource::Keystore(default.clone()));
        let missing = dir.path().join("missing.json");
        assert!(resolve_source(&none, env(&[]), Some(&missing)).is_err());
    }

    #[test]
    fn keystores_round_trip_and_refuse_the_wrong_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/worker.json");
        let signer = PrivateKeySigner::random();
        write_keystore(&path, &signer, "correct horse", false).unwrap();
        let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(written["crypto"]["kdfparams"]["n"], 1 << 18, "geth's scrypt cost");
        assert_eq!(written["version"], 3);
        assert_eq!(read_keystore(&path, "correct horse").unwrap().address(), signer.address());
        assert!(read_keystore(&path, "wrong").is_err());
        assert!(write_keystore(&path, &signer, "again", false).is_err(), "an existing keystore is kept");

        let copy = dir.path().join("copy.json");
        assert!(import_keystore(&path, &copy, "wrong", false).is_err());
        assert!(!copy.exists());
        assert_eq!(import_keystore(&path, &copy, "correct horse", false).unwrap().address(), signer.address());
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&copy).unwrap()).unwrap();
        assert_eq!(json["version"], 3);
    }

    #[test]
    fn private_keys_parse_with_or_without_prefix() {
        let signer = PrivateKeySigner::random();
        let hex = format!("{:x}", signer.to_bytes());
        assert_eq!(parse_private_key(&format!("0x{hex}\n")).unwrap().address(), signer.address());
        assert_eq!(parse_private_key(&hex).unwrap().address(), signer.address());
        assert!(parse_private_key("0x1234").is_err());
    }

    #[test]
    fn an_empty_new_password_is_refused_unless_asked_for() {
        let refused = check_new_password("", false).unwrap_err().to_string();
        assert!(refused.contains("--allow-empty-password"), "{refused}");
        assert!(check_new_password("", true).is_ok());
        assert!(check_new_password("correct horse", false).is_ok());
    }
}
