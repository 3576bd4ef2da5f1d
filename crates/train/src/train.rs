use crate::{ArchitectureId, Dataset, Error, Model, Parameters, Result, rng::Rng};
use std::time::{Duration, Instant};
use tch::{Device, Kind, Reduction, Tensor, nn, nn::OptimizerConfig as _};

/// The optimiser and its hyper-parameters; the meanings are PyTorch's (`torch.optim.SGD`, `torch.optim.Adam`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// Stochastic gradient descent.
    Sgd {
        /// Learning rate.
        lr: f64,
        /// Momentum factor (0 for none).
        momentum: f64,
        /// L2 penalty.
        weight_decay: f64,
        /// Nesterov momentum.
        nesterov: bool,
    },
    /// Adam (L2 weight decay added to the gradient, as `torch.optim.Adam` does).
    Adam {
        /// Learning rate.
        lr: f64,
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Added to the denominator.
        eps: f64,
        /// L2 penalty.
        weight_decay: f64,
    },
}

impl Optimizer {
    /// Plain SGD at `lr`, no momentum or decay.
    pub fn sgd(lr: f64) -> Self {
        Self::Sgd { lr, momentum: 0.0, weight_decay: 0.0, nesterov: false }
    }

    /// Adam at `lr` with PyTorch's defaults otherwise.
    pub fn adam(lr: f64) -> Self {
        Self::Adam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }

    fn build(self, vs: &nn::VarStore) -> Result<nn::Optimizer> {
        Ok(match self {
            Self::Sgd { lr, momentum, weight_decay, nesterov } => {
                nn::Sgd { momentum, dampening: 0.0, wd: weight_decay, nesterov }.build(vs, lr)?
            }
            Self::Adam { lr, beta1, beta2, eps, weight_decay } => {
                nn::Adam { beta1, beta2, wd: weight_decay, eps, amsgrad: false }.build(vs, lr)?
            }
        })
    }
}

/// How to train locally.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainConfig {
    /// Passes over the shard.
    pub epochs: usize,
    /// Samples per step; the last batch of an epoch may be smaller.
    pub batch_size: usize,
    /// The optimiser; its state starts fresh for each call of [`train_local`].
    pub optimizer: Optimizer,
    /// Seeds the order of samples in each epoch.
    pub seed: u64,
    /// Where to train.
    pub device: Device,
    /// libtorch's intra-op thread count (process-wide); `None` leaves it as it is.
    pub threads: Option<usize>,
    /// Runs the forward pass and the loss under CUDA autocast: convolutions and matrix products in float16,
    /// reductions and the weights in float32. It takes effect on a CUDA device only; on the CPU training stays in
    /// float32. There is no loss scaling, so it suits networks whose gradients stay within float16's range.
    pub mixed_precision: bool,
}

impl Default for TrainConfig {
    /// One epoch of Adam 1e-3, batch 64, seed 0, on CUDA if there is a GPU, libtorch's threads left alone.
    fn default() -> Self {
        Self {
            epochs: 1,
            batch_size: 64,
            optimizer: Optimizer::adam(1e-3),
            seed: 0,
            device: crate::cuda_if_available(),
            threads: None,
            mixed_precision: false,
        }
    }
}

/// Where training is, reported after every step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// The current epoch, from 1.
    pub epoch: usize,
    /// Epochs in all.
    pub epochs: usize,
    /// Steps done so far, over all epochs, from 1.
    pub step: usize,
    /// Steps in all.
    pub total_steps: usize,
    /// This step's mean batch loss.
    pub loss: f64,
}

/// The running loss and accuracy over one epoch's batches, as they were trained on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochMetrics {
    /// Mean cross-entropy over the epoch's samples.
    pub loss: f64,
    /// Share of samples classified correctly in the forward pass that trained on them.
    pub accuracy: f64,
    /// Samples seen.
    pub samples: usize,
    /// Optimiser steps taken.
    pub steps: usize,
}

/// What a round of local training reports alongside its update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainMetrics {
    /// Mean training loss over the last epoch.
    pub loss: f64,
    /// Training accuracy over the last epoch.
    pub accuracy: f64,
    /// Samples in the shard: the weight of this update in federated averaging.
    pub samples: u64,
    /// Optimiser steps over all epochs.
    pub steps: u64,
    /// Wall time of the training loop.
    pub wall_time: Duration,
}

/// A finished round of local training.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalUpdate {
    /// Local weights minus the global weights, in the architecture's order.
    pub delta: Parameters,
    /// How the training went.
    pub metrics: TrainMetrics,
}

/// A model and its optimiser, trained epoch by epoch; [`train_local`] is the usual way in.
#[derive(Debug)]
pub struct Trainer {
    model: Model,
    optimizer: nn::Optimizer,
    config: TrainConfig,
    epochs_done: usize,
    steps_done: usize,
}

impl Trainer {
    /// A trainer starting from `start`, with fresh optimiser state.
    pub fn new(arch: ArchitectureId, start: &Parameters, config: TrainConfig) -> Result<Self> {
        if config.epochs == 0 || config.batch_size == 0 {
            return Err(Error::Config(format!(
                "epochs {} and batch size {} must be positive",
                config.epochs, config.batch_size
            )));
        }
        if let Some(threads) = config.threads {
            let threads = i32::try_from(threads).ok().filter(|&t| t > 0);
            tch::set_num_threads(threads.ok_or_else(|| Error::Config("threads must be in 1..=i32::MAX".into()))?);
        }
        crate::heap::retain_freed_memory();
        let model = Model::new(arch, start, config.device)?;
        let optimizer = config.optimizer.build(model.var_store())?;
        Ok(Self { model, optimizer, config, epochs_done: 0, steps_done: 0 })
    }

    /// The model as trained so far.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Changes the learning rate from the next step on, keeping the optimiser's state (for schedules).
    pub fn set_learning_rate(&mut self, lr: f64) {
        self.optimizer.set_lr(lr);
    }

    /// One pass over `data` in an order drawn from the seed and the epoch number.
    pub fn train_epoch(&mut self, data: &Dataset, mut progress: impl FnMut(Progress)) -> Result<EpochMetrics> {
        let n = data.len();
        if n == 0 {
            return Err(Error::Config("the shard is empty".into()));
        }
        let batch = self.config.batch_size;
        let steps_per_epoch = n.div_ceil(batch);
        let mut order: Vec<i64> = (0..n as i64).collect();
        Rng::derive(self.config.seed, self.epochs_done as u64).shuffle(&mut order);
        let device = self.config.device;
        let (mut loss_sum, mut correct) = (0.0, Tensor::f_zeros([], (Kind::Int64, device))?);
        for chunk in order.chunks(batch) {
            let index = Tensor::f_from_slice(chunk)?;
            let images = data.images().f_index_select(0, &index)?.f_to_device(device)?;
            let labels = data.labels_tensor().f_index_select(0, &index)?.f_to_device(device)?;
            let forward = || -> Result<(Tensor, Tensor)> {
                let logits = self.model.forward(&images)?;
                let loss = logits.f_cross_entropy_loss(&labels, None::<Tensor>, Reduction::Mean, -100, 0.0)?;
                Ok((logits, loss))
            };
            let (logits, loss) = if self.config.mixed_precision && device.is_cuda() {
                tch::autocast(true, forward)?
            } else {
                forward()?
            };
            self.optimizer.zero_grad();
            loss.f_backward()?;
            self.optimizer.step();
            // Correct counts stay on the device; only the loss crosses over, for progress.
            let hits = tch::no_grad(|| logits.f_argmax(-1, false)?.f_eq_tensor(&labels)?.f_sum(Kind::Int64))?;
            correct = correct.f_add(&hits)?;
            let loss = loss.f_double_value(&[])?;
            loss_sum += loss * chunk.len() as f64;
            self.steps_done += 1;
            progress(Progress {
                epoch: self.epochs_done + 1,
                epochs: self.config.epochs.max(self.epochs_done + 1),
                step: self.steps_done,
                total_steps: steps_per_epoch * self.config.epochs.max(self.epochs_done + 1),
                loss,
            });
        }
        self.epochs_done += 1;
        let correct = correct.f_int64_value(&[])?;
        Ok(EpochMetrics {
            loss: loss_sum / n as f64,
            accuracy: correct as f64 / n as f64,
            samples: n,
            steps: steps_per_epoch,
        })
    }
}

/// Trains `config.epochs` epochs on `shard` starting from `global`, and returns local − global.
///
/// On the CPU with the same seed, data, thread count and libtorch build, the delta is bit-identical from run
/// to run (see the crate docs for what is not).
pub fn train_local(
    arch: ArchitectureId,
    global: &Parameters,
    shard: &Dataset,
    config: &TrainConfig,
    mut progress: impl FnMut(Progress),
) -> Result<LocalUpdate> {
    let started = Instant::now();
    let mut trainer = Trainer::new(arch, global, *config)?;
    let mut last = None;
    for _ in 0..config.epochs {
        last = Some(trainer.train_epoch(shard, &mut progress)?);
    }
    let last = last.expect("epochs is checked to be positive");
    let delta = trainer.model().parameters()?.sub(global)?;
    let metrics = TrainMetrics {
        loss: last.loss,
        accuracy: last.accuracy,
        samples: shard.len() as u64,
        steps: trainer.steps_done as u64,
        wall_time: started.elapsed(),
    };
    Ok(LocalUpdate { delta, metrics })
}
