//! Local training: determinism, the delta, progress, optimisers, both architectures.

mod common;

use tessera_train::{
    ArchitectureId, Dataset, Device, Error, FileKind, Header, Model, Optimizer, Parameters, Split, TrainConfig,
    WeightsFile, WireDtype, evaluate, train_local,
};

const LENET: ArchitectureId = ArchitectureId::Lenet5MnistV1;

fn update_bytes(shard: &Dataset, config: &TrainConfig) -> Vec<u8> {
    let update = train_local(LENET, &LENET.init_parameters(3), shard, config, |_| {}).unwrap();
    let header = Header {
        architecture: LENET,
        kind: FileKind::Update,
        round: 1,
        parent_cid: "QmParent".into(),
        num_samples: update.metrics.samples,
        dtype: WireDtype::F32,
    };
    WeightsFile { header, parameters: update.delta }.encode().unwrap()
}

#[test]
fn same_seed_gives_bit_identical_update_bytes_on_cpu() {
    let shard = common::mnist(Split::Train).take(640).unwrap();
    let config = common::cpu_config(2, 11);
    let first = update_bytes(&shard, &config);
    let second = update_bytes(&shard, &config);
    assert!(first == second, "two runs with one seed gave different updates");
    let other_seed = update_bytes(&shard, &TrainConfig { seed: 12, ..config });
    assert!(first != other_seed, "the seed does not change the sample order");
    // Mixed precision is CUDA autocast: on the CPU it changes nothing.
    let mixed = update_bytes(&shard, &TrainConfig { mixed_precision: true, ..config });
    assert!(first == mixed, "mixed precision changed CPU training");
}

#[test]
fn delta_is_local_minus_global_and_progress_counts_steps() {
    let shard = common::mnist(Split::Train).take(300).unwrap();
    let global = LENET.init_parameters(5);
    let mut seen = Vec::new();
    let update = train_local(LENET, &global, &shard, &common::cpu_config(2, 5), |p| seen.push(p)).unwrap();
    // 300 samples in batches of 64: four full batches and one of 44, per epoch.
    assert_eq!(seen.len(), 10);
    assert_eq!(seen.iter().map(|p| p.step).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
    assert!(seen.iter().all(|p| p.total_steps == 10 && p.epochs == 2 && p.loss.is_finite()));
    assert_eq!((seen[4].epoch, seen[5].epoch), (1, 2));
    let metrics = update.metrics;
    assert_eq!((metrics.samples, metrics.steps), (300, 10));
    assert!(metrics.loss.is_finite() && (0.0..=1.0).contains(&metrics.accuracy));
    assert_eq!(update.delta.names(), global.names());
    assert!(update.delta.l2_norm() > 0.0);
    assert!(update.delta.values().iter().all(|v| v.is_finite()));
}

#[test]
fn sgd_with_zero_learning_rate_gives_an_exactly_zero_delta() {
    let shard = common::mnist(Split::Train).take(128).unwrap();
    let config = TrainConfig { optimizer: Optimizer::sgd(0.0), ..common::cpu_config(1, 0) };
    let update = train_local(LENET, &LENET.init_parameters(0), &shard, &config, |_| {}).unwrap();
    assert_eq!(update.delta, Parameters::zeros(LENET));
}

#[test]
fn sgd_with_momentum_and_weight_decay_lowers_the_loss() {
    let shard = common::mnist(Split::Train).take(512).unwrap();
    let optimizer = Optimizer::Sgd { lr: 0.05, momentum: 0.9, weight_decay: 5e-4, nesterov: true };
    let global = LENET.init_parameters(2);
    let before = evaluate(&Model::new(LENET, &global, Device::Cpu).unwrap(), &shard, 256).unwrap();
    let config = TrainConfig { optimizer, ..common::cpu_config(3, 2) };
    let update = train_local(LENET, &global, &shard, &config, |_| {}).unwrap();
    let after = Model::new(LENET, &global.add(&update.delta).unwrap(), Device::Cpu).unwrap();
    let after = evaluate(&after, &shard, 256).unwrap();
    assert!(after.loss < before.loss * 0.5, "loss {} -> {}", before.loss, after.loss);
}

#[test]
fn cifar_cnn_trains_on_cifar_shaped_data() {
    let arch = ArchitectureId::CnnCifar10V1;
    let labels: Vec<u8> = (0..96).map(|i| (i % 10) as u8).collect();
    let images = tch::Tensor::randn([96, 3, 32, 32], (tch::Kind::Float, Device::Cpu));
    let data = Dataset::new(&images, &labels, 10).unwrap();
    let model = Model::init(arch, 4, Device::Cpu).unwrap();
    assert_eq!(model.forward(data.images()).unwrap().size(), [96, 10]);
    let update = train_local(arch, &arch.init_parameters(4), &data, &common::cpu_config(1, 4), |_| {}).unwrap();
    assert_eq!(update.metrics.steps, 2);
    assert_eq!(update.delta.values().len(), arch.num_parameters());
}

/// The ResNets train, and bit-identically from the same seed on the CPU, as the smaller networks do.
#[test]
fn resnets_train_bit_identically_from_the_same_seed() {
    for arch in [ArchitectureId::Resnet18CifarV1, ArchitectureId::Resnet20CifarV1] {
        resnet_trains_bit_identically(arch);
    }
}

fn resnet_trains_bit_identically(arch: ArchitectureId) {
    let labels: Vec<u8> = (0..16).map(|i| (i % 10) as u8).collect();
    let images = tch::Tensor::randn([16, 3, 32, 32], (tch::Kind::Float, Device::Cpu));
    let data = Dataset::new(&images, &labels, 10).unwrap();
    let config = TrainConfig { batch_size: 8, ..common::cpu_config(1, 6) };
    let global = arch.init_parameters(6);
    let first = train_local(arch, &global, &data, &config, |_| {}).unwrap();
    let again = train_local(arch, &global, &data, &config, |_| {}).unwrap();
    assert_eq!(first.metrics.steps, 2);
    assert_eq!(first.delta, again.delta, "two runs from one seed differ");
    assert!(first.delta.values().iter().any(|&v| v != 0.0));
    assert_eq!(first.delta.values().len(), arch.num_parameters());
}

#[test]
fn bad_settings_and_empty_shards_are_errors() {
    let shard = common::mnist(Split::Test).take(10).unwrap();
    let global = LENET.init_parameters(0);
    for config in [
        TrainConfig { epochs: 0, ..common::cpu_config(1, 0) },
        TrainConfig { batch_size: 0, ..common::cpu_config(1, 0) },
        TrainConfig { threads: Some(0), ..common::cpu_config(1, 0) },
    ] {
        assert!(matches!(train_local(LENET, &global, &shard, &config, |_| {}), Err(Error::Config(_))), "{config:?}");
    }
    let empty = shard.subset(&[]).unwrap();
    let result = train_local(LENET, &global, &empty, &common::cpu_config(1, 0), |_| {});
    assert!(matches!(result, Err(Error::Config(_))));
    let cifar = ArchitectureId::CnnCifar10V1.init_parameters(0);
    assert!(matches!(train_local(LENET, &cifar, &shard, &common::cpu_config(1, 0), |_| {}), Err(Error::Layout(_))));
}
