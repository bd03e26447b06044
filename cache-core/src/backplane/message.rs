//! The messages: one binary layout, versioned, and the frame that carries one on the channel.
//!
//! Version 2 (written): `[2][kind][origin: u16 length + bytes][target: u16 length + bytes]
//! [group: u32 length + bytes][key: u32 length + bytes][instance: u64][sent: u64 µs since the
//! Unix epoch]`, little-endian. Every field is length-prefixed, so a message decodes one way
//! only.
//!
//! **Compatibility across a rolling deploy.** A reader accepts version 1 (the same fields up to
//! the key, nothing after), and any version from 2 on with bytes after the fields it knows:
//! a later version may only append fields, which this one ignores. Anything else (version 0,
//! a kind it does not know, a damaged body) is refused, and what it was about cleared
//! (`receive.rs`).
//!
//! **The frame.** The log's entries hold the message as it is. On the channel, a message comes
//! framed with the log entry's id: `[0xF2][id length: u8][id][message]`, published by the same
//! script that appended it to the log, so the channel's order is the log's. A payload starting
//! with version 1's byte is an unframed message from a replica that predates the log.

/// The format version this build writes.
pub(crate) const VERSION: u8 = 2;

/// The first byte of a framed message on the channel.
pub(crate) const FRAME: u8 = 0xF2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// The sending process's instance (random per `install`): how a replica recognises its own
    /// messages, whatever replica id it was given. 0 in a version 1 message.
    pub(crate) instance: u64,
    /// When it was sent, in µs since the Unix epoch (the sender's wall clock); 0 if unknown.
    pub(crate) sent_micros: u64,
}

/// A payload from the channel: a framed message and its log id, or an unframed one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Framed<'a> {
    /// The log entry's id, `None` for a message from a replica that predates the log.
    pub(crate) id: Option<&'a str>,
    pub(crate) message: &'a [u8],
}

impl<'a> Framed<'a> {
    /// Splits a channel payload; `None` for a frame that is damaged.
    pub(crate) fn split(payload: &'a [u8]) -> Option<Self> {
        match payload.first() {
            Some(&FRAME) => {
                let mut input = &payload[1..];
                let len = take(&mut input, 1)?[0];
                let id = std::str::from_utf8(take(&mut input, usize::from(len))?).ok()?;
                Some(Self {
                    id: Some(id),
                    message: input,
                })
            }
            _ => Some(Self {
                id: None,
                message: payload,
            }),
        }
    }
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
                + self.key.len()
                + 16,
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
        out.extend_from_slice(&self.instance.to_le_bytes());
        out.extend_from_slice(&self.sent_micros.to_le_bytes());
        out
    }

    /// The target's name, for a message whose kind and target can be read even if the rest
    /// cannot: a receiver clears what such a message was about.
    pub(crate) fn decode(mut input: &'a [u8]) -> Result<Self, Option<(Kind, &'a str)>> {
        let input = &mut input;
        let head = take(input, 2).ok_or(None)?;
        let version = head[0];
        if version == 0 {
            return Err(None);
        }
        let kind = Kind::from_byte(head[1]).ok_or(None)?;
        let origin = text(input).ok_or(None)?;
        let target = text(input).ok_or(None)?;
        let rest = || -> Option<(&'a [u8], &'a [u8], u64, u64)> {
            let mut input = *input;
            let group = bytes(&mut input)?;
            let key = bytes(&mut input)?;
            if version == 1 {
                return input.is_empty().then_some((group, key, 0, 0));
            }
            let instance = u64::from_le_bytes(take(&mut input, 8)?.try_into().ok()?);
            let sent = u64::from_le_bytes(take(&mut input, 8)?.try_into().ok()?);
            // Version 2 ends here; a later version's appended fields are not ours to read.
            (version > 2 || input.is_empty()).then_some((group, key, instance, sent))
        };
        let (group, key, instance, sent_micros) = rest().ok_or(Some((kind, target)))?;
        Ok(Self {
            kind,
            origin,
            target,
            group,
            key,
            instance,
            sent_micros,
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

    fn sample() -> Message<'static> {
        Message {
            kind: Kind::Key,
            origin: "replica-a",
            target: "app::list_folders",
            group: b"\x20\x02\0\0\0u1",
            key: b"\x13\x07\0\0\0\0\0\0\0",
            instance: 0x1234_5678_9abc_def0,
            sent_micros: 1_700_000_000_000_000,
        }
    }

    #[test]
    fn round_trips_and_refuses_damage() {
        let message = sample();
        let bytes = message.encode();
        assert_eq!(Message::decode(&bytes), Ok(message.clone()));
        // A truncated body still names what it was about, so the receiver can clear it.
        assert_eq!(
            Message::decode(&bytes[..bytes.len() - 1]),
            Err(Some((Kind::Key, "app::list_folders")))
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(
            Message::decode(&longer).is_err(),
            "version 2 ends where it ends"
        );
        let mut zero = bytes;
        zero[0] = 0;
        assert_eq!(Message::decode(&zero), Err(None));
    }

    /// A rolling deploy: the previous version is read as it was written, and a later version
    /// that appends fields is read up to the fields this one knows.
    #[test]
    fn reads_the_previous_version_and_a_later_one_that_appends() {
        let message = sample();
        let mut v1 = message.encode();
        v1.truncate(v1.len() - 16);
        v1[0] = 1;
        let read = Message::decode(&v1).expect("version 1 reads");
        assert_eq!(
            (read.kind, read.target, read.group, read.key),
            (message.kind, message.target, message.group, message.key)
        );
        assert_eq!((read.instance, read.sent_micros), (0, 0));
        let mut v1_longer = v1.clone();
        v1_longer.push(0);
        assert!(
            Message::decode(&v1_longer).is_err(),
            "version 1 has nothing after the key"
        );

        let mut v3 = message.encode();
        v3[0] = 3;
        v3.extend_from_slice(b"a field of a later version");
        assert_eq!(
            Message::decode(&v3).map(|m| (m.instance, m.key)),
            Ok((message.instance, message.key))
        );
    }

    #[test]
    fn frames_carry_the_log_id() {
        let message = sample().encode();
        let mut framed = vec![FRAME, 15];
        framed.extend_from_slice(b"1700000000000-7");
        framed.extend_from_slice(&message);
        assert_eq!(
            Framed::split(&framed),
            Some(Framed {
                id: Some("1700000000000-7"),
                message: &message
            })
        );
        assert_eq!(Framed::split(&framed[..10]), None, "a damaged frame");
        assert_eq!(
            Framed::split(&message),
            Some(Framed {
                id: None,
                message: &message
            })
        );
    }
}
