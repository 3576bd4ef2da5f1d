//! A round's decoded updates on disk while the round is scored: the scorer reads them a block of coordinates at a
//! time ([`tessera_scoring::Updates`]), so the coordinator's memory does not grow with the number of workers. One
//! file per round, each update's values appended as little-endian `f32`s. The file has no name (it is unlinked
//! as it is made), so it goes when the computation drops it, and a crash leaves nothing behind.

use std::{
    fs::File,
    io::{BufWriter, Write},
    os::unix::fs::FileExt,
    path::Path,
};
use tessera_scoring::Updates;

/// Decoded updates, by the order they were added.
#[derive(Debug)]
pub struct UpdateFiles {
    file: File,
    /// Where each update starts, in values, and how many it has.
    spans: Vec<(u64, usize)>,
    end: u64,
}

impl UpdateFiles {
    /// An empty set in an unnamed file on the file system of `parent`.
    pub fn new_in(parent: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(parent)?;
        Ok(Self { file: tempfile::tempfile_in(parent)?, spans: Vec::new(), end: 0 })
    }

    /// Appends an update.
    pub fn push(&mut self, values: &[f32]) -> std::io::Result<()> {
        let mut writer = BufWriter::with_capacity(1 << 20, &self.file);
        for v in values {
            writer.write_all(&v.to_le_bytes())?;
        }
        writer.flush()?;
        self.spans.push((self.end, values.len()));
        self.end += values.len() as u64;
        Ok(())
    }

    /// How many updates it holds.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

impl Updates for UpdateFiles {
    fn length(&self, index: usize) -> usize {
        self.spans[index].1
    }

    fn read(&self, index: usize, start: usize, out: &mut [f32]) -> tessera_scoring::Result<()> {
        let (offset, len) = self.spans[index];
        let failed = |reason: String| tessera_scoring::Error::Read { index, reason };
        if start + out.len() > len {
            return Err(failed(format!("coordinates {start}..{} of {len}", start + out.len())));
        }
        let mut bytes = vec![0u8; out.len() * 4];
        self.file.read_exact_at(&mut bytes, (offset + start as u64) * 4).map_err(|e| failed(e.to_string()))?;
        for (value, word) in out.iter_mut().zip(bytes.as_chunks::<4>().0) {
            *value = f32::from_le_bytes(*word);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_any_range_of_any_update() {
        let parent = tempfile::tempdir().unwrap();
        let mut files = UpdateFiles::new_in(parent.path()).unwrap();
        let a: Vec<f32> = (0..5000).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..5000).map(|i| -(i as f32)).collect();
        files.push(&a).unwrap();
        files.push(&b).unwrap();
        let mut out = [0.0f32; 3];
        files.read(1, 4997, &mut out).unwrap();
        assert_eq!(out, [-4997.0, -4998.0, -4999.0]);
        files.read(0, 10, &mut out).unwrap();
        assert_eq!(out, [5.0, 5.5, 6.0]);
        assert!(files.read(0, 4998, &mut out).is_err());
        assert_eq!((files.len(), files.length(1)), (2, 5000));
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0, "nothing to leave behind");
    }
}
