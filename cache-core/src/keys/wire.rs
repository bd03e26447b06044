//! [`WireKey`]: the encoding of key parts that crosses processes.
//!
//! Every value starts with a tag byte naming its type, and every variable-length value carries
//! its length, so the encoding is a prefix code: no encoding is the start of another, and two
//! different values (of the same type or not) never encode alike. A receiver decodes the bytes
//! back into its cache's owned types and refuses bytes of any other type.
//!
//! `String` and `Box<str>` encode alike, on purpose: both are the same text key. A replica
//! encodes the owned key, never a borrowed form.

use std::any::Any;

/// A key part that can cross processes: encoded by the replica that invalidates, decoded by
/// the replicas that receive. Implemented for `String`, every integer type, `bool`,
/// `char`, `()`, `Option<T>`, `Vec<T>`, `Box<str>` and tuples of up to four parts; implement it
/// for a key type of your own, starting both its description and its encoding with a tag byte
/// of its own (`0x80` and above are left to users), so that
/// a [`TtlCache`](crate::TtlCache) keyed by it can be [`attach`](crate::backplane::attach)ed.
///
/// ```
/// use cache_core::backplane::WireKey;
///
/// let key = ("u1".to_string(), 7u64);
/// let bytes = key.to_wire();
/// assert_eq!(<(String, u64)>::from_wire(&bytes), Some(key));
/// // Bytes of another type are refused, never misread.
/// assert_eq!(<(String, u32)>::from_wire(&bytes), None);
/// ```
pub trait WireKey {
    /// Appends a description of the type: its tag, then its parameters' descriptions (an
    /// `Option<String>` is `[0x30, 0x20]`). Carried where a value has no part to carry its type
    /// (`None`, an empty `Vec`), so that no two types' values encode alike.
    fn describe(out: &mut Vec<u8>)
    where
        Self: Sized;
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads one value from the front of `input` and advances past it; `None` for bytes that do
    /// not start with an encoding of this type.
    fn decode(input: &mut &[u8]) -> Option<Self>
    where
        Self: Sized;

    /// The encoding of `self` alone.
    fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// The value encoded by exactly `bytes` (trailing bytes are refused).
    fn from_wire(mut bytes: &[u8]) -> Option<Self>
    where
        Self: Sized,
    {
        let value = Self::decode(&mut bytes)?;
        bytes.is_empty().then_some(value)
    }
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if input.len() < n {
        return None;
    }
    let (head, tail) = input.split_at(n);
    *input = tail;
    Some(head)
}

fn take_array<const N: usize>(input: &mut &[u8]) -> Option<[u8; N]> {
    take(input, N)?.try_into().ok()
}

fn expect_tag(input: &mut &[u8], tag: u8) -> Option<()> {
    (take_array::<1>(input)?[0] == tag).then_some(())
}

/// Reads `T`'s description from the front of `input`, refusing any other.
fn expect_type<T: WireKey>(input: &mut &[u8]) -> Option<()> {
    let mut want = Vec::new();
    T::describe(&mut want);
    (take(input, want.len())? == want.as_slice()).then_some(())
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    // Lengths above 4 GiB do not occur in keys; saturate rather than wrap (the decoder then
    // refuses the truncated bytes instead of misreading them).
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
}

fn take_len(input: &mut &[u8]) -> Option<usize> {
    usize::try_from(u32::from_le_bytes(take_array(input)?)).ok()
}

macro_rules! wire_int {
    ($($ty:ty => $tag:expr),+ $(,)?) => {$(
        impl WireKey for $ty {
            fn describe(out: &mut Vec<u8>) {
                out.push($tag);
            }
            fn encode(&self, out: &mut Vec<u8>) {
                out.push($tag);
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn decode(input: &mut &[u8]) -> Option<Self> {
                expect_tag(input, $tag)?;
                Some(<$ty>::from_le_bytes(take_array(input)?))
            }
        }
    )+};
}

wire_int! {
    u8 => 0x10, u16 => 0x11, u32 => 0x12, u64 => 0x13, u128 => 0x14,
    i8 => 0x18, i16 => 0x19, i32 => 0x1a, i64 => 0x1b, i128 => 0x1c,
}

// `usize`/`isize` travel as 64 bits, with tags of their own: a replica on another word size
// decodes what fits and refuses the rest.
impl WireKey for usize {
    fn describe(out: &mut Vec<u8>) {
        out.push(0x15);
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(0x15);
        out.extend_from_slice(&(*self as u64).to_le_bytes());
    }
    fn decode(input: &mut &[u8]) -> Option<Self> {
        expect_tag(input, 0x15)?;
        usize::try_from(u64::from_le_bytes(take_array(input)?)).ok()
    }
}

impl WireKey for isize {
    fn describe(out: &mut Vec<u8>) {
        out.push(0x1d);
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(0x1d);
        out.extend_from_slice(&(*self as i64).to_le_bytes());
    }
    fn decode(input: &mut &[u8]) -> Option<Self> {
        expect_tag(input, 0x1d)?;
        isize::try_from(i64::from_le_bytes(take_array(input)?)).ok()
    }
}

impl WireKey for () {
    fn describe(out: &mut Vec<u8>) {
        out.push(0x00);
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(0x00);
    }
    fn decode(input: &mut &[u8]) -> Option<Self> {
        expect_tag(input, 0x00)
    }
}

impl WireKey for bool {
    fn describe(out: &mut Vec<u8>) {
        out.push(0x01);
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0x01, u8::from(*self)]);
    }
    fn decode(input: &mut &[u8]) -> Option<Self> {
        expect_tag(input, 0x01)?;
        match take_array::<1>(input)?[0] {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

impl WireKey for char {
    fn describe(out: &mut Vec<u8>) {
        out.push(0x02);
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(0x02);
        out.extend_from_slice(&u32::from(*self).to_le_bytes());
    }
    fn decode(input: &mut &[u8]) -> Option<Self> {
        expect_tag(input, 0x02)?;
        char::from_u32(u32::from_le_bytes(take_array(input)?))
    }
}

fn encode_str(text: &str, out: &mut Vec<u8>) {
    out.push(0x20);
    put_len(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

impl WireKey for String {
    fn describe(out: &mut Vec<u8>) {
        out.push(0x20);
    }
    fn encode(&self, out: &mut Vec<u8>) {
        encode_str(self, out);
    }
    fn decode(input: &mut &[u8]) -> Option<Self> {
        expect_tag(input, 0x20)?;
        let len = take_len(input)?;
        String::from_utf8(take(input, len)?.to_vec()).ok()
    }
}

impl WireKey for Box<str> {
    fn describe(out: &mut Vec<u8>) {
        out.push(0x20);
    }
    fn encode(&self, out: &mut Vec<u8>) {
        encode_str(self, out);
    }
    fn decode(input: &mut &[u8]) -> Option<Self> {
        String::decode(input).map(String::into_boxed_str)
    }
}

impl<T: WireKey> WireKey for Option<T> {
    fn describe(out: &mut Vec<u8>) {
        out.push(0x30);
        T::describe(out);
    }
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => Self::describe(out),
            Some(value) => {
                out.push(0x31);
                value.encode(out);
            }
        }
    }
    fn decode(input: &mut &[u8]) -> Option<Self> {
        match take_array::<1>(input)?[0] {
            0x30 => expect_type::<T>(input).map(|()| None),
            0x31 => T::decode(input).map(Some),
            _ => None,
        }
    }
}

impl<T: WireKey> WireKey for Vec<T> {
    fn describe(out: &mut Vec<u8>) {
        out.push(0x40);
        T::describe(out);
    }
    fn encode(&self, out: &mut Vec<u8>) {
        Self::describe(out);
        put_len(out, self.len());
        for item in self {
            item.encode(out);
        }
    }
    fn decode(input: &mut &[u8]) -> Option<Self> {
        expect_type::<Self>(input)?;
        let len = take_len(input)?;
        // Every item takes at least one byte: a length the input cannot hold is refused before
        // anything is reserved for it.
        if len > input.len() {
            return None;
        }
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(T::decode(input)?);
        }
        Some(items)
    }
}

macro_rules! wire_tuple {
    ($tag:expr; $($part:ident $i:tt),+) => {
        impl<$($part: WireKey),+> WireKey for ($($part,)+) {
            fn describe(out: &mut Vec<u8>) {
                out.push($tag);
                $($part::describe(out);)+
            }
            fn encode(&self, out: &mut Vec<u8>) {
                out.push($tag);
                $(self.$i.encode(out);)+
            }
            fn decode(input: &mut &[u8]) -> Option<Self> {
                expect_tag(input, $tag)?;
                Some(($($part::decode(input)?,)+))
            }
        }
    };
}

wire_tuple!(0x51; A 0);
wire_tuple!(0x52; A 0, B 1);
wire_tuple!(0x53; A 0, B 1, C 2);
wire_tuple!(0x54; A 0, B 1, C 2, D 3);

/// Encoders and decoders of the key part types that `#[ttl_cached]` and [`scope!`](crate::scope!)
/// keys are made of, found by type at run time: their keys are nested pairs of parts whose types
/// the expansion cannot bound. A part of any other type is not encodable (see `Link`).
macro_rules! erased_leaves {
    ($($ty:ty),+ $(,)?) => {
        /// Encodes `part` if its type is one of the supported leaves.
        pub(crate) fn encode_leaf(part: &dyn Any, out: &mut Vec<u8>) -> bool {
            $(
                if let Some(part) = part.downcast_ref::<$ty>() {
                    part.encode(out);
                    return true;
                }
            )+
            false
        }

        /// Decodes one part of type `T` if `T` is one of the supported leaves.
        pub(crate) fn decode_leaf<T: Any>(input: &mut &[u8]) -> Option<T> {
            let id = std::any::TypeId::of::<T>();
            $(
                if id == std::any::TypeId::of::<$ty>() {
                    let boxed: Box<dyn Any> = Box::new(<$ty>::decode(input)?);
                    return boxed.downcast::<T>().ok().map(|b| *b);
                }
            )+
            None
        }
    };
}

erased_leaves! {
    String, u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, bool, char, (),
    Box<str>,
    Option<String>, Option<u8>, Option<u16>, Option<u32>, Option<u64>, Option<usize>,
    Option<i32>, Option<i64>, Option<bool>, Option<char>,
    Vec<String>, Vec<u8>, Vec<u16>, Vec<u32>, Vec<u64>, Vec<usize>, Vec<i32>, Vec<i64>,
    Vec<bool>, Vec<char>,
}

/// A decoder of one value from the front of its bytes, as [`WireKey::decode`] and the part
/// lists of `#[ttl_cached]` keys decode.
pub(crate) type Decoder<T> = fn(&mut &[u8]) -> Option<T>;

/// The value `decode` reads from exactly `bytes` (trailing bytes are refused).
pub(crate) fn decode_exact<T>(mut bytes: &[u8], decode: Decoder<T>) -> Option<T> {
    let value = decode(&mut bytes)?;
    bytes.is_empty().then_some(value)
}

/// An encoder of a value whose type is erased: `false` for a value of another type.
pub(crate) type Encoder = fn(&dyn Any, &mut Vec<u8>) -> bool;

/// How a cache's owned group and rest parts are encoded, their types erased: kept by a cache
/// that joined the fleet (a `TtlCache` with [`WireKey`] key types, or a `#[ttl_cached]`
/// function with its part lists: `parts::wire_codec`), which cannot name those bounds where it
/// tells its invalidations or names its values in the shared tier.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WireCodec {
    pub(crate) group: Encoder,
    pub(crate) key: Encoder,
}

impl WireCodec {
    /// The codec of a cache keyed by `G` and `K`.
    pub(crate) fn of<G: WireKey + 'static, K: WireKey + 'static>() -> Self {
        Self {
            group: encode_erased::<G>,
            key: encode_erased::<K>,
        }
    }
}

fn encode_erased<T: WireKey + 'static>(value: &dyn Any, out: &mut Vec<u8>) -> bool {
    value.downcast_ref::<T>().map(|v| v.encode(out)).is_some()
}
