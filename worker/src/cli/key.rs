//! `tessera-worker key new|import|address`.

use super::Context;
use crate::{Error, Result, keys};
use alloy::signers::local::PrivateKeySigner;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Examples for `key` itself.
pub(super) const EXAMPLES: &str = "Examples:
  tessera-worker key new
  TESSERA_KEYSTORE_PASSWORD=secret tessera-worker key new --out worker1.json
  tessera-worker key import ~/Downloads/UTC--2024-01-01--0xabc.json
  MY_KEY=0x59c6… tessera-worker key import --private-key-env MY_KEY --out worker2.json
  tessera-worker key address --keystore worker1.json";

/// Create, import or show the worker's key.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a new random key and write it to an encrypted keystore.
    #[command(after_help = "Examples:
  # Asks for the password twice
  tessera-worker key new
  # Non-interactive, for scripts
  TESSERA_KEYSTORE_PASSWORD=secret tessera-worker key new --out worker1.json")]
    New(NewArgs),
    /// Import a keystore (checked by decrypting it) or a raw private key into a keystore.
    #[command(after_help = "Examples:
  # Copy a geth/foundry keystore into place, checking its password
  tessera-worker key import ~/Downloads/UTC--2024-01-01--0xabc.json
  # Encrypt a raw key held in an environment variable
  MY_KEY=0x59c6… tessera-worker key import --private-key-env MY_KEY --out worker2.json")]
    Import(ImportArgs),
    /// Print the address of the configured key.
    #[command(after_help = "Examples:
  tessera-worker key address
  ADDRESS=$(TESSERA_PRIVATE_KEY=0x59c6… tessera-worker key address)")]
    Address,
}

/// Where a new keystore goes, and what it may replace.
#[derive(Debug, Args)]
pub(super) struct KeystoreOut {
    /// Where to write the keystore [default: ~/.tessera/worker/keystore.json].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
    /// Accept an empty password for the new keystore (it then protects nothing).
    #[arg(long)]
    allow_empty_password: bool,
}

/// `key new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    #[command(flatten)]
    target: KeystoreOut,
}

/// `key import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The keystore to import; omit it with --private-key-env.
    #[arg(value_name = "KEYSTORE")]
    keystore: Option<PathBuf>,
    #[command(flatten)]
    target: KeystoreOut,
}

pub(super) fn execute(context: &Context, command: KeyCommand) -> Result<()> {
    match command {
        KeyCommand::New(NewArgs { target }) => {
            let out = output(target.out)?;
            let password = keys::password(context.key_options().password_var(), "New keystore password: ", true)?;
            keys::check_new_password(&password, target.allow_empty_password)?;
            let signer = PrivateKeySigner::random();
            keys::write_keystore(&out, &signer, &password, target.force)?;
            eprintln!("Wrote the keystore {} — keep it and its password safe.", out.display());
            println!("{:#x}", signer.address());
        }
        KeyCommand::Import(ImportArgs { keystore, target }) => {
            let out = output(target.out)?;
            let var = context.key_options().password_var().to_owned();
            let signer = match (&keystore, &context.global.private_key_env) {
                (Some(from), _) => {
                    let password = keys::password(&var, &format!("Password for {}: ", from.display()), false)?;
                    keys::import_keystore(from, &out, &password, target.force)?
                }
                (None, Some(key_var)) => {
                    let key = std::env::var(key_var)
                        .map_err(|_| Error::Key(format!("the environment variable {key_var} is not set")))?;
                    let signer = keys::parse_private_key(&key).map_err(|e| Error::Key(format!("{key_var}: {e}")))?;
                    let password = keys::password(&var, "New keystore password: ", true)?;
                    keys::check_new_password(&password, target.allow_empty_password)?;
                    keys::write_keystore(&out, &signer, &password, target.force)?;
                    signer
                }
                (None, None) => return Err(Error::Key("give a keystore file or --private-key-env VAR".into())),
            };
            eprintln!("Imported into {}.", out.display());
            println!("{:#x}", signer.address());
        }
        KeyCommand::Address => println!("{:#x}", context.signer()?.address()),
    }
    Ok(())
}

fn output(out: Option<PathBuf>) -> Result<PathBuf> {
    out.or_else(keys::default_keystore_path)
        .ok_or_else(|| Error::Key("no home folder to put the keystore in: pass --out".into()))
}
