//! The metadata every checkpoint and update carries, as safetensors `__metadata__` strings.

use crate::{ArchitectureId, Error, Result};
use safetensors::Dtype;
use std::{collections::HashMap, fmt, str::FromStr};

/// The `format` metadata value; a new layout of the metadata gets a new one.
pub const FORMAT: &str = "tessera-weights-v1";
const MAX_CID_LEN: usize = 128;

/// Whether a file holds full weights or a difference from a parent checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// Full weights of a global model.
    Checkpoint,
    /// Local weights minus the parent checkpoint's.
    Update,
}

/// How values are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WireDtype {
    /// 32-bit floats, exact.
    F32,
    /// 16-bit floats: half the bytes, about three significant digits (fine for updates).
    F16,
}

/// The metadata every file carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The architecture the tensors belong to.
    pub architecture: ArchitectureId,
    /// Checkpoint or update.
    pub kind: FileKind,
    /// The training round.
    pub round: u64,
    /// The content id of the checkpoint this one derives from (empty for an initial checkpoint); ASCII
    /// letters and digits, at most 128 of them.
    pub parent_cid: String,
    /// Samples behind the weights: the shard size for an update.
    pub num_samples: u64,
    /// How values are stored.
    pub dtype: WireDtype,
}

pub(crate) fn metadata(header: &Header) -> [(&'static str, String); 7] {
    // Sorted by key, so the JSON is canonical.
    [
        ("architecture", header.architecture.name().to_owned()),
        ("dtype", header.dtype.to_string()),
        ("format", FORMAT.to_owned()),
        ("kind", header.kind.to_string()),
        ("num_samples", header.num_samples.to_string()),
        ("parent_cid", header.parent_cid.clone()),
        ("round", header.round.to_string()),
    ]
}

pub(crate) fn parse_header(metadata: Option<&HashMap<String, String>>) -> Result<Header> {
    let get = |key: &'static str| {
        metadata.and_then(|map| map.get(key)).ok_or_else(|| Error::Metadata { key, reason: "missing".into() })
    };
    let parse = |key: &'static str| -> Result<u64> {
        let value = get(key)?;
        value.parse().map_err(|_| Error::Metadata { key, reason: format!("{value:?} is not a u64") })
    };
    let format = get("format")?;
    if format != FORMAT {
        return Err(Error::Metadata { key: "format", reason: format!("{format:?} is not {FORMAT:?}") });
    }
    let parent_cid = get("parent_cid")?.clone();
    check_cid(&parent_cid)?;
    Ok(Header {
        architecture: get("architecture")?.parse()?,
        kind: get("kind")?.parse()?,
        round: parse("round")?,
        parent_cid,
        num_samples: parse("num_samples")?,
        dtype: get("dtype")?.parse()?,
    })
}

pub(crate) fn check_cid(cid: &str) -> Result<()> {
    if cid.len() > MAX_CID_LEN || !cid.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
        let reason = format!("{cid:?} is not up to {MAX_CID_LEN} ASCII letters and digits");
        return Err(Error::Metadata { key: "parent_cid", reason });
    }
    Ok(())
}

impl WireDtype {
    pub(crate) fn width(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 => 2,
        }
    }

    pub(crate) fn safetensors(self) -> Dtype {
        match self {
            Self::F32 => Dtype::F32,
            Self::F16 => Dtype::F16,
        }
    }
}

impl fmt::Display for WireDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::F32 => "F32",
            Self::F16 => "F16",
        })
    }
}

impl FromStr for WireDtype {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "F32" => Ok(Self::F32),
            "F16" => Ok(Self::F16),
            _ => Err(Error::Metadata { key: "dtype", reason: format!("{s:?} is not F32 or F16") }),
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Checkpoint => "checkpoint",
            Self::Update => "update",
        })
    }
}

impl FromStr for FileKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "checkpoint" => Ok(Self::Checkpoint),
            "update" => Ok(Self::Update),
            _ => Err(Error::Metadata { key: "kind", reason: format!("{s:?} is not checkpoint or update") }),
        }
    }
}
