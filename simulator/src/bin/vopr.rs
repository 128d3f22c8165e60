//! `vopr`: the seeded simulation runner.
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("table") => {
            println!("{}", journal::decision_table::table_json());
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("vopr: the simulator is not built yet; only `vopr table --json` exists");
            ExitCode::from(2)
        }
    }
}
