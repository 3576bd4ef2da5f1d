use crate::{ArchitectureId, Dataset, Device, Error, Model, Parameters, Result};
use tch::{Kind, Reduction, Tensor};

/// Samples per forward pass of [`evaluate_parameters`]. On 2 CPU threads LeNet's forward pass runs about 25%
/// faster in batches of 128 than of 1,000, whose 74 MB first-layer activations do not stay in cache.
pub const EVAL_BATCH: usize = 128;

/// Loss and accuracy of a model on a dataset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy per sample.
    pub loss: f64,
    /// Share of samples classified correctly.
    pub accuracy: f64,
    /// Samples evaluated.
    pub samples: usize,
}

/// Evaluates `model` on all of `data`, `batch_size` samples at a time, without tracking gradients.
pub fn evaluate(model: &Model, data: &Dataset, batch_size: usize) -> Result<Evaluation> {
    let device = model.device();
    evaluate_with(data, batch_size, device, |images| model.forward(images))
}

/// Mean cross-entropy and accuracy of the logits `forward` gives for `data`, `batch_size` samples at a time on
/// `device`, summed batch by batch in f64, without tracking gradients.
fn evaluate_with(
    data: &Dataset,
    batch_size: usize,
    device: Device,
    mut forward: impl FnMut(&Tensor) -> Result<Tensor>,
) -> Result<Evaluation> {
    if data.is_empty() || batch_size == 0 {
        return Err(Error::Config(format!("cannot evaluate {} samples in batches of {batch_size}", data.len())));
    }
    let n = data.len() as i64;
    let (mut loss_sum, mut correct) = (0.0, 0);
    tch::no_grad(|| -> Result<()> {
        for start in (0..n).step_by(batch_size) {
            let len = batch_size.min((n - start) as usize) as i64;
            let images = data.images().f_narrow(0, start, len)?.f_to_device(device)?;
            let labels = data.labels_tensor().f_narrow(0, start, len)?.f_to_device(device)?;
            let logits = forward(&images)?;
            let loss = logits.f_cross_entropy_loss(&labels, None::<Tensor>, Reduction::Sum, -100, 0.0)?;
            loss_sum += loss.f_double_value(&[])?;
            correct += logits.f_argmax(-1, false)?.f_eq_tensor(&labels)?.f_sum(Kind::Int64)?.f_int64_value(&[])?;
        }
        Ok(())
    })?;
    Ok(Evaluation { loss: loss_sum / n as f64, accuracy: correct as f64 / n as f64, samples: data.len() })
}

/// Loss and accuracy of `arch` with the flat parameters `params` on all of `data`, [`EVAL_BATCH`] samples at a
/// time on the CPU, summed batch by batch in f64 as [`evaluate`] sums them: what a scorer evaluates dozens of times
/// a round. LeNet (`lenet5-mnist-v1`) takes a faster forward pass of its own with the same logits bit for bit;
/// other networks take their [`Model`]'s.
///
/// The fast pass: libtorch's max-pooling of a contiguous (NCHW) tensor on the CPU does not vectorise; on 2
/// threads, pooling the first convolution's output for 128 images took 6.9 ms, against 0.7 ms for the same values
/// laid out channels-last plus 1.4 ms to copy them there. So each convolution's output is pooled channels-last,
/// and ReLU runs after the pooling, on a quarter of the values; both steps only pick and clamp values
/// (`max(relu(a), relu(b)) = relu(max(a, b))`), so no arithmetic changes. The second convolution still gets a
/// contiguous input, so it runs the same kernel as the model's.
pub fn evaluate_parameters(arch: ArchitectureId, params: &[f32], data: &Dataset) -> Result<Evaluation> {
    let params = Parameters::for_architecture(arch, params.to_vec())?;
    if arch != ArchitectureId::Lenet5MnistV1 {
        return evaluate(&Model::new(arch, &params, Device::Cpu)?, data, EVAL_BATCH);
    }
    let weights: Vec<Tensor> = params.to_tensors(Device::Cpu)?.into_iter().map(|(_, tensor)| tensor).collect();
    evaluate_with(data, EVAL_BATCH, Device::Cpu, |images| Ok(lenet_forward(&weights, images)?))
}

/// LeNet's logits: conv, pool, ReLU twice, then two linear layers, as `Model::forward` computes them.
fn lenet_forward(w: &[Tensor], images: &Tensor) -> std::result::Result<Tensor, tch::TchError> {
    let x = pool_relu(&images.f_conv2d(&w[0], Some(&w[1]), [1, 1], [0, 0], [1, 1], 1)?)?.f_contiguous()?;
    let x = pool_relu(&x.f_conv2d(&w[2], Some(&w[3]), [1, 1], [0, 0], [1, 1], 1)?)?.f_flatten(1, -1)?;
    let x = x.f_linear(&w[4], Some(&w[5]))?.f_relu()?;
    x.f_linear(&w[6], Some(&w[7]))
}

/// 2x2 max-pooling then ReLU, on a channels-last copy: the same values as `max_pool2d(relu(x))`.
fn pool_relu(x: &Tensor) -> std::result::Result<Tensor, tch::TchError> {
    let channels_last = x.f_permute([0, 2, 3, 1])?.f_contiguous()?.f_permute([0, 3, 1, 2])?;
    channels_last.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)?.f_relu()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// The fast forward pass must not change a single bit of what a scorer sees.
    #[test]
    fn the_fast_lenet_pass_matches_the_model_bit_for_bit() {
        let arch = ArchitectureId::Lenet5MnistV1;
        let mut rng = crate::Rng::derive(3, 1);
        let count = 300;
        let images: Vec<f32> = (0..count * 28 * 28).map(|_| rng.normal() as f32).collect();
        let labels: Vec<u8> = (0..count).map(|i| (i * 7 % 10) as u8).collect();
        let images = Tensor::from_slice(&images).view([count as i64, 1, 28, 28]);
        let data = Dataset::new(&images, &labels, 10).unwrap();
        for seed in [1, 2] {
            let params = arch.init_parameters(seed);
            let model = Model::new(arch, &params, Device::Cpu).unwrap();
            // A batch that does not divide the set, so the last batch is short.
            let expected = evaluate(&model, &data, EVAL_BATCH).unwrap();
            let got = evaluate_parameters(arch, params.values(), &data).unwrap();
            assert_eq!(got.loss.to_bits(), expected.loss.to_bits());
            assert_eq!(got.accuracy.to_bits(), expected.accuracy.to_bits());
        }
    }

    /// Times both forward passes on MNIST, interleaved and keeping each one's fastest batch, so that other load on
    /// a shared machine hits them alike:
    /// `cargo test --release -p tessera-train --lib -- --ignored --nocapture fast_lenet_speed`.
    #[test]
    #[ignore = "a timing, needs MNIST"]
    fn fast_lenet_speed() {
        let arch = ArchitectureId::Lenet5MnistV1;
        let train = Dataset::mnist(&tessera_harness::mnist_dir(), crate::Split::Train).unwrap();
        let images = train.images().narrow(0, 0, EVAL_BATCH as i64);
        tch::set_num_threads(2);
        let params = arch.init_parameters(1);
        let model = Model::new(arch, &params, Device::Cpu).unwrap();
        let weights: Vec<Tensor> = params.to_tensors(Device::Cpu).unwrap().into_iter().map(|(_, t)| t).collect();
        let (mut slow, mut fast) = (Duration::MAX, Duration::MAX);
        tch::no_grad(|| {
            for _ in 0..50 {
                let started = Instant::now();
                let expected = model.forward(&images).unwrap();
                slow = slow.min(started.elapsed());
                let started = Instant::now();
                let got = lenet_forward(&weights, &images).unwrap();
                fast = fast.min(started.elapsed());
                assert!(got.equal(&expected));
            }
        });
        println!("a batch of {EVAL_BATCH}, fastest of 50: Model::forward {slow:.2?}, the fast pass {fast:.2?}");
    }
}
