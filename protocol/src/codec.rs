//! Bounded CBOR codec.
//!
//! Every binary message in mpc-node is CBOR (RFC 8949) produced by `ciborium` from a serde type.
//! [`decode`] checks the input length against a caller-supplied limit before parsing, and
//! ciborium's own recursion limit bounds nesting, so a hostile peer can neither exhaust memory with
//! a huge frame nor crash the node with deep nesting.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why encoding or decoding failed.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The input was longer than the limit given to [`decode`].
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Length of the rejected input.
        len: usize,
        /// The limit it exceeded.
        max: usize,
    },
    /// The bytes were not valid CBOR for the expected type.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Serialisation failed (a bug: our own types always serialise).
    #[error("cannot encode message: {0}")]
    Encode(String),
}

/// Encodes `value` as CBOR.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).map_err(|e| CodecError::Encode(e.to_string()))?;
    Ok(out)
}

/// Decodes CBOR `bytes` into `T`, refusing input longer than `max_bytes` before parsing.
///
/// Trailing bytes after the first CBOR item are rejected so that one encoding maps to one value.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], max_bytes: usize) -> Result<T, CodecError> {
    if bytes.len() > max_bytes {
        return Err(CodecError::TooLarge {
            len: bytes.len(),
            max: max_bytes,
        });
    }
    let mut reader = bytes;
    let value = ciborium::de::from_reader(&mut reader)
        .map_err(|e: ciborium::de::Error<std::io::Error>| CodecError::Malformed(e.to_string()))?;
    if !reader.is_empty() {
        return Err(CodecError::Malformed(format!(
            "{} trailing bytes after the message",
            reader.len()
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Sample {
        id: u64,
        name: String,
        tags: Vec<String>,
        map: BTreeMap<String, Vec<u8>>,
        opt: Option<i64>,
    }

    #[test]
    fn rejects_oversized_input_before_parsing() {
        let err = decode::<Sample>(&[0u8; 65], 64).unwrap_err();
        assert!(matches!(err, CodecError::TooLarge { len: 65, max: 64 }));
    }

    #[test]
    fn rejects_trailing_bytes() {
        let mut bytes = encode(&7u64).unwrap();
        bytes.push(0);
        assert!(matches!(
            decode::<u64>(&bytes, 64),
            Err(CodecError::Malformed(_))
        ));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        // 100k nested arrays: 0x81 = array of length 1.
        let bytes = vec![0x81u8; 100_000];
        assert!(decode::<serde_json::Value>(&bytes, 1 << 20).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(id: u64, name in ".{0,40}", tags in proptest::collection::vec(".{0,8}", 0..5),
                      map in proptest::collection::btree_map(".{0,8}", proptest::collection::vec(any::<u8>(), 0..16), 0..4),
                      opt: Option<i64>) {
            let s = Sample { id, name, tags, map, opt };
            let bytes = encode(&s).unwrap();
            let back: Sample = decode(&bytes, 1 << 20).unwrap();
            prop_assert_eq!(s, back);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode::<Sample>(&bytes, 1 << 20);
            let _ = decode::<serde_json::Value>(&bytes, 1 << 20);
        }
    }
}
