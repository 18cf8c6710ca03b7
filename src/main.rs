fn main() -> std::process::ExitCode {
    huiliu::cli::main()
}
