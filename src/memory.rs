//! What the allocator keeps. glibc's malloc gives every thread that
//! allocates under contention an arena of its own (up to eight per core)
//! and returns freed memory to the system only from the top of the heap:
//! after a pass of parallel polls on the blocking pool, the freed parse
//! buffers stay resident in a dozen arenas. Two arenas and a trim every
//! ten seconds (the daemon's) keep the daemon's RSS close to what it holds.

/// Call first in `main`, before any thread starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; no memory is touched.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns free memory at the top of the heaps (and whole free pages inside
/// them) to the system.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}
