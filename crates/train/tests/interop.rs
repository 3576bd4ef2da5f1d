//! A checkpoint written here loads into an equivalent PyTorch `nn.Module` and gives the same logits, and
//! PyTorch's own safetensors output decodes back to the same weights. Skips when Python has no torch.

mod common;

use std::{path::PathBuf, process::Command};
use tessera_train::{
    ArchitectureId, DecodeLimits, Device, FileKind, Header, Model, Split, WeightsFile, WireDtype, train_local,
};

#[test]
fn checkpoint_gives_the_same_logits_in_pytorch() {
    // A trained checkpoint, not a fresh one, so the logits are far from uniform.
    let arch = ArchitectureId::Lenet5MnistV1;
    let test = common::mnist(Split::Test);
    let global = arch.init_parameters(21);
    let update = train_local(arch, &global, &test.take(256).unwrap(), &common::cpu_config(1, 21), |_| {}).unwrap();
    let weights = global.add(&update.delta).unwrap();
    logits_match_pytorch(arch, weights, &test.images().narrow(0, 1000, 64));
}

/// The ResNets' names, layouts and forward passes are those of the PyTorch modules `interop.py` defines.
#[test]
fn resnet_checkpoints_give_the_same_logits_in_pytorch() {
    for arch in [ArchitectureId::Resnet18CifarV1, ArchitectureId::Resnet20CifarV1] {
        // Random weights with a spread in the normalisation scales and shifts too, not only their ones and zeros.
        let weights = arch.init_parameters(5).add(&arch.init_parameters(6)).unwrap();
        tch::manual_seed(3);
        logits_match_pytorch(arch, weights, &tch::Tensor::randn([8, 3, 32, 32], tch::kind::FLOAT_CPU));
    }
}

fn logits_match_pytorch(arch: ArchitectureId, weights: tessera_train::Parameters, images: &tch::Tensor) {
    let model = Model::new(arch, &weights, Device::Cpu).unwrap();
    let logits = tch::no_grad(|| model.forward(images)).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let header = Header {
        architecture: arch,
        kind: FileKind::Checkpoint,
        round: 2,
        parent_cid: "QmInterop".into(),
        num_samples: 256,
        dtype: WireDtype::F32,
    };
    let checkpoint = WeightsFile { header, parameters: weights };
    checkpoint.write(&dir.path().join("checkpoint.safetensors")).unwrap();
    tch::Tensor::write_safetensors(&[("images", images), ("logits", &logits)], dir.path().join("batch.safetensors"))
        .unwrap();

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/interop.py");
    let out = match Command::new(common::python()).arg(&script).arg(dir.path()).output() {
        Ok(out) => out,
        Err(error) => return println!("SKIPPED: cannot run Python at {}: {error}", common::python().display()),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    if out.status.code() == Some(77) {
        return println!("SKIPPED: Python at {} has no torch or safetensors", common::python().display());
    }
    assert!(out.status.success(), "interop.py failed");
    let diff: f64 =
        stdout.trim().strip_prefix("max_abs_diff=").and_then(|d| d.parse().ok()).expect("a max_abs_diff line");
    let tolerance = if arch == ArchitectureId::Lenet5MnistV1 { 1e-5 } else { 1e-4 };
    assert!(diff <= tolerance, "logits differ by {diff}");

    let limits = DecodeLimits::expecting(arch, FileKind::Checkpoint);
    let from_pytorch = WeightsFile::read(&dir.path().join("pytorch.safetensors"), &limits).unwrap();
    assert_eq!(from_pytorch, checkpoint, "PyTorch's re-save decodes to other weights");
}
