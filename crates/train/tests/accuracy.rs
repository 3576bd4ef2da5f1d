//! LeNet learns MNIST: one epoch on 10,000 samples clears 95% on the test set within CI's time.

mod common;

use std::time::Instant;
use tessera_train::{ArchitectureId, Model, Split, evaluate, train_local};

#[test]
fn lenet_one_epoch_on_10k_reaches_95_percent() {
    let arch = ArchitectureId::Lenet5MnistV1;
    let train = common::mnist(Split::Train).take(10_000).unwrap();
    let test = common::mnist(Split::Test);
    let global = arch.init_parameters(1);
    let started = Instant::now();
    let update = train_local(arch, &global, &train, &common::cpu_config(1, 1), |_| {}).unwrap();
    let model = Model::new(arch, &global.add(&update.delta).unwrap(), tessera_train::Device::Cpu).unwrap();
    let eval = evaluate(&model, &test, 1000).unwrap();
    println!("train {:?}, eval {eval:?}, total {:?}", update.metrics, started.elapsed());
    assert_eq!(update.metrics.samples, 10_000);
    assert_eq!(update.metrics.steps, 157);
    assert!(update.metrics.accuracy > 0.85, "{:?}", update.metrics);
    assert!(eval.accuracy >= 0.95, "test accuracy {}", eval.accuracy);
    assert_eq!(eval.samples, 10_000);
}
