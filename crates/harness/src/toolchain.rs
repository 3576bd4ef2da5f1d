use crate::{Error, Result};
use std::{
    env,
    path::{Path, PathBuf},
};

/// The tools that `scripts/setup.sh` installs, found through the links it writes to `.tessera/bin`.
#[derive(Clone, Debug)]
pub struct Toolchain {
    root: PathBuf,
}

impl Toolchain {
    /// The toolchain of this checkout, or of the checkout named by `TESSERA_ROOT`.
    pub fn discover() -> Result<Self> {
        let root = env::var_os("TESSERA_ROOT").map(PathBuf::from).unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("crates/harness has two parents").into()
        });
        let toolchain = Self { root };
        toolchain.bin("anvil")?;
        Ok(toolchain)
    }

    /// The checkout's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of an installed tool (`anvil`, `forge`, `cast`, `jsipfs`, `solc`), checked to exist.
    pub fn bin(&self, tool: &'static str) -> Result<PathBuf> {
        let path = self.root.join(".tessera/bin").join(tool);
        if path.exists() { Ok(path) } else { Err(Error::ToolMissing { tool, path }) }
    }

    /// The folder of npm packages: OpenZeppelin contracts and forge-std live here.
    pub fn node_modules(&self) -> PathBuf {
        self.root.join("node_modules")
    }

    /// forge-std's source folder, for remappings.
    pub fn forge_std(&self) -> PathBuf {
        self.node_modules().join("@layerzerolabs/toolbox-foundry/lib/forge-std")
    }
}

/// The folder holding the verified MNIST IDX files: `TESSERA_MNIST_DIR`, else the user's cache
/// (`$XDG_CACHE_HOME/tessera/mnist` or `~/.cache/tessera/mnist`), where `scripts/setup.sh` puts them.
pub fn mnist_dir() -> PathBuf {
    if let Some(dir) = env::var_os("TESSERA_MNIST_DIR") {
        return dir.into();
    }
    let cache = env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("tessera/mnist")
}
