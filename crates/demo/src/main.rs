use clap::Parser;

#[tokio::main]
async fn main() -> eyre::Result<()> {
    tessera_demo::run(tessera_demo::Args::parse()).await
}
