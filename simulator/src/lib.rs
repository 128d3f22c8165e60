//! `simulator`: the deterministic VOPR-style runner.
//!
//! One seed fixes a whole run ([`swarm::RunConfig::draw`]), every event is hashed into a trace
//! ([`trace::Trace`]), and the checkers ([`checkers`]) prove that nothing acknowledged is lost
//! and nothing corrupt is ever returned. [`fuzz`] runs ranges of seeds across threads (never
//! inside one seed) and gathers coverage of the recovery cases.

#[cfg(feature = "canary")]
pub mod canaries;
pub mod checkers;
pub mod cluster;
pub mod corpus;
pub mod coverage;
pub mod engine_harness;
pub mod engine_sweep;
pub mod fuzz;
pub mod network;
pub mod recorded;
pub mod replay;
pub mod replica;
pub mod report_html;
pub mod ring_picture;
pub mod scenario;
pub mod shrink;
pub mod swarm;
pub mod sweep;
pub mod trace;

pub use cluster::{Outcome, Simulation};
pub use swarm::{Overrides, RunConfig};

/// The shell command that runs `vopr` with `args`, including the planted bug when one is
/// switched on (a canary build).
pub fn vopr_command(args: &str) -> String {
    #[cfg(feature = "canary")]
    if let Some(canary) = journal::canary::active_canary() {
        return format!(
            "cargo run --release -p simulator --features canary --bin vopr -- {args} --canary {}",
            canary.name()
        );
    }
    format!("cargo run --release -p simulator --bin vopr -- {args}")
}

/// Runs one seed to its end. A panic inside the run (an assertion in the journal or the
/// simulator) is caught and reported as that seed's failure.
pub fn run_seed(seed: u64, keep_trace: bool) -> Outcome {
    run_with(seed, &Overrides::default(), keep_trace)
}

/// Runs one seed with its drawn configuration changed by `overrides` (see `vopr shrink`).
pub fn run_with(seed: u64, overrides: &Overrides, keep_trace: bool) -> Outcome {
    let config = RunConfig::draw_with(seed, overrides);
    let result = std::panic::catch_unwind(|| Simulation::new(config.clone(), keep_trace).run());
    match result {
        Ok(outcome) => outcome,
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            Outcome {
                seed,
                trace_hash: 0,
                ticks: 0,
                ops: 0,
                coverage: coverage::Coverage::default(),
                failure: Some(checkers::Failure {
                    checker: "assertion",
                    message,
                    tick: 0,
                }),
                config,
                recorded: None,
            }
        }
    }
}

/// The message of a caught panic (an assertion's text), or "panic".
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}
