use alloy::primitives::U256;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::fmt;
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{ObjectBuilder, RefOr, Schema, Type},
};

/// A token amount in base units. Sent as a decimal string: JSON numbers lose precision beyond 2^53, and
/// amounts reach 2^256. A number is accepted on reading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(pub U256);

impl Amount {
    /// Nothing.
    pub const ZERO: Self = Self(U256::ZERO);
}

impl From<u128> for Amount {
    fn from(value: u128) -> Self {
        Self(U256::from(value))
    }
}

impl From<U256> for Amount {
    fn from(value: U256) -> Self {
        Self(value)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Text {
            Str(String),
            Num(u64),
        }
        match Text::deserialize(deserializer)? {
            Text::Str(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                U256::from_str_radix(&text, 10).map(Self).map_err(de::Error::custom)
            }
            Text::Str(text) => Err(de::Error::custom(format!("amount {text:?}: expected decimal digits"))),
            Text::Num(number) => Ok(Self(U256::from(number))),
        }
    }
}

impl PartialSchema for Amount {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[0-9]+$"))
            .description(Some("Token base units, as a decimal string."))
            .examples(["1000000000000000000"])
            .into()
    }
}

impl ToSchema for Amount {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_beyond_u64_travel_as_decimal_strings_and_nothing_else_parses() {
        let max = Amount::from(u128::MAX);
        let text = serde_json::to_string(&max).unwrap();
        assert_eq!(text, "\"340282366920938463463374607431768211455\"");
        assert_eq!(serde_json::from_str::<Amount>(&text).unwrap(), max);
        assert_eq!(serde_json::from_str::<Amount>("12").unwrap(), Amount::from(12));
        for bad in ["\"-1\"", "\"\"", "\"1e3\"", "\" 1\"", "\"0x10\""] {
            assert!(serde_json::from_str::<Amount>(bad).is_err(), "{bad}");
        }
    }
}
