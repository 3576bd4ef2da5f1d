use crate::{ArchitectureId, Error, Result, arch::numel};
use std::ops::Range;
use tch::{Device, Kind, Tensor};

/// Named tensors as one flat f32 vector, in a stable order: the plain representation that scoring and
/// aggregation (pure Rust, no libtorch) work on.
///
/// Tensor `i` occupies `values[offset(i)..offset(i) + numel(shapes[i])]`, row-major, exactly as PyTorch lays
/// it out, so converting to and from tensors is a copy per tensor with no rounding.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameters {
    names: Vec<String>,
    shapes: Vec<Vec<i64>>,
    values: Vec<f32>,
}

impl Parameters {
    /// Parameters from their parts; the shapes must account for exactly `values.len()` values.
    pub fn new(names: Vec<String>, shapes: Vec<Vec<i64>>, values: Vec<f32>) -> Result<Self> {
        if names.len() != shapes.len() {
            return Err(Error::Layout(format!("{} names but {} shapes", names.len(), shapes.len())));
        }
        if let Some(shape) = shapes.iter().find(|shape| shape.iter().any(|&dim| dim < 0)) {
            return Err(Error::Layout(format!("negative dimension in {shape:?}")));
        }
        let needed: usize = shapes.iter().map(|shape| numel(shape)).sum();
        if needed != values.len() {
            return Err(Error::Layout(format!("shapes need {needed} values, got {}", values.len())));
        }
        Ok(Self { names, shapes, values })
    }

    /// Parameters in an architecture's layout.
    pub fn for_architecture(arch: ArchitectureId, values: Vec<f32>) -> Result<Self> {
        let specs = arch.parameter_specs();
        let names = specs.iter().map(|spec| spec.name.to_owned()).collect();
        let shapes = specs.iter().map(|spec| spec.shape.to_vec()).collect();
        Self::new(names, shapes, values)
    }

    /// All zeros in an architecture's layout (an empty update).
    pub fn zeros(arch: ArchitectureId) -> Self {
        Self::for_architecture(arch, vec![0.0; arch.num_parameters()]).expect("the architecture's own layout")
    }

    /// Whether these follow `arch`'s layout: the same names and shapes in the same order.
    pub fn check_layout(&self, arch: ArchitectureId) -> Result<()> {
        let specs = arch.parameter_specs();
        let matches = specs.len() == self.names.len()
            && specs
                .iter()
                .zip(self.names.iter().zip(&self.shapes))
                .all(|(spec, (name, shape))| spec.name == name && spec.shape == shape.as_slice());
        if matches { Ok(()) } else { Err(Error::Layout(format!("{:?} is not the layout of {arch}", self.names))) }
    }

    /// The tensor names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The tensor shapes, in order.
    pub fn shapes(&self) -> &[Vec<i64>] {
        &self.shapes
    }

    /// All values, flat.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// All values, flat and writable (the layout stays fixed).
    pub fn values_mut(&mut self) -> &mut [f32] {
        &mut self.values
    }

    /// The flat values, giving up the names and shapes.
    pub fn into_values(self) -> Vec<f32> {
        self.values
    }

    /// Each tensor's name, shape and range in [`Self::values`].
    pub fn tensors(&self) -> impl Iterator<Item = (&str, &[i64], Range<usize>)> {
        let mut start = 0;
        self.names.iter().zip(&self.shapes).map(move |(name, shape)| {
            start += numel(shape);
            (name.as_str(), shape.as_slice(), start - numel(shape)..start)
        })
    }

    /// One tensor's values, by name.
    pub fn tensor(&self, name: &str) -> Option<&[f32]> {
        self.tensors().find(|(n, ..)| *n == name).map(|(.., range)| &self.values[range])
    }

    /// `self - other`, element-wise; both must have the same layout.
    pub fn sub(&self, other: &Self) -> Result<Self> {
        self.zip_with(other, |a, b| a - b)
    }

    /// `self + other`, element-wise (applying an update); both must have the same layout.
    pub fn add(&self, other: &Self) -> Result<Self> {
        self.zip_with(other, |a, b| a + b)
    }

    fn zip_with(&self, other: &Self, op: impl Fn(f32, f32) -> f32) -> Result<Self> {
        if self.names != other.names || self.shapes != other.shapes {
            return Err(Error::Layout(format!("{:?} and {:?} differ", self.names, other.names)));
        }
        let values = self.values.iter().zip(&other.values).map(|(&a, &b)| op(a, b)).collect();
        Ok(Self { names: self.names.clone(), shapes: self.shapes.clone(), values })
    }

    /// The L2 norm of all values, accumulated in f64.
    pub fn l2_norm(&self) -> f64 {
        self.values.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt()
    }

    /// The tensors, named, on `device`.
    pub fn to_tensors(&self, device: Device) -> Result<Vec<(String, Tensor)>> {
        self.tensors()
            .map(|(name, shape, range)| {
                let tensor = Tensor::f_from_slice(&self.values[range])?.f_view(shape)?.f_to_device(device)?;
                Ok((name.to_owned(), tensor))
            })
            .collect()
    }

    /// Parameters copied out of named tensors (any device, any float kind; converted to f32).
    pub fn from_tensors<S: AsRef<str>>(tensors: &[(S, Tensor)]) -> Result<Self> {
        let names = tensors.iter().map(|(name, _)| name.as_ref().to_owned()).collect();
        let shapes: Vec<Vec<i64>> = tensors.iter().map(|(_, tensor)| tensor.size()).collect();
        let mut values = vec![0.0; shapes.iter().map(|shape| numel(shape)).sum()];
        let mut start = 0;
        for (_, tensor) in tensors {
            let n = tensor.numel();
            // copy_data reads raw memory, so it needs a contiguous f32 CPU tensor.
            let host = tensor.f_to_device(Device::Cpu)?.f_to_kind(Kind::Float)?.f_contiguous()?;
            host.f_copy_data(&mut values[start..start + n], n)?;
            start += n;
        }
        Self::new(names, shapes, values)
    }
}
