use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    match tessera_coordinator::cli::run(&tessera_coordinator::cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The report quotes the URLs it failed on; the keys in them stay out of the terminal and the logs.
            eprintln!("Error: {}", tessera_net::redact_urls(&format!("{error:?}")));
            ExitCode::FAILURE
        }
    }
}
