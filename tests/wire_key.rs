//! Property tests of the backplane's key encoding ([`WireKey`]): two different keys, of the same
//! type or not, never encode alike; no encoding is a prefix of another (so parts concatenated
//! into a group or key still decode one way only); and every key decodes back to itself, and
//! not into another type.
//!
//! 256 cases per property by default; `TTL_CACHED_SOAK=1` runs 5 000.

use cache_core::backplane::WireKey;
use proptest::prelude::*;
use proptest::test_runner::Config;

fn config() -> Config {
    let soak = std::env::var("TTL_CACHED_SOAK").is_ok_and(|v| v == "1");
    Config {
        failure_persistence: None,
        ..Config::with_cases(if soak { 5_000 } else { 256 })
    }
}

/// A key of one of the supported part types.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Str(String),
    BoxStr(Box<str>),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    U128(u128),
    Usize(usize),
    I8(i8),
    I32(i32),
    I64(i64),
    I128(i128),
    Isize(isize),
    Bool(bool),
    Char(char),
    Unit(()),
    OptStr(Option<String>),
    OptU64(Option<u64>),
    OptOptStr(Option<Option<String>>),
    VecStr(Vec<String>),
    VecU8(Vec<u8>),
    Pair((String, u64)),
    Triple((String, String, bool)),
    Quad((u8, char, Option<String>, Vec<u32>)),
    Nested((String, (u64, ()))),
    One((String,)),
}

impl Part {
    fn encode(&self) -> Vec<u8> {
        match self {
            Self::Str(v) => v.to_wire(),
            Self::BoxStr(v) => v.to_wire(),
            Self::U8(v) => v.to_wire(),
            Self::U16(v) => v.to_wire(),
            Self::U32(v) => v.to_wire(),
            Self::U64(v) => v.to_wire(),
            Self::U128(v) => v.to_wire(),
            Self::Usize(v) => v.to_wire(),
            Self::I8(v) => v.to_wire(),
            Self::I32(v) => v.to_wire(),
            Self::I64(v) => v.to_wire(),
            Self::I128(v) => v.to_wire(),
            Self::Isize(v) => v.to_wire(),
            Self::Bool(v) => v.to_wire(),
            Self::Char(v) => v.to_wire(),
            Self::Unit(v) => v.to_wire(),
            Self::OptStr(v) => v.to_wire(),
            Self::OptU64(v) => v.to_wire(),
            Self::OptOptStr(v) => v.to_wire(),
            Self::VecStr(v) => v.to_wire(),
            Self::VecU8(v) => v.to_wire(),
            Self::Pair(v) => v.to_wire(),
            Self::Triple(v) => v.to_wire(),
            Self::Quad(v) => v.to_wire(),
            Self::Nested(v) => v.to_wire(),
            Self::One(v) => v.to_wire(),
        }
    }

    /// Decodes `bytes` as this part's type.
    fn decode_as_own_type(&self, bytes: &[u8]) -> Option<Part> {
        Some(match self {
            Self::Str(_) => Self::Str(WireKey::from_wire(bytes)?),
            Self::BoxStr(_) => Self::BoxStr(WireKey::from_wire(bytes)?),
            Self::U8(_) => Self::U8(WireKey::from_wire(bytes)?),
            Self::U16(_) => Self::U16(WireKey::from_wire(bytes)?),
            Self::U32(_) => Self::U32(WireKey::from_wire(bytes)?),
            Self::U64(_) => Self::U64(WireKey::from_wire(bytes)?),
            Self::U128(_) => Self::U128(WireKey::from_wire(bytes)?),
            Self::Usize(_) => Self::Usize(WireKey::from_wire(bytes)?),
            Self::I8(_) => Self::I8(WireKey::from_wire(bytes)?),
            Self::I32(_) => Self::I32(WireKey::from_wire(bytes)?),
            Self::I64(_) => Self::I64(WireKey::from_wire(bytes)?),
            Self::I128(_) => Self::I128(WireKey::from_wire(bytes)?),
            Self::Isize(_) => Self::Isize(WireKey::from_wire(bytes)?),
            Self::Bool(_) => Self::Bool(WireKey::from_wire(bytes)?),
            Self::Char(_) => Self::Char(WireKey::from_wire(bytes)?),
            Self::Unit(_) => Self::Unit(WireKey::from_wire(bytes)?),
            Self::OptStr(_) => Self::OptStr(WireKey::from_wire(bytes)?),
            Self::OptU64(_) => Self::OptU64(WireKey::from_wire(bytes)?),
            Self::OptOptStr(_) => Self::OptOptStr(WireKey::from_wire(bytes)?),
            Self::VecStr(_) => Self::VecStr(WireKey::from_wire(bytes)?),
            Self::VecU8(_) => Self::VecU8(WireKey::from_wire(bytes)?),
            Self::Pair(_) => Self::Pair(WireKey::from_wire(bytes)?),
            Self::Triple(_) => Self::Triple(WireKey::from_wire(bytes)?),
            Self::Quad(_) => Self::Quad(WireKey::from_wire(bytes)?),
            Self::Nested(_) => Self::Nested(WireKey::from_wire(bytes)?),
            Self::One(_) => Self::One(WireKey::from_wire(bytes)?),
        })
    }

    /// The same key as another: `String` and `Box<str>` are one text key, encoded alike on
    /// purpose.
    fn same_key(&self, other: &Part) -> bool {
        let text = |p: &Part| match p {
            Self::Str(s) => Some(s.clone()),
            Self::BoxStr(s) => Some(s.to_string()),
            _ => None,
        };
        match (text(self), text(other)) {
            (Some(a), Some(b)) => a == b,
            _ => self == other,
        }
    }
}

/// Short strings over an alphabet with separators, length-like bytes and non-ASCII
/// characters, so that empty strings, prefixes and look-alike bytes come up often.
fn text() -> impl Strategy<Value = String> {
    "[a:\u{0}\u{1}\u{4}é日]{0,5}"
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        text().prop_map(Part::Str),
        text().prop_map(|s| Part::BoxStr(s.into_boxed_str())),
        any::<u8>().prop_map(Part::U8),
        (0u16..4).prop_map(Part::U16),
        (0u32..4).prop_map(Part::U32),
        prop_oneof![0u64..4, any::<u64>()].prop_map(Part::U64),
        (0u128..4).prop_map(Part::U128),
        (0usize..4).prop_map(Part::Usize),
        (-2i8..2).prop_map(Part::I8),
        (-2i32..2).prop_map(Part::I32),
        (-2i64..2).prop_map(Part::I64),
        (-2i128..2).prop_map(Part::I128),
        (-2isize..2).prop_map(Part::Isize),
        any::<bool>().prop_map(Part::Bool),
        prop_oneof![Just('a'), Just('\u{0}'), Just('日'), any::<char>()].prop_map(Part::Char),
        Just(Part::Unit(())),
        proptest::option::of(text()).prop_map(Part::OptStr),
        proptest::option::of(0u64..3).prop_map(Part::OptU64),
        proptest::option::of(proptest::option::of(text())).prop_map(Part::OptOptStr),
        proptest::collection::vec(text(), 0..3).prop_map(Part::VecStr),
        proptest::collection::vec(0u8..3, 0..4).prop_map(Part::VecU8),
        (text(), 0u64..3).prop_map(Part::Pair),
        (text(), text(), any::<bool>()).prop_map(Part::Triple),
        (
            0u8..3,
            prop_oneof![Just('a'), Just('b')],
            proptest::option::of(text()),
            proptest::collection::vec(0u32..3, 0..3)
        )
            .prop_map(Part::Quad),
        (text(), 0u64..3).prop_map(|(s, n)| Part::Nested((s, (n, ())))),
        text().prop_map(|s| Part::One((s,))),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn different_keys_never_encode_alike_nor_as_a_prefix(a in part(), b in part()) {
        let (ea, eb) = (a.encode(), b.encode());
        if a.same_key(&b) {
            prop_assert_eq!(ea, eb);
        } else {
            prop_assert_ne!(&ea, &eb, "{:?} and {:?} encode alike", a, b);
            prop_assert!(!eb.starts_with(&ea), "{:?} encodes as a prefix of {:?}", a, b);
            prop_assert!(!ea.starts_with(&eb), "{:?} encodes as a prefix of {:?}", b, a);
        }
    }

    #[test]
    fn every_key_decodes_to_itself_and_not_as_another_type(a in part(), b in part()) {
        let bytes = a.encode();
        prop_assert_eq!(a.decode_as_own_type(&bytes), Some(a.clone()));
        // Read as `b`'s type, `a`'s bytes are refused unless they are the same key.
        if let Some(misread) = b.decode_as_own_type(&bytes) {
            prop_assert!(misread.same_key(&a), "{:?} read as {:?}", a, misread);
        }
        // A truncated encoding is refused, never misread.
        if !bytes.is_empty() {
            prop_assert_eq!(a.decode_as_own_type(&bytes[..bytes.len() - 1]), None);
        }
    }
}
