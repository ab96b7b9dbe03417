//! The `postdesk` binary: everything lives in the library; see `postdesk::cli`.

fn main() -> std::process::ExitCode {
    postdesk::cli::main()
}
