//! `serve`: the HTTP API and the round engine.

use super::{Parts, parts, validator};
use crate::{
    AppState, Config, Live, api,
    engine::{Engine, EngineSettings},
    sealing::Sealer,
    server::ServerLimits,
    spool::Spool,
    writer::ChainWriter,
};
use alloy::network::EthereumWallet;
use clap::Args;
use eyre::WrapErr;
use std::{sync::Arc, time::Duration};
use tessera_chain::eip712;
use tessera_db::Store;

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {}

/// Serves the API and runs the engine until Ctrl-C or SIGTERM.
pub(super) async fn execute(config: Config) -> eyre::Result<()> {
    let Parts { signer, client, chain_id, content } = parts(&config).await?;
    let db = Store::connect(&config.database_url).await.wrap_err("opening the database")?;
    let live = Live::new();
    let confirmations = config.confirmations.unwrap_or_else(|| crate::config::default_confirmations(chain_id));
    tracing::info!(chain_id, confirmations, "transactions and events count once this many blocks are on top");
    let writer = ChainWriter::new(
        db.clone(),
        client.provider().clone(),
        EthereumWallet::from(signer.clone()),
        signer.address(),
        chain_id,
    )
    .with_confirmations(confirmations)
    .with_max_fee_per_gas(config.max_fee_gwei.map(|gwei| u128::from(gwei) * 1_000_000_000));
    let settings = EngineSettings {
        tick: Duration::from_millis(config.tick_ms.max(10)),
        min_workers: config.min_workers,
        strategy: config.strategy.clone(),
        confirmations,
        model_lookup: config.model_lookup()?,
        lease: Duration::from_secs(config.lease_secs.max(1)),
        ..EngineSettings::default()
    };
    settings.strategy.build().wrap_err("the strategy setting")?;
    let spool = Spool::open(&config.spool_dir)
        .await
        .wrap_err_with(|| format!("opening the update spool {}", config.spool_dir.display()))?;
    let sealer = Arc::new(Sealer::new(signer.to_bytes().as_slice(), chain_id, client.address())?);
    let engine = Engine::new(db.clone(), content.clone(), client.clone(), writer, settings, live.clone())
        .with_validator(validator(&config)?)
        .with_spool(spool.clone())
        .with_sealer(sealer.clone());

    let state = AppState {
        db,
        content,
        membership: Arc::new(client.clone()),
        domain: Arc::new(eip712::domain(chain_id, client.address())),
        signer: Arc::new(signer),
        config: Arc::new(config.clone()),
        live,
        spool,
        fetches: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_fetches.max(1))),
        sealer,
    };
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.wrap_err_with(|| format!("binding {}", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let engine = tokio::spawn(engine.run(async move {
        let mut stopped = stopped;
        let _ = stopped.wait_for(|stop| *stop).await;
    }));
    let limits = ServerLimits {
        header_read_timeout: config.header_read_timeout,
        max_connections: config.max_connections,
        max_connections_per_ip: config.max_connections_per_ip,
        drain: Duration::from_secs(5),
    };
    crate::server::serve(listener, api::app(state), limits, shutdown()).await?;
    let _ = stop.send(true);
    engine.await?;
    Ok(())
}

async fn shutdown() {
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
