//! Values with a rule, as types that cannot be built breaking it: an end
//! user's id, a job's priority, an idempotency key. Each checks its rule
//! where it is made (parsing, serde) and carries its schema, so every route
//! that takes one refuses the same inputs with the same message and the
//! document says the same.
use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{Schema, Type};
use utoipa::openapi::{ObjectBuilder, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::ValidationError;

/// An end user's id: the platform's own, 1–128 characters of
/// `[A-Za-z0-9_.@:+-]`, not `.` or `..` (no `/`, no spaces, no path steps,
/// so it embeds safely in object keys).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct UserId(String);

impl UserId {
    pub const PATTERN: &'static str = "^[A-Za-z0-9_.@:+-]{1,128}$";

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = ValidationError;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        // `.` and `..` are path steps in every object key they would name.
        let ok = (1..=128).contains(&id.len())
            && id != "."
            && id != ".."
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.@:+-".contains(c));
        if ok {
            Ok(UserId(id))
        } else {
            Err(ValidationError::new(
                "user_id: 1-128 characters of letters, digits and _.@:+-, not \".\" or \"..\"",
            ))
        }
    }
}

impl std::str::FromStr for UserId {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UserId::try_from(s.to_owned())
    }
}

impl AsRef<str> for UserId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialSchema for UserId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(UserId::PATTERN))
            .description(Some("The platform's own end-user id (not `.` or `..`)"))
            .into()
    }
}

impl ToSchema for UserId {}

/// A job's priority within its queue: 0–9, higher runs first; 5 unless
/// the client says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64")]
pub struct Priority(u8);

impl Priority {
    pub const MAX: u8 = 9;

    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for Priority {
    fn default() -> Self {
        Priority(5)
    }
}

impl TryFrom<u8> for Priority {
    type Error = ValidationError;

    fn try_from(p: u8) -> Result<Self, Self::Error> {
        if p <= Priority::MAX {
            Ok(Priority(p))
        } else {
            Err(ValidationError::new("priority: 0-9"))
        }
    }
}

/// Any integer (a 300 says "0-9", not "u8").
impl TryFrom<i64> for Priority {
    type Error = ValidationError;

    fn try_from(p: i64) -> Result<Self, Self::Error> {
        u8::try_from(p)
            .map_err(|_| ValidationError::new("priority: 0-9"))
            .and_then(Priority::try_from)
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialSchema for Priority {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(Priority::MAX))
            .description(Some("Higher runs first within the queue; default 5"))
            .into()
    }
}

impl ToSchema for Priority {}

/// A client's idempotency key: 1–255 bytes. The same key (per client)
/// answers as the first call did.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_BYTES: usize = 255;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = ValidationError;

    fn try_from(key: String) -> Result<Self, Self::Error> {
        if (1..=IdempotencyKey::MAX_BYTES).contains(&key.len()) {
            Ok(IdempotencyKey(key))
        } else {
            Err(ValidationError::new("idempotency_key: 1-255 characters"))
        }
    }
}

impl PartialSchema for IdempotencyKey {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(IdempotencyKey::MAX_BYTES))
            .description(Some(
                "The same key (per client) answers as the first call did",
            ))
            .into()
    }
}

impl ToSchema for IdempotencyKey {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_key_safe() {
        for good in ["user-42@example.com", "a..b", "...", &"x".repeat(128)] {
            assert_eq!(good.parse::<UserId>().unwrap().as_str(), good);
        }
        for bad in ["", ".", "..", "a/b", "a b", "../x", &"x".repeat(129)] {
            assert!(bad.parse::<UserId>().is_err(), "{bad:?}");
            let json = serde_json::to_string(bad).unwrap();
            let err = serde_json::from_str::<UserId>(&json).unwrap_err();
            assert!(err.to_string().starts_with("user_id: 1-128"), "{err}");
        }
        // The document's pattern says the same (but for `.` and `..`).
        assert!(UserId::PATTERN.contains("{1,128}"));
    }

    #[test]
    fn priorities_are_0_to_9_and_default_to_5() {
        assert_eq!(Priority::default().get(), 5);
        assert_eq!(serde_json::from_str::<Priority>("9").unwrap().get(), 9);
        for bad in ["10", "300", "-1", "\"5\""] {
            assert!(serde_json::from_str::<Priority>(bad).is_err(), "{bad}");
        }
        assert!(Priority::try_from(10u8).is_err());
        // A number out of range names the rule, not the integer type.
        let error = serde_json::from_str::<Priority>("300").unwrap_err();
        assert!(error.to_string().contains("priority: 0-9"), "{error}");
    }

    #[test]
    fn idempotency_keys_are_1_to_255_bytes() {
        assert!(IdempotencyKey::try_from("k".repeat(255)).is_ok());
        assert!(IdempotencyKey::try_from("k".repeat(256)).is_err());
        assert!(serde_json::from_str::<IdempotencyKey>("\"\"").is_err());
    }
}
