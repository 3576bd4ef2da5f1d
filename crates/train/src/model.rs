use crate::{
    ArchitectureId, Parameters, Result,
    arch::{RESNET18, RESNET20, ResnetShape},
};
use tch::{CModule, Device, Tensor, nn::VarStore};

/// A network of one architecture, its weights held in a libtorch `VarStore` on one device.
///
/// A built-in network's variables are named like a PyTorch state dict (`conv1.weight`), so
/// `var_store().save(...)` writes a file that `torch.nn.Module.load_state_dict` accepts. A requester's module
/// holds its own tensors, and [`Self::parameters`] names them as the module does.
#[derive(Debug)]
pub struct Model {
    arch: ArchitectureId,
    vs: VarStore,
    /// The variables in the architecture's order; they share storage with the ones in `vs`.
    weights: Vec<Tensor>,
    /// A requester's module, whose forward pass reads `weights`.
    module: Option<CModule>,
}

impl Model {
    /// A model holding `params`, which must follow `arch`'s layout.
    pub fn new(arch: ArchitectureId, params: &Parameters, device: Device) -> Result<Self> {
        params.check_layout(arch)?;
        if let Some(id) = arch.script_id() {
            let (module, vs, weights) = crate::ScriptModel::open(&crate::arch::script(id).bytes, device)?.into_parts();
            let mut model = Self { arch, vs, weights, module: Some(module) };
            model.load(params)?;
            return Ok(model);
        }
        let vs = VarStore::new(device);
        let root = vs.root();
        let weights = params
            .to_tensors(device)?
            .iter()
            .map(|(name, tensor)| {
                // `layer1.0.conv1.weight` is the variable `weight` under the path layer1 / 0 / conv1.
                let (path, leaf) = name.rsplit_once('.').expect("architecture names are `layer.leaf`");
                let layer = path.split('.').fold(root.clone(), |at, segment| &at / segment);
                Ok(layer.f_var_copy(leaf, tensor)?)
            })
            .collect::<Result<_>>()?;
        Ok(Self { arch, vs, weights, module: None })
    }

    /// A model with fresh weights from [`ArchitectureId::init_parameters`].
    pub fn init(arch: ArchitectureId, seed: u64, device: Device) -> Result<Self> {
        Self::new(arch, &arch.init_parameters(seed), device)
    }

    /// The architecture.
    pub fn architecture(&self) -> ArchitectureId {
        self.arch
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// The underlying variables, for optimisers and `save`.
    pub fn var_store(&self) -> &VarStore {
        &self.vs
    }

    /// The logits `[n, classes]` for a batch of images `[n, c, h, w]` on the model's device.
    pub fn forward(&self, images: &Tensor) -> Result<Tensor> {
        let w = &self.weights;
        match self.arch {
            // Both architectures share one shape; only the input size (and so fc1's width) differs.
            ArchitectureId::Lenet5MnistV1 | ArchitectureId::CnnCifar10V1 => {
                let x = images.f_conv2d(&w[0], Some(&w[1]), [1, 1], [0, 0], [1, 1], 1)?.f_relu()?;
                let x = x.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)?;
                let x = x.f_conv2d(&w[2], Some(&w[3]), [1, 1], [0, 0], [1, 1], 1)?.f_relu()?;
                let x = x.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)?.f_flatten(1, -1)?;
                let x = x.f_linear(&w[4], Some(&w[5]))?.f_relu()?;
                Ok(x.f_linear(&w[6], Some(&w[7]))?)
            }
            ArchitectureId::Resnet18CifarV1 => resnet(images, w, RESNET18),
            ArchitectureId::Resnet20CifarV1 => resnet(images, w, RESNET20),
            ArchitectureId::Script(_) => {
                Ok(self.module.as_ref().expect("a Script model holds its module").forward_ts(&[images])?)
            }
        }
    }

    /// A copy of the current weights in the architecture's order.
    pub fn parameters(&self) -> Result<Parameters> {
        let named: Vec<(&str, Tensor)> = self
            .arch
            .parameter_specs()
            .iter()
            .zip(&self.weights)
            .map(|(spec, weight)| (spec.name, weight.shallow_clone()))
            .collect();
        Parameters::from_tensors(&named)
    }

    /// Overwrites the weights with `params`, which must follow the architecture's layout.
    pub fn load(&mut self, params: &Parameters) -> Result<()> {
        params.check_layout(self.arch)?;
        let device = self.device();
        tch::no_grad(|| {
            for (weight, (_, tensor)) in self.weights.iter_mut().zip(params.to_tensors(device)?) {
                weight.f_copy_(&tensor)?;
            }
            Ok(())
        })
    }
}

/// A ResNet's forward pass over its tensors in [`ArchitectureId::parameter_specs`] order.
fn resnet(images: &Tensor, weights: &[Tensor], shape: ResnetShape) -> Result<Tensor> {
    let mut next = weights.iter();
    let mut take = || next.next().expect("the layout was checked");
    let conv = |x: &Tensor, weight: &Tensor, stride: i64, padding: i64| {
        x.f_conv2d(weight, None::<&Tensor>, [stride, stride], [padding, padding], [1, 1], 1)
    };
    let norm = |x: &Tensor, scale: &Tensor, shift: &Tensor| {
        x.f_group_norm(shape.groups, Some(scale), Some(shift), 1e-5, false)
    };
    let mut x = conv(images, take(), 1, 1)?;
    x = norm(&x, take(), take())?.f_relu()?;
    let mut inputs = shape.stem;
    for &(width, stride) in shape.stages {
        for block in 0..shape.blocks {
            let stride = if block == 0 { stride } else { 1 };
            let out = conv(&x, take(), stride, 1)?;
            let out = norm(&out, take(), take())?.f_relu()?;
            let out = conv(&out, take(), 1, 1)?;
            let out = norm(&out, take(), take())?;
            let shortcut = if stride != 1 || inputs != width {
                let projected = conv(&x, take(), stride, 0)?;
                norm(&projected, take(), take())?
            } else {
                x.shallow_clone()
            };
            x = out.f_add(&shortcut)?.f_relu()?;
            inputs = width;
        }
    }
    let x = x.f_adaptive_avg_pool2d([1, 1])?.f_flatten(1, -1)?;
    Ok(x.f_linear(take(), Some(take()))?)
}
