//! libtorch's CUDA half is a library of its own, `libtorch_cuda.so`, that a Rust program never calls by name, so
//! the linker leaves it out and libtorch then sees no GPU even on a machine with one. Linking it for good is no
//! answer either: a program that needs it fails to start wherever CUDA's own libraries (cuDNN, cuBLAS) are
//! missing. So it is loaded at run time, when a caller asks for GPUs: it registers CUDA with libtorch where it and
//! its dependencies are present, and otherwise says why not.

use std::{ffi::CStr, sync::OnceLock};

/// Loads libtorch's CUDA library, once per process: `Ok` once libtorch can use CUDA, else why it cannot (the
/// library, or a CUDA library it needs, is not found). Found the way the dynamic linker finds libraries: the
/// program's run path (the `LIBTORCH` it was built against), then `LD_LIBRARY_PATH`.
pub fn load_cuda() -> Result<(), String> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED.get_or_init(|| open(c"libtorch_cuda.so")).clone()
}

/// How many GPUs libtorch sees, after [`load_cuda`]; 0 where CUDA cannot be loaded.
pub fn cuda_devices() -> usize {
    if load_cuda().is_err() || !tch::Cuda::is_available() {
        return 0;
    }
    usize::try_from(tch::Cuda::device_count()).unwrap_or(0)
}

/// The first GPU when libtorch sees one after [`load_cuda`], else the CPU.
pub fn cuda_if_available() -> tch::Device {
    if cuda_devices() > 0 { tch::Device::Cuda(0) } else { tch::Device::Cpu }
}

#[allow(unsafe_code)]
fn open(name: &CStr) -> Result<(), String> {
    // SAFETY: dlopen takes a NUL-terminated name and returns a handle or null; the library's initialisers are
    // libtorch's own (they register CUDA with the libtorch this program already has loaded). dlerror's message is
    // read at once, on the same thread, before any other dl call. The handle is kept open for the process's life.
    unsafe {
        if !libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL).is_null() {
            return Ok(());
        }
        let error = libc::dlerror();
        Err(if error.is_null() {
            format!("{} could not be loaded", name.to_string_lossy())
        } else {
            CStr::from_ptr(error).to_string_lossy().into_owned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loading_cuda_answers_the_same_every_time_and_counts_no_gpu_without_it() {
        let first = load_cuda();
        assert_eq!(load_cuda(), first);
        match first {
            Ok(()) => assert_eq!(cuda_devices() > 0, tch::Cuda::is_available()),
            Err(reason) => {
                assert!(reason.contains("libtorch_cuda") || reason.contains(".so"), "{reason}");
                assert_eq!(cuda_devices(), 0);
            }
        }
    }
}
