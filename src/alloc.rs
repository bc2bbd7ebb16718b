//! The process's allocator settings, applied once at start-up before cameras run. glibc's malloc
//! gives each thread that contends its own arena (up to eight per core) and returns memory to the
//! system only from the top of one. A camera runs several GStreamer threads that allocate
//! frame-sized buffers in bursts (connecting, reconnecting, cutting a clip), so with many cameras
//! each arena keeps its high-water mark resident for good: measured at 10 cameras, two arenas
//! took the resident memory per camera from 46 MB to 34 MB at the same CPU (BENCHMARKS.md).
//! A user's own `MALLOC_ARENA_MAX` or `GLIBC_TUNABLES` is respected.

/// Arenas vigil asks glibc for.
pub const ARENAS: i32 = 2;

/// Limits glibc's malloc to [`ARENAS`] arenas unless the environment already configures malloc.
/// Idempotent; does nothing on other C libraries.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let configured = ["MALLOC_ARENA_MAX", "GLIBC_TUNABLES"]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        if !configured {
            // SAFETY: mallopt only changes malloc's parameters; glibc serialises it against
            // concurrent allocation.
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, ARENAS);
            }
        }
    }
}
