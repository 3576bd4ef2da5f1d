//! The model zoo: ids, layouts, initialisation, and exact conversion between tensors and flat parameters.

use tessera_train::{ArchitectureId, Device, Error, Init, Model, Parameters};

#[test]
fn architecture_ids_are_stable() {
    let number = |arch: ArchitectureId| u32::from_be_bytes(arch.to_bytes32()[28..].try_into().unwrap());
    let lenet = ArchitectureId::Lenet5MnistV1;
    assert_eq!((lenet.name(), number(lenet)), ("lenet5-mnist-v1", 1));
    assert_eq!(ArchitectureId::CnnCifar10V1.name(), "cnn-cifar10-v1");
    assert_eq!(number(ArchitectureId::CnnCifar10V1), 2);
    assert_eq!("lenet5-mnist-v1".parse::<ArchitectureId>().unwrap(), lenet);
    let mut two = [0; 32];
    two[31] = 2;
    assert_eq!(ArchitectureId::from_bytes32(two).unwrap(), ArchitectureId::CnnCifar10V1);
    let resnet = ArchitectureId::Resnet18CifarV1;
    assert_eq!((resnet.name(), number(resnet)), ("resnet18-cifar-v1", 3));
    // torchvision's resnet18 has 11,689,512 parameters with a 1000-class head and a 7x7 stem; a 10-class head
    // and a 3x3 stem leave 11,173,962.
    assert_eq!(resnet.num_parameters(), 11_173_962);
    assert_eq!(resnet.parameter_specs().len(), 62);
    assert_eq!(resnet.parameter_specs()[21].name, "layer2.0.downsample.0.weight");
    // He et al.'s ResNet-20 has 0.27M parameters; here with two 1x1 projections and their normalisations.
    let small = ArchitectureId::Resnet20CifarV1;
    assert_eq!((small.name(), number(small)), ("resnet20-cifar-v1", 4));
    assert_eq!((small.num_parameters(), small.parameter_specs().len()), (272_474, 65));
    assert_eq!(small.parameter_specs()[27].name, "layer2.0.downsample.0.weight");
    assert!(matches!(ArchitectureId::from_bytes32([0; 32]), Err(Error::UnknownArchitecture(_))));
    assert!(matches!("lenet".parse::<ArchitectureId>(), Err(Error::UnknownArchitecture(_))));
    assert_eq!(lenet.to_bytes32()[31], 1);
    assert_eq!(lenet.to_bytes32()[..31], [0; 31]);
}

#[test]
fn lenet_layout_matches_the_pytorch_module() {
    let lenet = ArchitectureId::Lenet5MnistV1;
    let names: Vec<_> = lenet.parameter_specs().iter().map(|spec| spec.name).collect();
    assert_eq!(
        names,
        [
            "conv1.weight",
            "conv1.bias",
            "conv2.weight",
            "conv2.bias",
            "fc1.weight",
            "fc1.bias",
            "fc2.weight",
            "fc2.bias"
        ]
    );
    assert_eq!(lenet.parameter_specs()[4].shape, [512, 1024]);
    assert_eq!(lenet.num_parameters(), 582_026);
    let mut names: Vec<String> =
        Model::init(lenet, 0, Device::Cpu).unwrap().var_store().variables().into_keys().collect();
    names.sort();
    let mut expected: Vec<&str> = lenet.parameter_specs().iter().map(|spec| spec.name).collect();
    expected.sort();
    assert_eq!(names, expected);
}

#[test]
fn init_is_seeded_and_bounded_like_pytorch() {
    for arch in ArchitectureId::ALL {
        let a = arch.init_parameters(9);
        assert_eq!(a, arch.init_parameters(9));
        assert_ne!(a, arch.init_parameters(10));
        for ((_, _, range), spec) in a.tensors().zip(arch.parameter_specs()) {
            let values = &a.values()[range];
            match spec.init {
                Init::Ones => assert!(values.iter().all(|&v| v == 1.0), "{}", spec.name),
                Init::Zeros => assert!(values.iter().all(|&v| v == 0.0), "{}", spec.name),
                Init::Uniform => {}
            }
            if spec.init != Init::Uniform {
                continue;
            }
            let bound = 1.0 / (spec.fan_in as f32).sqrt();
            assert!(values.iter().all(|v| v.abs() <= bound * (1.0 + 1e-6)), "{}", spec.name);
            let max = values.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(values.len() < 100 || max > 0.9 * bound, "{} uses too little of its range", spec.name);
        }
    }
}

#[test]
fn parameters_round_trip_through_a_model_exactly() {
    let arch = ArchitectureId::Lenet5MnistV1;
    let params = arch.init_parameters(1);
    let mut model = Model::new(arch, &params, Device::Cpu).unwrap();
    assert_eq!(model.parameters().unwrap(), params);
    let other = arch.init_parameters(2);
    model.load(&other).unwrap();
    assert_eq!(model.parameters().unwrap(), other);
    assert!(matches!(model.load(&ArchitectureId::CnnCifar10V1.init_parameters(0)), Err(Error::Layout(_))));
}

#[test]
fn parameters_check_their_layout() {
    assert!(Parameters::new(vec!["a".into()], vec![vec![2, 2]], vec![0.0; 3]).is_err());
    assert!(Parameters::new(vec!["a".into()], vec![vec![-1]], vec![]).is_err());
    assert!(Parameters::new(vec!["a".into(), "b".into()], vec![vec![1]], vec![0.0]).is_err());
    let p = Parameters::new(vec!["a".into(), "b".into()], vec![vec![2], vec![1, 2]], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    assert_eq!(p.tensor("b"), Some(&[3.0, 4.0][..]));
    assert_eq!(p.sub(&p).unwrap().values(), [0.0; 4]);
    assert_eq!(p.add(&p).unwrap().values(), [2.0, 4.0, 6.0, 8.0]);
    assert!((p.l2_norm() - 30f64.sqrt()).abs() < 1e-12);
    let q = Parameters::new(vec!["a".into()], vec![vec![4]], vec![0.0; 4]).unwrap();
    assert!(p.sub(&q).is_err());
}
