use clap::Args;
use symdlnn::mechanics::{Lagrangian, System};

#[derive(Args)]
#[command(after_help = "Examples:\n  symdlnn systems\n  symdlnn systems --json")]
pub struct SystemsArgs {
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

pub fn run(a: SystemsArgs) -> anyhow::Result<()> {
    let systems: Vec<System> = System::NAMES
        .iter()
        .map(|n| System::from_name(n))
        .collect::<Result<_, _>>()?;
    if a.json {
        let v: Vec<_> = systems
            .iter()
            .map(|s| {
                let (q0, v0) = s.default_initial_condition();
                let g = s.default_grid();
                serde_json::json!({
                    "name": s.name(),
                    "dim": s.dim(),
                    "description": s.description(),
                    "parameters": s.parameters().into_iter().collect::<std::collections::BTreeMap<_, _>>(),
                    "symmetries": s.symmetries().iter().map(|g| serde_json::json!({
                        "label": g.label, "M": g.m, "w": g.w,
                    })).collect::<Vec<_>>(),
                    "default": {"q0": q0, "v0": v0, "dt": g.dt, "steps": g.steps, "fine": g.fine},
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    for s in &systems {
        println!("{} (n = {}): {}", s.name(), s.dim(), s.description());
        let params: Vec<String> = s
            .parameters()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("  parameters: {}", params.join(", "));
        let syms = s.symmetries();
        if syms.is_empty() {
            println!("  symmetries: none");
        }
        for g in syms {
            println!(
                "  symmetry: {} (M = {:?}, w = {:?})",
                g.label,
                round(&g.m),
                round(&g.w)
            );
        }
    }
    Ok(())
}

fn round(x: &[f64]) -> Vec<f64> {
    x.iter().map(|v| (v * 1e6).round() / 1e6).collect()
}
