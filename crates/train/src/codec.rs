//! The checkpoint and update format: safetensors with Tessera metadata.
//!
//! Encoding is canonical: metadata keys sorted, tensors in the architecture's order, no randomness, so equal
//! weights give equal bytes and so equal content ids. Decoding trusts nothing: sizes are bounded before
//! parsing, and every tensor's name, shape, dtype and value is checked against the architecture.

use crate::{
    ArchitectureId, Error, FileKind, Header, Parameters, Result, WireDtype,
    header::{check_cid, metadata, parse_header},
};
use half::f16;
use safetensors::SafeTensors;
use std::path::Path;

/// The largest JSON header accepted. Ours are about 1 KiB; this bounds the parser's work on hostile input.
pub const MAX_HEADER_BYTES: u64 = 64 * 1024;

/// What a decoder accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecodeLimits {
    /// The largest input accepted, checked before anything is parsed.
    pub max_bytes: usize,
    /// The largest L2 norm of all values accepted, if any (a bound on an update's size).
    pub max_norm: Option<f64>,
    /// The only architecture accepted, if set.
    pub architecture: Option<ArchitectureId>,
    /// The only kind accepted, if set.
    pub kind: Option<FileKind>,
}

impl Default for DecodeLimits {
    /// 64 MiB, any architecture or kind, no norm bound.
    fn default() -> Self {
        Self { max_bytes: 64 << 20, max_norm: None, architecture: None, kind: None }
    }
}

impl DecodeLimits {
    /// Accepts only `kind` files of `arch`, at most the size an f32 file of it can have.
    pub fn expecting(arch: ArchitectureId, kind: FileKind) -> Self {
        let max_bytes = 8 + MAX_HEADER_BYTES as usize + 4 * arch.num_parameters();
        Self { max_bytes, max_norm: None, architecture: Some(arch), kind: Some(kind) }
    }
}

/// Weights with their metadata: what travels between workers, the coordinator and storage.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightsFile {
    /// The metadata.
    pub header: Header,
    /// The values, always f32 in memory, in the architecture's order.
    pub parameters: Parameters,
}

impl WeightsFile {
    /// The safetensors bytes: deterministic, and refused for values that [`Self::decode`] would refuse.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let Self { header, parameters } = self;
        parameters.check_layout(header.architecture)?;
        check_cid(&header.parent_cid)?;
        let mut json = String::from("{\"__metadata__\":{");
        for (i, (key, value)) in metadata(header).iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            // Every value is letters, digits and hyphens (the CID is checked above), so nothing needs escaping.
            json += &format!("{sep}\"{key}\":\"{value}\"");
        }
        json.push('}');
        let width = header.dtype.width();
        let mut offset = 0;
        for (name, shape, range) in parameters.tensors() {
            let end = offset + range.len() * width;
            let shape: Vec<String> = shape.iter().map(i64::to_string).collect();
            json += &format!(
                ",\"{name}\":{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
                header.dtype,
                shape.join(",")
            );
            offset = end;
        }
        json.push('}');
        // Pad with spaces to a multiple of 8 so the data is aligned, as the reference writer does.
        json.extend(std::iter::repeat_n(' ', (8 - json.len() % 8) % 8));
        let mut bytes = Vec::with_capacity(8 + json.len() + offset);
        bytes.extend((json.len() as u64).to_le_bytes());
        bytes.extend(json.as_bytes());
        for (name, _, range) in parameters.tensors() {
            for (index, &value) in parameters.values()[range].iter().enumerate() {
                if !value.is_finite() {
                    return Err(Error::NonFinite { name: name.into(), index });
                }
                match header.dtype {
                    WireDtype::F32 => bytes.extend(value.to_le_bytes()),
                    WireDtype::F16 => {
                        let half = f16::from_f32(value);
                        if half.is_infinite() {
                            return Err(Error::Fp16Overflow { name: name.into(), index, value });
                        }
                        bytes.extend(half.to_le_bytes());
                    }
                }
            }
        }
        Ok(bytes)
    }

    /// Parses and checks bytes from an untrusted source. Never panics, whatever the input.
    pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Self> {
        if bytes.len() > limits.max_bytes {
            return Err(Error::TooLarge { size: bytes.len(), limit: limits.max_bytes });
        }
        if let Some(prefix) = bytes.first_chunk::<8>() {
            let declared = u64::from_le_bytes(*prefix);
            if declared > MAX_HEADER_BYTES {
                return Err(Error::HeaderTooLarge { declared, limit: MAX_HEADER_BYTES });
            }
        }
        let (header_len, raw) = SafeTensors::read_metadata(bytes)?;
        let header = parse_header(raw.metadata().as_ref())?;
        if let Some(expected) = limits.architecture.filter(|&arch| arch != header.architecture) {
            return Err(Error::WrongArchitecture { expected, found: header.architecture });
        }
        if let Some(expected) = limits.kind.filter(|&kind| kind != header.kind) {
            return Err(Error::WrongKind { expected, found: header.kind });
        }
        let specs = header.architecture.parameter_specs();
        let infos = raw.tensors();
        if let Some(extra) = infos.keys().find(|name| specs.iter().all(|spec| spec.name != name.as_str())) {
            return Err(Error::UnexpectedTensor(extra.clone()));
        }
        // read_metadata has checked that the offsets tile the data exactly; `get` keeps a panic impossible anyway.
        let data = bytes.get(8 + header_len..).unwrap_or_default();
        let mut values = Vec::with_capacity(header.architecture.num_parameters());
        for spec in specs {
            let info = infos.get(spec.name).ok_or_else(|| Error::MissingTensor(spec.name.into()))?;
            if info.dtype != header.dtype.safetensors() {
                let (expected, found) = (header.dtype.to_string(), format!("{:?}", info.dtype));
                return Err(Error::TensorDtype { name: spec.name.into(), expected, found });
            }
            if !info.shape.iter().map(|&dim| dim as u64).eq(spec.shape.iter().map(|&dim| dim as u64)) {
                let (expected, found) = (spec.shape.to_vec(), info.shape.clone());
                return Err(Error::TensorShape { name: spec.name.into(), expected, found });
            }
            let (from, to) = info.data_offsets;
            let raw_values = data.get(from..to).ok_or_else(|| Error::MissingTensor(spec.name.into()))?;
            let start = values.len();
            match header.dtype {
                WireDtype::F32 => {
                    values.extend(raw_values.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                }
                WireDtype::F16 => {
                    values.extend(raw_values.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()))
                }
            }
            if let Some(index) = values[start..].iter().position(|value| !value.is_finite()) {
                return Err(Error::NonFinite { name: spec.name.into(), index });
            }
        }
        let parameters = Parameters::for_architecture(header.architecture, values)?;
        if let Some(limit) = limits.max_norm {
            let norm = parameters.l2_norm();
            if norm > limit {
                return Err(Error::NormTooLarge { norm, limit });
            }
        }
        Ok(Self { header, parameters })
    }

    /// Writes [`Self::encode`]'s bytes to a file.
    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.encode()?).map_err(|source| Error::Io { path: path.into(), source })
    }

    /// Reads and decodes a file, refusing one over `limits.max_bytes` before reading it.
    pub fn read(path: &Path, limits: &DecodeLimits) -> Result<Self> {
        let io = |source| Error::Io { path: path.into(), source };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > limits.max_bytes as u64 {
            return Err(Error::TooLarge { size: usize::try_from(size).unwrap_or(usize::MAX), limit: limits.max_bytes });
        }
        Self::decode(&std::fs::read(path).map_err(io)?, limits)
    }
}
