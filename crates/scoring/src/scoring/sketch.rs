//! Count sketches of updates: a fixed public random projection to [`SKETCH_DIM`] buckets that keeps inner
//! products (and so cosines and projections) to within about `1 / sqrt(SKETCH_DIM)`, small enough to keep
//! many rounds of every worker's updates in the scorer's state and in each manifest.

use crate::vector;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

/// Buckets per sketch.
pub const SKETCH_DIM: usize = 1024;

/// A count sketch: coordinate `j` of an update adds `sign(j) * v_j` to bucket `bucket(j)`, both from a fixed
/// hash of `j`, so anyone computes the same sketch. Stored as signed bytes times a scale (8-bit quantisation
/// moves a cosine by well under 1%).
#[derive(Clone, Debug, PartialEq)]
pub struct Sketch {
    scale: f32,
    values: Vec<i8>,
}

/// SplitMix64: a public, well-mixed hash of a coordinate index.
fn mix(index: u64) -> u64 {
    let mut z = index.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Sketch {
    /// The sketch of `delta`.
    pub fn of(delta: &[f32]) -> Self {
        let mut sum = SketchSum::default();
        sum.add(&SketchLayout::of(0..delta.len()), delta);
        sum.finish()
    }

    fn quantise(buckets: &[f64]) -> Self {
        let max = buckets.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if max == 0.0 {
            return Self { scale: 0.0, values: vec![0; SKETCH_DIM] };
        }
        let scale = (max / 127.0) as f32;
        let values = buckets.iter().map(|v| (v / f64::from(scale)).round().clamp(-127.0, 127.0) as i8).collect();
        Self { scale, values }
    }

    /// The sketch as floats, for projections.
    pub fn to_vec(&self) -> Vec<f64> {
        self.values.iter().map(|&q| f64::from(q) * f64::from(self.scale)).collect()
    }

    /// The cosine between two sketches: an estimate of the cosine between the updates.
    pub fn cosine(&self, other: &Self) -> f64 {
        flat_cosine(&self.to_vec(), &other.to_vec())
    }
}

/// Where each coordinate of a block goes in a sketch: its bucket, with its sign in the top bit. Hashed once per
/// block and shared by every update's sketch.
pub(crate) struct SketchLayout {
    slots: Vec<u32>,
}

impl SketchLayout {
    /// The layout of coordinates `range`.
    pub(crate) fn of(range: std::ops::Range<usize>) -> Self {
        let slots = range
            .map(|j| {
                let h = mix(j as u64);
                (h % SKETCH_DIM as u64) as u32 | (((h >> 63) as u32) << 31)
            })
            .collect();
        Self { slots }
    }
}

/// A sketch being summed block by block: each bucket adds its coordinates in coordinate order, so blocks taken in
/// order give the bits of [`Sketch::of`] over the whole update.
#[derive(Clone, Debug)]
pub(crate) struct SketchSum {
    buckets: Vec<f64>,
}

impl Default for SketchSum {
    fn default() -> Self {
        Self { buckets: vec![0.0; SKETCH_DIM] }
    }
}

impl SketchSum {
    /// Adds the next block of an update's coordinates, laid out by `layout`.
    pub(crate) fn add(&mut self, layout: &SketchLayout, values: &[f32]) {
        for (&slot, &v) in layout.slots.iter().zip(values) {
            let bucket = &mut self.buckets[(slot & 0x7fff_ffff) as usize];
            if slot >> 31 == 0 {
                *bucket += f64::from(v);
            } else {
                *bucket -= f64::from(v);
            }
        }
    }

    /// The sketch.
    pub(crate) fn finish(&self) -> Sketch {
        Sketch::quantise(&self.buckets)
    }
}

/// The cosine of two sketches as floats ([`Sketch::to_vec`]).
pub(crate) fn flat_cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot = vector::dot_f64(a, b);
    let norms = (vector::dot_f64(a, a) * vector::dot_f64(b, b)).sqrt();
    if norms > 0.0 { (dot / norms).clamp(-1.0, 1.0) } else { 0.0 }
}

impl Serialize for Sketch {
    /// `"<scale>:<hex of the signed bytes>"`: a compact string for manifests.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = self.values.iter().map(|&q| q as u8).collect();
        serializer.collect_str(&format_args!("{}:{}", self.scale, hex::encode(bytes)))
    }
}

impl<'de> Deserialize<'de> for Sketch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let (scale, values) = text.split_once(':').ok_or_else(|| D::Error::custom("a sketch is scale:hex"))?;
        let scale: f32 = scale.parse().map_err(D::Error::custom)?;
        let bytes = hex::decode(values).map_err(D::Error::custom)?;
        if bytes.len() != SKETCH_DIM || !scale.is_finite() || scale < 0.0 {
            return Err(D::Error::custom(format!("a sketch has {SKETCH_DIM} bytes and a finite scale")));
        }
        Ok(Self { scale, values: bytes.into_iter().map(|b| b as i8).collect() })
    }
}

/// An orthonormal basis, grown one vector at a time (modified Gram-Schmidt in a fixed order, so the same
/// vectors give the same bits), to measure how much of a vector lies outside the span of earlier ones.
#[derive(Clone, Debug, Default)]
pub(crate) struct Span {
    basis: Vec<Vec<f64>>,
}

impl Span {
    /// How many vectors span it.
    pub(crate) fn len(&self) -> usize {
        self.basis.len()
    }

    /// `|v - P v| / |v|`, the part of `v` outside the span (1 for an empty span or a zero `v`).
    pub(crate) fn residual_fraction(&self, v: &[f64]) -> f64 {
        let norm = vector::dot_f64(v, v).sqrt();
        if norm == 0.0 {
            return 1.0;
        }
        let residual = self.residual(v);
        (vector::dot_f64(&residual, &residual).sqrt() / norm).min(1.0)
    }

    fn residual(&self, v: &[f64]) -> Vec<f64> {
        let mut r = v.to_vec();
        for q in &self.basis {
            let c = vector::dot_f64(&r, q);
            r.iter_mut().zip(q).for_each(|(x, y)| *x -= c * y);
        }
        r
    }

    /// Adds `v` to the span (a no-op when it already lies in it, up to rounding).
    pub(crate) fn push(&mut self, v: &[f64]) {
        let norm = vector::dot_f64(v, v).sqrt();
        let r = self.residual(v);
        let rest = vector::dot_f64(&r, &r).sqrt();
        if norm > 0.0 && rest > 1e-9 * norm {
            self.basis.push(r.into_iter().map(|x| x / rest).collect());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(seed: u64, len: usize) -> Vec<f32> {
        (0..len).map(|j| ((mix(seed * 1_000_003 + j as u64) >> 11) as f64 / (1u64 << 53) as f64 - 0.5) as f32).collect()
    }

    #[test]
    fn keeps_cosines_and_ignores_scale() {
        let a = pseudo_random(1, 20_000);
        let b = pseudo_random(2, 20_000);
        let mixed: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        let scaled: Vec<f32> = a.iter().map(|x| -7.5 * x).collect();
        let (sa, sb) = (Sketch::of(&a), Sketch::of(&b));
        assert!((sa.cosine(&Sketch::of(&scaled)) + 1.0).abs() < 1e-3);
        assert!(sa.cosine(&sb).abs() < 0.1, "independent vectors are nearly orthogonal");
        let expected = vector::cosine(&a, &mixed);
        assert!((sa.cosine(&Sketch::of(&mixed)) - expected).abs() < 0.1);
    }

    #[test]
    fn span_finds_mixtures() {
        let a = pseudo_random(1, 20_000);
        let b = pseudo_random(2, 20_000);
        let c = pseudo_random(3, 20_000);
        let mix: Vec<f32> = a.iter().zip(&b).map(|(x, y)| 0.3 * x - 2.0 * y).collect();
        let mut span = Span::default();
        span.push(&Sketch::of(&a).to_vec());
        span.push(&Sketch::of(&b).to_vec());
        assert!(span.residual_fraction(&Sketch::of(&mix).to_vec()) < 0.02);
        assert!(span.residual_fraction(&Sketch::of(&c).to_vec()) > 0.9);
        assert_eq!(Span::default().residual_fraction(&Sketch::of(&c).to_vec()), 1.0);
    }

    #[test]
    fn round_trips_through_text() {
        let s = Sketch::of(&pseudo_random(4, 5000));
        let back: Sketch = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(Sketch::of(&[0.0; 10]).cosine(&s), 0.0);
        assert!(serde_json::from_str::<Sketch>("\"1:00\"").is_err());
    }
}
