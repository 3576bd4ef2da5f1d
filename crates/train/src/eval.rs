use crate::{Dataset, Error, Model, Result};
use tch::{Kind, Reduction, Tensor};

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
    if data.is_empty() || batch_size == 0 {
        return Err(Error::Config(format!("cannot evaluate {} samples in batches of {batch_size}", data.len())));
    }
    let device = model.device();
    let n = data.len() as i64;
    let (mut loss_sum, mut correct) = (0.0, 0);
    tch::no_grad(|| -> Result<()> {
        for start in (0..n).step_by(batch_size) {
            let len = batch_size.min((n - start) as usize) as i64;
            let images = data.images().f_narrow(0, start, len)?.f_to_device(device)?;
            let labels = data.labels_tensor().f_narrow(0, start, len)?.f_to_device(device)?;
            let logits = model.forward(&images)?;
            let loss = logits.f_cross_entropy_loss(&labels, None::<Tensor>, Reduction::Sum, -100, 0.0)?;
            loss_sum += loss.f_double_value(&[])?;
            correct += logits.f_argmax(-1, false)?.f_eq_tensor(&labels)?.f_sum(Kind::Int64)?.f_int64_value(&[])?;
        }
        Ok(())
    })?;
    Ok(Evaluation { loss: loss_sum / n as f64, accuracy: correct as f64 / n as f64, samples: data.len() })
}
