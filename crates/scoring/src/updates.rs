//! Where a round's updates live while it is scored. The scorer never holds a round's updates at once: it reads
//! them a block of coordinates at a time ([`ColumnBlocks`]), every update's block together, and one whole update
//! at a time where a step needs one (a validation pass). A coordinator keeps them on disk; tests and simulations
//! keep them in memory.
//!
//! Every reduction the scorer makes over coordinates carries its partial sums from one block to the next in the
//! same order as over the whole vector, so the block size never shows in a result.

use crate::{Error, Result, vector::BLOCK};
use std::ops::Range;

/// A round's updates, by their index in [`crate::RoundInput::submissions`].
pub trait Updates: Sync {
    /// How many parameters update `index` has.
    fn length(&self, index: usize) -> usize;

    /// Reads coordinates `start..start + out.len()` of update `index` into `out`.
    fn read(&self, index: usize, start: usize, out: &mut [f32]) -> Result<()>;
}

impl<T: AsRef<[f32]> + Sync> Updates for [T] {
    fn length(&self, index: usize) -> usize {
        self[index].as_ref().len()
    }

    fn read(&self, index: usize, start: usize, out: &mut [f32]) -> Result<()> {
        let values = self[index].as_ref();
        let source = values.get(start..start + out.len()).ok_or_else(|| Error::Read {
            index,
            reason: format!("coordinates {start}..{} of {}", start + out.len(), values.len()),
        })?;
        out.copy_from_slice(source);
        Ok(())
    }
}

impl<T: AsRef<[f32]> + Sync> Updates for Vec<T> {
    fn length(&self, index: usize) -> usize {
        self.as_slice().length(index)
    }

    fn read(&self, index: usize, start: usize, out: &mut [f32]) -> Result<()> {
        self.as_slice().read(index, start, out)
    }
}

/// How many bytes of updates one block of coordinates holds at most by default (the block is never narrower
/// than [`BLOCK`] coordinates, so a round of more than `BLOCK_BYTES / (4 * BLOCK)` updates holds more).
pub const BLOCK_BYTES: usize = 64 << 20;

/// One block of coordinates of some updates: row `r` is update `rows[r]`'s coordinates `range`.
pub(crate) struct ColumnBlock {
    pub(crate) range: Range<usize>,
    width: usize,
    values: Vec<f32>,
}

impl ColumnBlock {
    /// Row `r` of the block.
    pub(crate) fn row(&self, r: usize) -> &[f32] {
        &self.values[r * self.width..][..self.range.len()]
    }
}

/// Reads `indices`' updates of `dimension` coordinates a block at a time: blocks are whole multiples of [`BLOCK`]
/// coordinates (so blocked sums keep their order) and hold at most [`BLOCK_BYTES`] of values, one buffer reused.
pub(crate) struct ColumnBlocks<'u> {
    updates: &'u dyn Updates,
    indices: Vec<usize>,
    dimension: usize,
    width: usize,
}

impl<'u> ColumnBlocks<'u> {
    pub(crate) fn new(updates: &'u dyn Updates, indices: Vec<usize>, dimension: usize, block_bytes: usize) -> Self {
        let per_block = block_bytes / (4 * indices.len().max(1));
        let width = (per_block / BLOCK).max(1) * BLOCK;
        Self { updates, indices, dimension, width: width.min(dimension.next_multiple_of(BLOCK)).max(BLOCK) }
    }

    /// Calls `visit` with each block in coordinate order.
    pub(crate) fn for_each(&self, mut visit: impl FnMut(&ColumnBlock) -> Result<()>) -> Result<()> {
        let mut block =
            ColumnBlock { range: 0..0, width: self.width, values: vec![0.0; self.width * self.indices.len()] };
        for start in (0..self.dimension).step_by(self.width) {
            let end = (start + self.width).min(self.dimension);
            block.range = start..end;
            for (r, &index) in self.indices.iter().enumerate() {
                self.updates.read(index, start, &mut block.values[r * self.width..][..end - start])?;
            }
            visit(&block)?;
        }
        Ok(())
    }
}

/// Update `index` whole.
pub(crate) fn read_whole(updates: &dyn Updates, index: usize) -> Result<Vec<f32>> {
    let mut values = vec![0.0; updates.length(index)];
    updates.read(index, 0, &mut values)?;
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_every_coordinate_once_in_order() {
        let updates: Vec<Vec<f32>> = (0..3).map(|k| (0..BLOCK * 2 + 7).map(|i| (i * 3 + k) as f32).collect()).collect();
        let blocks = ColumnBlocks::new(&updates, vec![2, 0], BLOCK * 2 + 7, 4 * BLOCK * 2);
        let mut seen = vec![Vec::new(); 2];
        blocks
            .for_each(|block| {
                assert_eq!(block.range.start % BLOCK, 0);
                for (r, seen) in seen.iter_mut().enumerate() {
                    seen.extend_from_slice(block.row(r));
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, vec![updates[2].clone(), updates[0].clone()]);
        assert!(matches!(updates.as_slice().read(0, BLOCK * 2, &mut [0.0; 8]), Err(Error::Read { index: 0, .. })));
    }
}
