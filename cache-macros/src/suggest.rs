//! "Did you mean": the nearest name to a typo, shared by argument parsing (`args.rs`) and
//! template checking (`valid.rs`).

/// The closest candidate by edit distance, if close enough to be a likely typo.
pub(crate) fn nearest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            // `user` for `user_id`: a prefix of a longer name counts as close.
            let prefix = name.len() >= 3 && (c.starts_with(name) || name.starts_with(c));
            let distance = edit_distance(name, c);
            (if prefix { distance.min(1) } else { distance }, c)
        })
        .filter(|(d, c)| *d <= (name.len().max(c.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_typos_only() {
        let names = ["user_id", "provider", "folder_id"];
        assert_eq!(nearest("folder", names), Some("folder_id"));
        assert_eq!(nearest("provder", names), Some("provider"));
        assert_eq!(nearest("usr_id", names), Some("user_id"));
        assert_eq!(nearest("zzz", names), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
