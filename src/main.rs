//! The `evoforge` command line.
use std::process::ExitCode;

/// mimalloc instead of the system allocator: the ask-evaluate-tell loop allocates and frees one
/// genome per candidate, thousands per generation, where glibc's malloc is slow once its
/// per-thread cache overflows.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // candle sizes its quantized-matmul pool (spinning workers) from CANDLE_NUM_THREADS when
    // the first model runs; on a shared machine one thread is what we want unless the user
    // says otherwise. The environment can only be written safely before any thread exists.
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: this is the first statement of `main`: the process has one thread, so no
        // other thread can read or write the environment concurrently.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
    evoforge::cli::main()
}
