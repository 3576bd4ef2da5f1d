//! `check-model`: whether a requester's TorchScript module fits a task, before anyone stakes on it.

use clap::Args;
use eyre::WrapErr;
use std::path::PathBuf;
use tessera_train::{ArchitectureId, Device, ScriptLimits, ScriptModel};

/// Options of `check-model`.
#[derive(Debug, Args)]
pub struct CheckModelArgs {
    /// The module, as `torch.jit.save` wrote it (scripted or traced).
    pub module: PathBuf,
    /// The built-in architecture whose images and classes the task's data has (`lenet5-mnist-v1`: 1x28x28,
    /// `cnn-cifar10-v1` or `resnet18-cifar-v1`: 3x32x32; 10 classes).
    #[arg(long, default_value = "lenet5-mnist-v1")]
    pub like: ArchitectureId,
    /// The most scalar parameters the task accepts (updates are this many float32 values).
    #[arg(long, default_value_t = 20_000_000)]
    pub max_parameters: usize,
}

/// Loads and checks the module; prints its parameters as JSON, or fails with the reason it does not fit.
pub(super) fn execute(args: &CheckModelArgs) -> eyre::Result<()> {
    let bytes = std::fs::read(&args.module).wrap_err_with(|| format!("reading {}", args.module.display()))?;
    let limits = ScriptLimits { input: args.like.input(), max_parameters: args.max_parameters };
    let model = ScriptModel::load(&bytes, &limits, Device::Cpu)
        .wrap_err_with(|| format!("{} does not fit a task of {}", args.module.display(), args.like))?;
    let parameters: Vec<serde_json::Value> = model
        .parameters()
        .iter()
        .map(|(name, tensor)| serde_json::json!({ "name": name, "shape": tensor.size() }))
        .collect();
    let summary = serde_json::json!({
        "module": args.module.display().to_string(),
        "input": [limits.input.channels, limits.input.height, limits.input.width],
        "classes": limits.input.classes,
        "num_parameters": model.num_parameters(),
        "parameters": parameters,
    });
    println!("{summary}");
    Ok(())
}
