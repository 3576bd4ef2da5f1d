//! Requester-supplied TorchScript modules, exported from PyTorch by `python/export_script.py`: a small CNN loads
//! with its own parameter names and trains with libtorch; a module that does not fit the task (its classes, its
//! size, batch-norm running statistics, bytes that are no module) is refused with its own reason. Skips when
//! Python has no torch.

mod common;

use std::{path::PathBuf, process::Command};
use tch::nn::OptimizerConfig as _;
use tessera_train::{ArchitectureId, Device, ScriptLimits, ScriptModel, Split};

/// Exports the modules into a temporary folder; `None` when Python has no torch.
fn export() -> Option<(tempfile::TempDir, Vec<String>)> {
    let dir = tempfile::tempdir().unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/export_script.py");
    let out = Command::new(common::python()).arg(&script).arg(dir.path()).output().ok()?;
    if out.status.code() == Some(77) {
        println!("SKIPPED: Python at {} has no torch", common::python().display());
        return None;
    }
    assert!(out.status.success(), "export_script.py failed: {}", String::from_utf8_lossy(&out.stderr));
    let names = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    Some((dir, names))
}

const LIMITS: ScriptLimits = ScriptLimits { input: ArchitectureId::Lenet5MnistV1.input(), max_parameters: 1_000_000 };

#[test]
fn a_scripted_cnn_loads_with_its_own_names_and_trains() {
    let Some((dir, names)) = export() else { return };
    let bytes = std::fs::read(dir.path().join("small_cnn.pt")).unwrap();
    let mut model = ScriptModel::load(&bytes, &LIMITS, Device::Cpu).unwrap();
    let loaded: Vec<&str> = model.parameters().iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(loaded, names);
    assert_eq!(loaded[0], "0.weight");
    assert_eq!(model.num_parameters(), 8 * 9 + 8 + 16 * 8 * 9 + 16 + 64 * 784 + 64 + 64 * 10 + 10);

    let data = common::mnist(Split::Train).take(512).unwrap();
    let mut optimizer = tch::nn::Adam::default().build(model.var_store(), 2e-3).unwrap();
    let before: Vec<tch::Tensor> = model.parameters().iter().map(|(_, t)| t.copy()).collect();
    let loss_on_data = |model: &mut ScriptModel| {
        let logits = tch::no_grad(|| model.forward(data.images(), false)).unwrap();
        logits.cross_entropy_for_logits(data.labels_tensor()).double_value(&[])
    };
    let initial = loss_on_data(&mut model);
    for step in 0..24 {
        let start = step % 8 * 64;
        let batch = data.subset(&(start..start + 64).collect::<Vec<_>>()).unwrap();
        let loss = model.forward(batch.images(), true).unwrap().cross_entropy_for_logits(batch.labels_tensor());
        optimizer.backward_step(&loss);
    }
    let trained = loss_on_data(&mut model);
    assert!(trained < initial * 0.7, "loss {initial} -> {trained}");
    let moved = model.parameters().iter().zip(&before).all(|((_, after), before)| !after.equal(before));
    assert!(moved, "every parameter trains, through the module's own tensors");

    let traced = std::fs::read(dir.path().join("traced_cnn.pt")).unwrap();
    assert_eq!(ScriptModel::load(&traced, &LIMITS, Device::Cpu).unwrap().parameters().len(), names.len());
    let stateless = std::fs::read(dir.path().join("batch_stats_only.pt")).unwrap();
    ScriptModel::load(&stateless, &LIMITS, Device::Cpu).expect("batch statistics without running ones are state-free");
}

#[test]
fn modules_that_do_not_fit_the_task_are_refused_with_the_reason() {
    let Some((dir, _)) = export() else { return };
    let refusal = |file: &str, limits: &ScriptLimits| {
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        ScriptModel::load(&bytes, limits, Device::Cpu).expect_err(file).to_string()
    };
    let five = refusal("five_classes.pt", &LIMITS);
    assert!(five.contains("is [2, 5], not [2, 10]"), "{five}");
    let norm = refusal("batch_norm.pt", &LIMITS);
    assert!(norm.contains("running statistics"), "{norm}");
    let small = ScriptLimits { max_parameters: 1_000, ..LIMITS };
    let big = refusal("small_cnn.pt", &small);
    assert!(big.contains("over the task's limit of 1000"), "{big}");
    let cifar = ScriptLimits { input: ArchitectureId::CnnCifar10V1.input(), ..LIMITS };
    let shape = refusal("small_cnn.pt", &cifar);
    assert!(shape.contains("fails on a batch of [2, 3, 32, 32] images"), "{shape}");
    let garbage = ScriptModel::load(b"PK\x03\x04 not a module", &LIMITS, Device::Cpu).unwrap_err().to_string();
    assert!(garbage.contains("not a TorchScript module"), "{garbage}");
}
