use crate::{ArchitectureId, Parameters, Result};
use tch::{Device, Tensor, nn::VarStore};

/// A network of one architecture, its weights held in a libtorch `VarStore` on one device.
///
/// Variables are named like a PyTorch state dict (`conv1.weight`), so `var_store().save(...)` writes a file
/// that `torch.nn.Module.load_state_dict` accepts.
#[derive(Debug)]
pub struct Model {
    arch: ArchitectureId,
    vs: VarStore,
    /// The variables in the architecture's order; they share storage with the ones in `vs`.
    weights: Vec<Tensor>,
}

impl Model {
    /// A model holding `params`, which must follow `arch`'s layout.
    pub fn new(arch: ArchitectureId, params: &Parameters, device: Device) -> Result<Self> {
        params.check_layout(arch)?;
        let vs = VarStore::new(device);
        let root = vs.root();
        let weights = params
            .to_tensors(device)?
            .iter()
            .map(|(name, tensor)| {
                let (layer, leaf) = name.split_once('.').expect("architecture names are `layer.leaf`");
                Ok((&root / layer).f_var_copy(leaf, tensor)?)
            })
            .collect::<Result<_>>()?;
        Ok(Self { arch, vs, weights })
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
