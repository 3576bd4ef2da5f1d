use std::time::{Duration, Instant};
use tch::{Kind, Reduction, Tensor};
use tessera_scoring::{Error as ScoringError, Evaluator, Metrics};
use tessera_train::{ArchitectureId, Dataset, Parameters};

/// Samples per forward pass when evaluating. On 2 CPU threads LeNet's forward pass runs about 25% faster in
/// batches of 128 than of 1,000, whose 74 MB first-layer activations do not stay in cache.
pub(crate) const EVAL_BATCH: usize = 128;

/// Evaluates flat parameter vectors on a dataset with libtorch, on the CPU.
///
/// It runs its own forward pass rather than `tessera_train::Model::forward`, for speed, and gives the same
/// logits bit for bit (a test below checks it against `tessera_train::evaluate`): libtorch's max-pooling of
/// a contiguous (NCHW) tensor on the CPU does not vectorise; on 2 threads, pooling the first convolution's
/// output for 128 images took 6.9 ms, against 0.7 ms for the same values laid out channels-last plus 1.4 ms
/// to copy them there. So each convolution's output is pooled channels-last, and ReLU runs after the pooling,
/// on a quarter of the values; both steps only pick and clamp values (`max(relu(a), relu(b)) =
/// relu(max(a, b))`), so no arithmetic changes. The second convolution still gets a contiguous input, so it
/// runs the same kernel as the model's.
pub(crate) struct TorchEvaluator {
    arch: ArchitectureId,
    data: Dataset,
    /// Evaluations so far, and the wall time they took.
    calls: usize,
    spent: Duration,
}

impl TorchEvaluator {
    pub(crate) fn new(arch: ArchitectureId, data: Dataset) -> tessera_train::Result<Self> {
        if data.is_empty() {
            return Err(tessera_train::Error::Config("cannot evaluate on an empty dataset".into()));
        }
        Ok(Self { arch, data, calls: 0, spent: Duration::ZERO })
    }

    /// How many evaluations ran so far, and their total wall time.
    pub(crate) fn usage(&self) -> (usize, Duration) {
        (self.calls, self.spent)
    }

    /// Loss and accuracy of `params` on the dataset.
    pub(crate) fn metrics(&mut self, params: &[f32]) -> tessera_train::Result<Metrics> {
        let started = Instant::now();
        let metrics = evaluate(self.arch, params, &self.data, EVAL_BATCH)?;
        self.calls += 1;
        self.spent += started.elapsed();
        Ok(metrics)
    }
}

impl Evaluator for TorchEvaluator {
    fn evaluate(&mut self, params: &[f32]) -> tessera_scoring::Result<Metrics> {
        self.metrics(params).map_err(ScoringError::evaluator)
    }
}

/// Mean cross-entropy and accuracy of `arch` with `params` on `data`, summed batch by batch in f64 as
/// `tessera_train::evaluate` sums them: LeNet's by the fast pass below, other networks by their model.
fn evaluate(arch: ArchitectureId, params: &[f32], data: &Dataset, batch: usize) -> tessera_train::Result<Metrics> {
    if arch != ArchitectureId::Lenet5MnistV1 {
        let params = Parameters::for_architecture(arch, params.to_vec())?;
        let model = tessera_train::Model::new(arch, &params, tessera_train::Device::Cpu)?;
        let evaluation = tessera_train::evaluate(&model, data, batch)?;
        return Ok(Metrics { loss: evaluation.loss, accuracy: evaluation.accuracy });
    }
    let weights: Vec<Tensor> = Parameters::for_architecture(arch, params.to_vec())?
        .to_tensors(tessera_train::Device::Cpu)?
        .into_iter()
        .map(|(_, tensor)| tensor)
        .collect();
    let n = data.len() as i64;
    let (mut loss_sum, mut correct) = (0.0, 0);
    tch::no_grad(|| -> tessera_train::Result<()> {
        for start in (0..n).step_by(batch) {
            let len = (batch as i64).min(n - start);
            let images = data.images().f_narrow(0, start, len)?;
            let labels = data.labels_tensor().f_narrow(0, start, len)?;
            let logits = forward(&weights, &images)?;
            let loss = logits.f_cross_entropy_loss(&labels, None::<Tensor>, Reduction::Sum, -100, 0.0)?;
            loss_sum += loss.f_double_value(&[])?;
            correct += logits.f_argmax(-1, false)?.f_eq_tensor(&labels)?.f_sum(Kind::Int64)?.f_int64_value(&[])?;
        }
        Ok(())
    })?;
    Ok(Metrics { loss: loss_sum / n as f64, accuracy: correct as f64 / n as f64 })
}

/// LeNet's logits: conv, pool, ReLU twice, then two linear layers, as `Model::forward` computes them.
fn forward(w: &[Tensor], images: &Tensor) -> Result<Tensor, tch::TchError> {
    let x = pool_relu(&images.f_conv2d(&w[0], Some(&w[1]), [1, 1], [0, 0], [1, 1], 1)?)?.f_contiguous()?;
    let x = pool_relu(&x.f_conv2d(&w[2], Some(&w[3]), [1, 1], [0, 0], [1, 1], 1)?)?.f_flatten(1, -1)?;
    let x = x.f_linear(&w[4], Some(&w[5]))?.f_relu()?;
    x.f_linear(&w[6], Some(&w[7]))
}

/// 2x2 max-pooling then ReLU, on a channels-last copy: the same values as `max_pool2d(relu(x))`.
fn pool_relu(x: &Tensor) -> Result<Tensor, tch::TchError> {
    let channels_last = x.f_permute([0, 2, 3, 1])?.f_contiguous()?.f_permute([0, 3, 1, 2])?;
    channels_last.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)?.f_relu()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_train::{Device, Model};

    /// The fast forward pass must not change a single bit of what the scorer sees.
    #[test]
    fn matches_tessera_train_bit_for_bit() {
        let arch = ArchitectureId::Lenet5MnistV1;
        let mut rng = tessera_train::Rng::derive(3, 1);
        let count = 300;
        let images: Vec<f32> = (0..count * 28 * 28).map(|_| rng.normal() as f32).collect();
        let labels: Vec<u8> = (0..count).map(|i| (i * 7 % 10) as u8).collect();
        let images = Tensor::from_slice(&images).view([count as i64, 1, 28, 28]);
        let data = Dataset::new(&images, &labels, 10).unwrap();
        for seed in [1, 2] {
            let params = arch.init_parameters(seed);
            let model = Model::new(arch, &params, Device::Cpu).unwrap();
            // A batch that does not divide the set, so the last batch is short.
            let expected = tessera_train::evaluate(&model, &data, EVAL_BATCH).unwrap();
            let got = evaluate(arch, params.values(), &data, EVAL_BATCH).unwrap();
            assert_eq!(got.loss.to_bits(), expected.loss.to_bits());
            assert_eq!(got.accuracy.to_bits(), expected.accuracy.to_bits());
        }
    }

    /// Times both forward passes on the sim's validation set, interleaved and keeping each one's fastest
    /// batch, so that other load on a shared machine hits them alike:
    /// `cargo test --release -p tessera-sim --lib -- --ignored --nocapture eval_speed`.
    #[test]
    #[ignore = "a timing, needs MNIST"]
    fn eval_speed() {
        let arch = ArchitectureId::Lenet5MnistV1;
        let train = Dataset::mnist(&tessera_harness::mnist_dir(), tessera_train::Split::Train).unwrap();
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
                let got = forward(&weights, &images).unwrap();
                fast = fast.min(started.elapsed());
                assert!(got.equal(&expected));
            }
        });
        println!("a batch of {EVAL_BATCH}, fastest of 50: Model::forward {slow:.2?}, this forward {fast:.2?}");
    }
}
