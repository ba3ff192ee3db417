//! `symdlnn`: learn the dynamics of mechanical systems from position
//! snapshots. Thin front end: parse, call the library, print.

mod args;
mod commands;
mod progress;

use clap::{Parser, Subcommand};

/// Learn discrete Lagrangians, their dynamics and their symmetries from
/// position-only trajectories.
#[derive(Parser)]
#[command(name = "symdlnn", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate ground-truth trajectories of a built-in system
    Simulate(commands::simulate::SimulateArgs),
    /// List the built-in systems, their parameters and symmetries
    Systems(commands::systems::SystemsArgs),
    /// Learn a discrete Lagrangian from position trajectories
    Train(Box<commands::train::TrainArgs>),
    /// Roll a learned model out with the variational integrator
    Predict(commands::predict::PredictArgs),
    /// Measure a model against an observed trajectory: metrics and figures
    Evaluate(commands::evaluate::EvaluateArgs),
    /// Run the paper's experiments: data, training, evaluation, figures, report.md
    Reproduce(commands::reproduce::ReproduceArgs),
    /// Benchmark every built-in system (the zoo): DLNN, DLNN recommended, LNN, PySINDy
    Benchmark(commands::benchmark::BenchmarkArgs),
    /// Describe a model directory
    Inspect(commands::inspect::InspectArgs),
    /// Find a saved model's symmetries again: another solver, basis or set of pairs
    Discover(commands::discover::DiscoverArgs),
}

/// Standard output closed early (`symdlnn inspect … | head`) ends the
/// process quietly, as for other command-line tools, instead of a panic in
/// `println!`: restore the default action of SIGPIPE, which Rust ignores.
fn quiet_broken_pipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to the default at start-up,
    // before any thread exists, has no other effect.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() {
    quiet_broken_pipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // clap's message without its usage block: one line.
            let text = e.to_string();
            eprintln!(
                "{}",
                text.lines().next().unwrap_or("error: invalid arguments")
            );
            std::process::exit(2);
        }
    };
    let result = match cli.command {
        Command::Simulate(a) => commands::simulate::run(a),
        Command::Systems(a) => commands::systems::run(a),
        Command::Train(a) => commands::train::run(*a),
        Command::Predict(a) => commands::predict::run(a),
        Command::Evaluate(a) => commands::evaluate::run(a),
        Command::Reproduce(a) => commands::reproduce::run(a),
        Command::Benchmark(a) => commands::benchmark::run(a),
        Command::Inspect(a) => commands::inspect::run(a),
        Command::Discover(a) => commands::discover::run(a),
    };
    if let Err(e) = result {
        // One line: the chain of causes joined.
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
