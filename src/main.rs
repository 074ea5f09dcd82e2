//! The `evoforge` command line.
use std::process::ExitCode;

fn main() -> ExitCode {
    evoforge::cli::main()
}
