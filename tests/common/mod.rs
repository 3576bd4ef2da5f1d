//! What the real-stack tests share: where the workspace's binaries and its Python are.

use std::path::PathBuf;

/// The profile folder holding this workspace's binaries (a test runs from `<profile>/deps`).
pub(crate) fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(|deps| deps.parent()).unwrap().to_path_buf()
}

/// The Python with torch and safetensors that `make setup` installs (or `TESSERA_PYTHON`).
#[allow(dead_code, reason = "not every test binary runs Python")]
pub(crate) fn python() -> PathBuf {
    std::env::var_os("TESSERA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"))
}
