//! torch-sys links libtorch without an rpath; this one lets test binaries find it with no
//! LD_LIBRARY_PATH. LIBTORCH comes from .cargo/config.toml.

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(libtorch) = std::env::var("LIBTORCH") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{libtorch}/lib");
    }
}
