//! The `burrow` command: a thin layer over the engine library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
