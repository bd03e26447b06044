//! `ttl = "1h30m"`: a sequence of whole numbers with units.

use std::time::Duration;

const UNITS: &str =
    "use whole seconds (`ttl = 60`) or numbers with the units `h`, `m`, `s`, `ms`, \
                     such as `\"90s\"`, `\"1h30m\"`, `\"250ms\"`";

/// Parses `"250ms"`, `"90s"`, `"5m"`, `"1h30m"`, `"1m 30s"`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration `{text}`: {UNITS}");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = rest[digits..].trim_start();
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = match &rest[..letters] {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.checked_mul(60).ok_or_else(invalid)?),
            "h" => Duration::from_secs(number.checked_mul(3600).ok_or_else(invalid)?),
            "" => {
                return Err(format!(
                    "invalid duration `{text}`: `{number}` has no unit; {UNITS}"
                ))
            }
            other => {
                return Err(format!(
                    "invalid duration `{text}`: unknown unit `{other}`; {UNITS}"
                ))
            }
        };
        total = total.checked_add(unit).ok_or_else(invalid)?;
        rest = rest[letters..].trim_start();
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_forms() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5 m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "abc",
            "90",
            "1.5s",
            "10 days",
            "5x",
            "ms",
            "-1s",
            "99999999999999999999h",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("invalid duration"), "{bad}: {err}");
        }
        assert!(parse_duration("90").unwrap_err().contains("has no unit"));
        assert!(parse_duration("5x")
            .unwrap_err()
            .contains("unknown unit `x`"));
    }
}
