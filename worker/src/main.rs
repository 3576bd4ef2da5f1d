//! `tessera-worker`: parses the command line and runs it (see the library for everything else).

use clap::Parser;
use std::process::ExitCode;
use tessera_worker::cli::{self, Cli};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(cli::log_filter(&cli.global)));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
    match cli::execute(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Errors quote the URLs they failed on; the keys in them stay out of the terminal and the logs.
            let mut causes = error.causes().into_iter().map(|cause| tessera_net::redact_urls(&cause));
            eprintln!("Error: {}", causes.next().unwrap_or_default());
            causes.for_each(|cause| eprintln!("  caused by: {cause}"));
            ExitCode::FAILURE
        }
    }
}
