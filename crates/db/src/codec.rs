//! Conversions between Rust values and the portable column types (BIGINT, TEXT, DOUBLE PRECISION).

use std::{
    str::FromStr,
    time::{SystemTime, UNIX_EPOCH},
};

use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, Result};

/// An unsigned integer as BIGINT.
pub(crate) fn int(value: u64, what: &str) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::invalid(format!("{what}: {value} exceeds the BIGINT range")))
}

/// A BIGINT back into an unsigned integer.
pub(crate) fn uint<T: TryFrom<i64>>(value: i64, what: &str) -> Result<T> {
    T::try_from(value).map_err(|_| Error::decode(format!("{what}: {value} is out of range")))
}

/// An optional BIGINT back into an unsigned integer.
pub(crate) fn opt_uint<T: TryFrom<i64>>(value: Option<i64>, what: &str) -> Result<Option<T>> {
    value.map(|v| uint(v, what)).transpose()
}

/// A TEXT column back into a type with a `FromStr` (enums, amounts).
pub(crate) fn parse<T: FromStr>(value: &str, what: &str) -> Result<T> {
    value.parse().map_err(|_| Error::decode(format!("{what}: {value:?}")))
}

/// A value as JSON TEXT.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::invalid(format!("{what}: {e}")))
}

/// JSON TEXT back into a value.
pub(crate) fn from_json<T: DeserializeOwned>(value: &str, what: &str) -> Result<T> {
    serde_json::from_str(value).map_err(|e| Error::decode(format!("{what}: {e}")))
}

/// 0x-hex (an address, hash or signature), lowercased so equal values compare equal in SQL.
pub(crate) fn hex(value: &str, what: &str) -> Result<String> {
    let lower = value.to_ascii_lowercase();
    match lower.strip_prefix("0x") {
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(lower),
        _ => Err(Error::invalid(format!("{what}: {value:?} is not 0x-hex"))),
    }
}

/// Optional 0x-hex.
pub(crate) fn opt_hex(value: Option<&str>, what: &str) -> Result<Option<String>> {
    value.map(|v| hex(v, what)).transpose()
}

/// A float that SQLite and PostgreSQL both store as it is (SQLite turns NaN into NULL).
pub(crate) fn finite(value: f64, what: &str) -> Result<f64> {
    if value.is_finite() { Ok(value) } else { Err(Error::invalid(format!("{what}: {value} is not finite"))) }
}

/// Now, in unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

/// A `Copy` enum persisted as lowercase TEXT: `as_str`, `Display`, `FromStr` and serde all use the same names.
macro_rules! text_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;

            fn from_str(s: &str) -> $crate::Result<Self> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err($crate::Error::invalid(format!(concat!(stringify!($name), " {:?}"), s))),
                }
            }
        }
    };
}

pub(crate) use text_enum;
