//! The IDX format of MNIST and Fashion-MNIST, parsed with every length checked before it is trusted.

use crate::{Error, Result};

/// The most dimensions accepted; MNIST uses 1 (labels) and 3 (images).
const MAX_DIMS: u8 = 4;
/// The type code for unsigned bytes, the only element type MNIST-style files use.
const UNSIGNED_BYTE: u8 = 0x08;

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Parses an IDX file of unsigned bytes. `file` names the source in errors.
pub fn parse_idx(bytes: &[u8], file: &str) -> Result<IdxArray> {
    let header = |reason: String| Error::IdxHeader { file: file.to_owned(), reason };
    let [zero0, zero1, kind, ndims] = *bytes.first_chunk::<4>().ok_or_else(|| header("shorter than 4 bytes".into()))?;
    if zero0 != 0 || zero1 != 0 {
        return Err(header(format!("magic starts {zero0:#04x} {zero1:#04x}, not 0x00 0x00")));
    }
    if kind != UNSIGNED_BYTE {
        return Err(header(format!("element type {kind:#04x}, only 0x08 (unsigned byte) is supported")));
    }
    if ndims == 0 || ndims > MAX_DIMS {
        return Err(header(format!("{ndims} dimensions, expected 1 to {MAX_DIMS}")));
    }
    let data_start = 4 + 4 * usize::from(ndims);
    let dim_bytes = bytes.get(4..data_start).ok_or_else(|| header(format!("shorter than its {ndims} dimensions")))?;
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|chunk| u32::from_be_bytes(chunk.try_into().expect("chunks of four")) as usize)
        .collect();
    // In u64 with checked arithmetic, so a hostile header cannot overflow the size check on any platform.
    let count = dims.iter().try_fold(1u64, |acc, &dim| acc.checked_mul(dim as u64));
    let expected = count.and_then(|count| count.checked_add(data_start as u64)).unwrap_or(u64::MAX);
    if expected != bytes.len() as u64 {
        return Err(Error::IdxLength { file: file.to_owned(), expected, actual: bytes.len() as u64 });
    }
    Ok(IdxArray { dims, data: bytes[data_start..].to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0, 0, UNSIGNED_BYTE, dims.len() as u8];
        dims.iter().for_each(|dim| bytes.extend(dim.to_be_bytes()));
        bytes.extend(data);
        bytes
    }

    #[test]
    fn parses_a_small_array() {
        let array = parse_idx(&idx(&[2, 3], &[1, 2, 3, 4, 5, 6]), "t").unwrap();
        assert_eq!(array.dims, [2, 3]);
        assert_eq!(array.data, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn rejects_truncated_and_padded_files() {
        let good = idx(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        for len in 0..good.len() {
            assert!(parse_idx(&good[..len], "t").is_err(), "{len} bytes");
        }
        let mut padded = good;
        padded.push(0);
        assert!(matches!(parse_idx(&padded, "t"), Err(Error::IdxLength { expected: 18, actual: 19, .. })));
    }

    #[test]
    fn rejects_bad_headers_and_huge_dimensions() {
        let mut bad_magic = idx(&[1], &[0]);
        bad_magic[0] = 1;
        assert!(matches!(parse_idx(&bad_magic, "t"), Err(Error::IdxHeader { .. })));
        let mut floats = idx(&[1], &[0]);
        floats[2] = 0x0D;
        assert!(matches!(parse_idx(&floats, "t"), Err(Error::IdxHeader { .. })));
        assert!(matches!(parse_idx(&idx(&[], &[]), "t"), Err(Error::IdxHeader { .. })));
        let huge = idx(&[u32::MAX, u32::MAX, u32::MAX, u32::MAX], &[]);
        assert!(matches!(parse_idx(&huge, "t"), Err(Error::IdxLength { expected: u64::MAX, .. })));
    }
}
