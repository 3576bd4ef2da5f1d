use clap::Parser;

fn main() -> eyre::Result<()> {
    tessera_sim::run(&tessera_sim::Args::parse())
}
