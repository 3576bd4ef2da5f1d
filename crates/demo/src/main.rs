use clap::Parser;

#[tokio::main]
async fn main() -> eyre::Result<()> {
    tessera_demo::cli::run(tessera_demo::cli::Args::parse()).await
}
