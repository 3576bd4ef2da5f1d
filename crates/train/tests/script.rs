//! Requester-supplied TorchScript modules, exported from PyTorch by `python/export_script.py`: a small CNN loads
//! with its own parameter names and trains with libtorch; a module that does not fit the task (its classes, its
//! size, batch-norm running statistics, bytes that are no module) is refused with its own reason. Skips when
//! Python has no torch.

mod common;

use std::{path::PathBuf, process::Command};
use tch::nn::OptimizerConfig as _;
use tessera_train::{
    ArchitectureId, Device, FileKind, Header, Model, ScriptId, ScriptLimits, ScriptModel, Split, TrainConfig,
    WeightsFile, WireDtype, register_script, train_local,
};

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

fn limits() -> ScriptLimits {
    ScriptLimits { input: ArchitectureId::Lenet5MnistV1.input(), max_parameters: 1_000_000 }
}

#[test]
fn a_scripted_cnn_loads_with_its_own_names_and_trains() {
    let Some((dir, names)) = export() else { return };
    let bytes = std::fs::read(dir.path().join("small_cnn.pt")).unwrap();
    let model = ScriptModel::load(&bytes, &limits(), Device::Cpu).unwrap();
    let loaded: Vec<&str> = model.parameters().iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(loaded, names);
    assert_eq!(loaded[0], "0.weight");
    assert_eq!(model.num_parameters(), 8 * 9 + 8 + 16 * 8 * 9 + 16 + 64 * 784 + 64 + 64 * 10 + 10);

    let data = common::mnist(Split::Train).take(512).unwrap();
    let mut optimizer = tch::nn::Adam::default().build(model.var_store(), 2e-3).unwrap();
    let before: Vec<tch::Tensor> = model.parameters().iter().map(|(_, t)| t.copy()).collect();
    let loss_on_data = |model: &ScriptModel| {
        let logits = tch::no_grad(|| model.forward(data.images())).unwrap();
        logits.cross_entropy_for_logits(data.labels_tensor()).double_value(&[])
    };
    let initial = loss_on_data(&model);
    for step in 0..24 {
        let start = step % 8 * 64;
        let batch = data.subset(&(start..start + 64).collect::<Vec<_>>()).unwrap();
        let loss = model.forward(batch.images()).unwrap().cross_entropy_for_logits(batch.labels_tensor());
        optimizer.backward_step(&loss);
    }
    let trained = loss_on_data(&model);
    assert!(trained < initial * 0.7, "loss {initial} -> {trained}");
    let moved = model.parameters().iter().zip(&before).all(|((_, after), before)| !after.equal(before));
    assert!(moved, "every parameter trains, through the module's own tensors");

    let traced = std::fs::read(dir.path().join("traced_cnn.pt")).unwrap();
    assert_eq!(ScriptModel::load(&traced, &limits(), Device::Cpu).unwrap().parameters().len(), names.len());
    let stateless = std::fs::read(dir.path().join("batch_stats_only.pt")).unwrap();
    ScriptModel::load(&stateless, &limits(), Device::Cpu)
        .expect("batch statistics without running ones are state-free");
}

#[test]
fn modules_that_do_not_fit_the_task_are_refused_with_the_reason() {
    let Some((dir, _)) = export() else { return };
    let refusal = |file: &str, limits: &ScriptLimits| {
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        ScriptModel::load(&bytes, limits, Device::Cpu).expect_err(file).to_string()
    };
    let five = refusal("five_classes.pt", &limits());
    assert!(five.contains("is Float [2, 5], not float32 [2, 10]"), "{five}");
    let norm = refusal("batch_norm.pt", &limits());
    assert!(norm.contains("running statistics"), "{norm}");
    let small = ScriptLimits { max_parameters: 1_000, ..limits() };
    let big = refusal("small_cnn.pt", &small);
    assert!(big.contains("over the task's limit of 1000"), "{big}");
    let unused = refusal("unused_parameter.pt", &limits());
    assert!(unused.contains("parameter unused gets no gradient"), "{unused}");
    let metadata = refusal("metadata_name.pt", &limits());
    assert!(metadata.contains("parameter name \"__metadata__\""), "{metadata}");
    let detached = refusal("detached.pt", &limits());
    assert!(detached.contains("without gradients"), "{detached}");
    let cifar = ScriptLimits { input: ArchitectureId::CnnCifar10V1.input(), ..limits() };
    let shape = refusal("small_cnn.pt", &cifar);
    assert!(shape.contains("fails on a batch of [2, 3, 32, 32] images"), "{shape}");
    let garbage = ScriptModel::load(b"PK\x03\x04 not a module", &limits(), Device::Cpu).unwrap_err().to_string();
    assert!(garbage.contains("not a TorchScript module"), "{garbage}");
}

#[test]
fn a_registered_module_trains_encodes_and_evaluates_like_a_built_in_network() {
    let Some((dir, names)) = export() else { return };
    let bytes = std::fs::read(dir.path().join("small_cnn.pt")).unwrap();
    let id = ScriptId([0x5c; 32]);
    let arch = register_script(id, &bytes, &limits()).unwrap();
    assert_eq!(register_script(id, &bytes, &limits()).unwrap(), arch, "a second registration is the first");
    let cifar = ScriptLimits { input: ArchitectureId::CnnCifar10V1.input(), ..limits() };
    assert!(register_script(id, &bytes, &cifar).is_err(), "other images are checked again");
    assert!(register_script(id, &bytes, &ScriptLimits { max_parameters: 10, ..limits() }).is_err());
    assert_eq!(ArchitectureId::from_bytes32([0x5c; 32]).unwrap(), arch);
    assert_eq!(arch.name().parse::<ArchitectureId>().unwrap(), arch);
    assert!(arch.name().starts_with("torchscript-5c5c"), "{}", arch.name());
    let spec_names: Vec<&str> = arch.parameter_specs().iter().map(|spec| spec.name).collect();
    assert_eq!(spec_names, names);
    assert_eq!(arch.input(), limits().input);
    assert!(register_script(ScriptId([0x6d; 32]), b"not a module", &limits()).is_err());
    assert!(ArchitectureId::from_bytes32([0x6d; 32]).is_err(), "a refused module is not registered");

    // The initial weights are the exported ones, whatever the seed, and the model computes what the module does.
    let initial = arch.init_parameters(7);
    assert_eq!(initial, arch.init_parameters(8));
    let data = common::mnist(Split::Train).take(256).unwrap();
    let exported = ScriptModel::load(&bytes, &limits(), Device::Cpu).unwrap();
    let model = Model::new(arch, &initial, Device::Cpu).unwrap();
    let expected = tch::no_grad(|| exported.forward(data.images())).unwrap();
    assert!(tch::no_grad(|| model.forward(data.images())).unwrap().equal(&expected));

    // Local training moves it, bit for bit the same twice, and the update travels under the module's names.
    let config = TrainConfig { device: Device::Cpu, threads: Some(1), ..TrainConfig::default() };
    let first = train_local(arch, &initial, &data, &config, |_| {}).unwrap();
    let second = train_local(arch, &initial, &data, &config, |_| {}).unwrap();
    assert_eq!(first.delta, second.delta);
    assert!(first.delta.values().iter().any(|&v| v != 0.0));
    let file = WeightsFile {
        header: Header {
            architecture: arch,
            kind: FileKind::Update,
            round: 1,
            parent_cid: "bafy".into(),
            num_samples: 256,
            dtype: WireDtype::F32,
        },
        parameters: first.delta,
    };
    let encoded = file.encode().unwrap();
    let limits = tessera_train::DecodeLimits::expecting(arch, FileKind::Update);
    assert_eq!(WeightsFile::decode(&encoded, &limits).unwrap(), file);
    let tensors = safetensors::SafeTensors::deserialize(&encoded).unwrap();
    let mut stored: Vec<String> = tensors.names().into_iter().cloned().collect();
    stored.sort();
    let mut expected_names = names;
    expected_names.sort();
    assert_eq!(stored, expected_names);
}
