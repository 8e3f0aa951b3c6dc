use std::process::ExitCode;

fn main() -> ExitCode {
    sealgate::cli::main()
}
