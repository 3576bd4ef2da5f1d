//! Stops glibc from handing libtorch's per-step buffers back to the OS after every step.
//!
//! A training step allocates and frees tens of MiB of activations and gradients. With glibc's default
//! settings the heap top is trimmed once more than a few MiB are free, so every step faults the same pages
//! back in: about 5,000 page faults per LeNet step, and a quarter of the process's time in the kernel. glibc
//! raises its mmap and trim thresholds when a block it had mmapped is freed (mallopt(3), "dynamic mmap
//! threshold"), so allocating and freeing one such block of just under its 32 MiB cap keeps up to 64 MiB of
//! freed heap for reuse. No unsafe code, and no effect on other allocators beyond one short-lived allocation.

use std::sync::Once;

/// Just under glibc's `DEFAULT_MMAP_THRESHOLD_MAX` (32 MiB on 64-bit), which the freed block must not exceed.
const BLOCK: usize = (32 << 20) - 8192;

/// Raises glibc's thresholds once per process.
pub(crate) fn retain_freed_memory() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| drop(std::hint::black_box(Vec::<u8>::with_capacity(BLOCK))));
}
