use clap::Parser;

fn main() -> eyre::Result<()> {
    tessera_coordinator::cli::run(&tessera_coordinator::cli::Cli::parse())
}
