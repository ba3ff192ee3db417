use std::path::PathBuf;

use clap::Args;
use symdlnn::learn::model_dir::ModelFile;
use symdlnn::learn::symmetry::{DiscoverySolver, Symmetries};
use symdlnn::learn::{model_dir, symmetry, JacobianStride};
use symdlnn::mechanics::{Lagrangian, System};
use symdlnn::nn::Mlp;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  symdlnn inspect --model model\n  symdlnn inspect --model model --json"
)]
pub struct InspectArgs {
    /// Model directory
    #[arg(long)]
    model: PathBuf,
    /// Print model.json's contents as JSON
    #[arg(long)]
    json: bool,
    /// Compare discovered generators with a built-in system's symmetries
    #[arg(long, value_name = "SYSTEM")]
    truth: Option<String>,
}

pub fn run(a: InspectArgs) -> anyhow::Result<()> {
    let (m, mlp) = model_dir::load(&a.model)?;
    let truth = a.truth.as_deref().map(|t| truth_for(t, m.n)).transpose()?;
    let agreement = match (&truth, &m.symmetries) {
        (Some(s), Some(sym)) => Some(agreement_with(s, sym)?),
        (Some(_), None) => anyhow::bail!(
            "--truth: the model has no discovered symmetries (train with --method symdlnn)"
        ),
        _ => None,
    };
    if a.json {
        let mut v = serde_json::to_value(&m)?;
        if let Some(sym) = &m.symmetries {
            v["generators"] = serde_json::to_value(&sym.generators)?;
            v["spectrum"] = serde_json::to_value(&sym.spectrum)?;
        }
        if let Some(ag) = &agreement {
            v["agreement"] = serde_json::to_value(ag)?;
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    print_header(&a, &m, &mlp);
    print_inputs(&m);
    print_training(&m);
    if let Some(sym) = &m.symmetries {
        let solver = m.training.method.symmetry().map(|c| c.solver);
        print_symmetries(sym, solver.unwrap_or_default());
    }
    if let (Some(ag), Some(s)) = (&agreement, &truth) {
        print_agreement(s, ag);
    }
    Ok(())
}

/// The model's name, method and network.
fn print_header(a: &InspectArgs, m: &ModelFile, mlp: &Mlp) {
    let arch: Vec<String> = mlp.widths().iter().map(|w| w.to_string()).collect();
    println!(
        "model {} (symdlnn {}, format {})",
        a.model.display(),
        m.symdlnn_version,
        m.format
    );
    let recipe =
        (m.training.dlnn()).map_or(String::new(), |d| format!(" ({:?} recipe)", d.recipe()));
    println!("  method {}{recipe}, n = {}, h = {}", m.method, m.n, m.h);
    println!(
        "  network {} {} ({} parameters), seed {}",
        arch.join("-"),
        m.architecture.activation.name(),
        mlp.params().len(),
        m.seed
    );
}

/// The input map and what is built into `Ld`.
fn print_inputs(m: &ModelFile) {
    let p = &m.parametrisation;
    let mut inputs = vec![match p.input_map {
        symdlnn::learn::InputMap::Raw => "raw (q0, q1)".to_string(),
        symdlnn::learn::InputMap::MidpointVelocity { .. } => {
            "standardised midpoint and velocity".to_string()
        }
        symdlnn::learn::InputMap::Invariant { .. } => {
            "standardised invariants of the pair (built-in symmetries)".to_string()
        }
    }];
    if !p.angles().is_empty() {
        let list: Vec<String> = p.angles().iter().map(|i| format!("q{i}")).collect();
        inputs.push(format!("angles {} (Ld periodic)", list.join(", ")));
    }
    if !p.kinetic_prior.is_empty() {
        inputs.push("kinetic prior".into());
    }
    if p.time_reversible {
        inputs.push("time-reversible".into());
    }
    println!("  inputs: {}", inputs.join("; "));
    if let Some(b) = m.training.dlnn().and_then(|d| d.built_in.as_ref()) {
        for (j, g) in b.symmetry.generators().iter().enumerate() {
            let off = (b.symmetry.distances.get(j)).map_or(String::new(), |x| {
                format!("; {x:.2e} from the generator it came from")
            });
            println!(
                "  built in: {} (from {}{off})",
                symmetry::describe(m.n, &g.m, &g.w),
                b.source
            );
        }
    }
}

/// Training time, final losses and `det J`.
fn print_training(m: &ModelFile) {
    println!(
        "  trained {} epochs in {:.1} s on {} ({} {}, {} samples)",
        m.epochs_done,
        m.training_seconds,
        m.data.source,
        m.data.trajectories,
        if m.data.trajectories == 1 {
            "trajectory"
        } else {
            "trajectories"
        },
        m.data.samples
    );
    let losses: Vec<String> = m
        .final_losses
        .iter()
        .map(|(k, v)| format!("{k} {v:.4e}"))
        .collect();
    println!("  final losses: {}", losses.join(", "));
    if let Some(d) = m.det_j {
        println!(
            "  det J: min |det(hJ)| {:.3e}, median {:.3e}, pairs with the minority sign {}{}",
            d.min_abs_hdet,
            d.median_abs_hdet,
            d.sign_changes,
            if m.near_degenerate {
                "  — WARNING: near-degenerate Ld"
            } else {
                ""
            }
        );
        let pairs = m.data.samples.saturating_sub(m.data.trajectories);
        let every = (m.training.dlnn()).map_or(JacobianStride::ALL, |d| d.loss.jacobian_every);
        let stride = every.resolve(pairs).get();
        println!(
            "  det J in training: {}{} (the statistics above: every pair)",
            if stride == 1 {
                "every pair".to_string()
            } else {
                format!("1 pair in {stride}")
            },
            if every == JacobianStride::Auto {
                ", automatic"
            } else {
                ""
            }
        );
    }
    if let Some(noise) = &m.noise {
        for line in noise.lines() {
            println!("  {line}");
        }
        println!(
            "  denoised positions: {} in the model directory",
            symdlnn::learn::model_dir::DENOISED
        );
    }
}

/// The built-in system `name` to compare a model of dimension `n` with.
pub fn truth_for(name: &str, n: usize) -> anyhow::Result<System> {
    let s = System::from_name(name)?;
    if s.dim() != n {
        anyhow::bail!("--truth {name} has dimension {}, the model {n}", s.dim());
    }
    Ok(s)
}

/// The agreement of `sym`'s generators with `system`'s symmetries: `|cos|`
/// for one generator against one, principal angles (degrees) otherwise.
pub fn agreement_with(system: &System, sym: &Symmetries) -> anyhow::Result<Vec<f64>> {
    if system.symmetries().is_empty() {
        anyhow::bail!(
            "--truth {}: the system has no known symmetry to compare with (symdlnn systems lists them)",
            system.name()
        );
    }
    Ok(symmetry::agreement_of(
        &sym.generators,
        &system.symmetries(),
    ))
}

/// The generators, spectrum, gap and conserved quantity of `sym`, found by `solver`.
pub fn print_symmetries(sym: &Symmetries, solver: DiscoverySolver) {
    let (rows, scale) = match solver {
        DiscoverySolver::Variational => (
            "rows of the linearised DEL equations",
            "σ relative to the equations' scale",
        ),
        _ => ("evaluation pairs", "σ/σmax"),
    };
    println!(
        "  symmetries ({} basis, {:?} solver, {} {rows}):",
        sym.basis, solver, sym.pairs
    );
    // The paper's solver trains its coefficients; σ is then their residual.
    let sigma = if solver == DiscoverySolver::Paper {
        "‖Ac‖/σmax"
    } else {
        "σ"
    };
    for (j, g) in sym.generators.iter().enumerate() {
        println!(
            "    ξ{j}: {} — M = {:?}, w = {:?}, {sigma} = {:.2e}",
            g.description,
            round(&g.m),
            round(&g.w),
            g.singular_value
        );
    }
    let spec: Vec<String> = sym.spectrum.iter().map(|x| format!("{x:.2e}")).collect();
    println!(
        "    spectrum ({scale}, ascending): {}; identifiability gap σ_(K+1)/σ_K = {:.2e}",
        spec.join(" "),
        sym.gap.unwrap_or(f64::NAN)
    );
    println!("    conserved quantity: I_j(q_k, q_k+1) = −ξ_j(q_k)·D1 Ld(q_k, q_k+1)");
}

/// The agreement of [`agreement_with`], in words.
pub fn print_agreement(system: &System, agreement: &[f64]) {
    if agreement.len() == 1 {
        println!(
            "  agreement with {}'s {}: |cos| = {:.6}",
            system.name(),
            system.symmetries()[0].label,
            agreement[0]
        );
    } else {
        let txt: Vec<String> = agreement.iter().map(|x| format!("{x:.3}°")).collect();
        println!(
            "  principal angles to {}'s symmetry span: {}",
            system.name(),
            txt.join(", ")
        );
    }
}

fn round(x: &[f64]) -> Vec<f64> {
    x.iter().map(|v| (v * 1e4).round() / 1e4).collect()
}
