//! The local stack for tests and the demo.
//!
//! [`Anvil`] and [`IpfsNode`] start real processes on free loopback ports, hand back their URLs and
//! stop them when dropped, also while a panicking test unwinds. [`Toolchain`] finds the tools that
//! `scripts/setup.sh` installed, and [`mnist_dir`] the verified MNIST cache.

mod anvil;
mod error;
mod ipfs;
mod process;
mod proxies;
mod toolchain;

pub use anvil::{Anvil, AnvilBuilder, DevAccount};
pub use error::{Error, Result};
pub use ipfs::IpfsNode;
pub use process::Process;
pub use proxies::{FlakyRpc, SlowContent, TestCa, TlsProxy, TokenGate};
pub use toolchain::{Toolchain, mnist_dir};

/// A local chain and IPFS node, started side by side.
#[derive(Debug)]
pub struct LocalStack {
    /// The chain.
    pub anvil: Anvil,
    /// The IPFS node.
    pub ipfs: IpfsNode,
}

impl LocalStack {
    /// Starts anvil (with its default ten accounts) and an IPFS node in parallel, since the IPFS node takes seconds
    /// to come up.
    pub fn start(toolchain: &Toolchain) -> Result<Self> {
        Self::start_with(toolchain, Anvil::builder())
    }

    /// As [`Self::start`], with anvil as `anvil` says (more accounts, a block time).
    pub fn start_with(toolchain: &Toolchain, anvil: AnvilBuilder) -> Result<Self> {
        std::thread::scope(|scope| {
            let ipfs = scope.spawn(|| IpfsNode::start(toolchain));
            let anvil = anvil.spawn(toolchain);
            let ipfs = ipfs.join().map_err(|_| Error::Panicked("IPFS node start"))?;
            Ok(Self { anvil: anvil?, ipfs: ipfs? })
        })
    }
}
