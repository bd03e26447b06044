//! The messages on the channel: one binary layout, versioned.
//!
//! `[version][kind][origin: u16 length + bytes][target: u16 length + bytes][group: u32 length +
//! bytes][key: u32 length + bytes]`. Every field is length-prefixed, so a message decodes one way
//! only; a message of another version, or with bytes left over, is refused (and its target
//! cleared, see `receive.rs`).

/// The format version this build writes and reads.
pub(crate) const VERSION: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Group = 1,
    Key = 2,
    Clear = 3,
    Scope = 4,
}

impl Kind {
    fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            1 => Self::Group,
            2 => Self::Key,
            3 => Self::Clear,
            4 => Self::Scope,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message<'a> {
    pub(crate) kind: Kind,
    pub(crate) origin: &'a str,
    /// The cache's name (or the scope's, for `Scope`).
    pub(crate) target: &'a str,
    pub(crate) group: &'a [u8],
    pub(crate) key: &'a [u8],
}

impl<'a> Message<'a> {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            2 + 2
                + self.origin.len()
                + 2
                + self.target.len()
                + 8
                + self.group.len()
                + self.key.len(),
        );
        out.push(VERSION);
        out.push(self.kind as u8);
        for text in [self.origin, self.target] {
            // Names and replica ids are checked to fit when registered and installed.
            let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&text.as_bytes()[..usize::from(len)]);
        }
        for bytes in [self.group, self.key] {
            let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&bytes[..len as usize]);
        }
        out
    }

    /// The target's name, for a message of this version whose kind and target can be read
    /// even if the rest cannot: a receiver clears what such a message was about.
    pub(crate) fn decode(mut input: &'a [u8]) -> Result<Self, Option<(Kind, &'a str)>> {
        let input = &mut input;
        let head = take(input, 2).ok_or(None)?;
        if head[0] != VERSION {
            return Err(None);
        }
        let kind = Kind::from_byte(head[1]).ok_or(None)?;
        let origin = text(input).ok_or(None)?;
        let target = text(input).ok_or(None)?;
        let rest = || -> Option<(&'a [u8], &'a [u8])> {
            let mut input = *input;
            let group = bytes(&mut input)?;
            let key = bytes(&mut input)?;
            input.is_empty().then_some((group, key))
        };
        let (group, key) = rest().ok_or(Some((kind, target)))?;
        Ok(Self {
            kind,
            origin,
            target,
            group,
            key,
        })
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

fn text<'a>(input: &mut &'a [u8]) -> Option<&'a str> {
    let len = u16::from_le_bytes(take(input, 2)?.try_into().ok()?);
    std::str::from_utf8(take(input, usize::from(len))?).ok()
}

fn bytes<'a>(input: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_le_bytes(take(input, 4)?.try_into().ok()?);
    take(input, usize::try_from(len).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let message = Message {
            kind: Kind::Key,
            origin: "replica-a",
            target: "app::list_folders",
            group: b"\x20\x02\0\0\0u1",
            key: b"\x13\x07\0\0\0\0\0\0\0",
        };
        let bytes = message.encode();
        assert_eq!(Message::decode(&bytes), Ok(message.clone()));
        // A truncated body still names what it was about, so the receiver can clear it.
        assert_eq!(
            Message::decode(&bytes[..bytes.len() - 1]),
            Err(Some((Kind::Key, "app::list_folders")))
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Message::decode(&longer).is_err());
        let mut other_version = bytes;
        other_version[0] = VERSION + 1;
        assert_eq!(Message::decode(&other_version), Err(None));
    }
}
