//! A generator test of the whole expansion: many attribute inputs, valid and not, built from
//! fragments and mutations, each checked for what a user must be able to rely on:
//!
//! - the expansion never panics, and always parses as items;
//! - a valid input expands without errors;
//! - an input with one mistake gets exactly one error, and any input at most a few;
//! - every error is spanned on the user's tokens (the attribute's arguments, the signature), or
//!   on the attribute itself, and reads as a message for the user: lowercase, and naming
//!   nothing of the expansion's internals.
//!
//! The inputs are deterministic (a fixed seed), so a failure reproduces. Run with
//! `cargo test -p cache-macros fuzz -- --nocapture` to see the counts.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::str::FromStr;

use proc_macro2::{Span, TokenStream, TokenTree};

use crate::mistakes::compile_errors;

/// Names that belong to the expansion, not to the user.
const INTERNAL: &[&str] = &[
    "__private",
    "__ttl_cached",
    "CheckedPart",
    "NotAKeyPart",
    "NotOwnedPart",
    "Unstorable",
    "CheckedPolicy",
    "value_check",
    "PartList",
    "PartTag",
    "ReturnTag",
    "TypeHandles",
    "SiteHandles",
    "MethodOfAnImpl",
    "method_of_an_impl",
    "StoredValue",
    "Policy",
    "Plain<",
    "TryRetry",
    "TryShared",
];

/// Signatures the arguments are tried on, with a valid set of arguments for each.
const SIGNATURES: &[(&str, &str)] = &[
    (
        "pub async fn list_folders(user_id: &str, provider: &str, folder_id: u64) -> Result<Vec<String>, String> { todo!() }",
        r#"ttl = 60, key = "<user_id>:<provider>:<folder_id>", group = "<user_id>:<provider>""#,
    ),
    (
        "async fn area((width, height): (u32, u32), scale: u32) -> u32 { width * height * scale }",
        "ttl = \"90s\", ignore = [width, height]",
    ),
    (
        "pub(crate) async fn lookup(&self, tenant: u32, name: &str) -> Option<String> { None }",
        r#"ttl = 60, key = "<self.prefix>:<tenant>:<name>", group = "<self.prefix>""#,
    ),
    (
        "async fn by_kind(r#type: u32, req: &Request) -> Vec<u32> { vec![] }",
        r#"ttl = "1h30m", key = "<r#type>:<req.user.id>", capacity = 5"#,
    ),
    (
        "async fn no_params() -> u64 { 1 }",
        "ttl = 1",
    ),
    (
        "async fn pairs(pair: (u32, (u8, String)), n: u32) -> u32 { n }",
        r#"ttl = 60, key = "<pair.0>:<pair.1.1>:<n>", group = "<pair.0>""#,
    ),
];

/// One mistake each, applied to a valid attribute: `(what, edit)`.
/// An edit of a valid argument list that makes one mistake.
type Mutation = Box<dyn Fn(&str) -> String>;

fn mutations() -> Vec<(&'static str, Mutation)> {
    fn replace(from: &'static str, to: &'static str) -> Mutation {
        Box::new(move |args: &str| args.replacen(from, to, 1))
    }
    /// Appends `extra`, first removing the argument of the same name, so that the edit is
    /// one mistake (`capacity = 0`) and not also a duplicate.
    fn append(extra: &'static str) -> Mutation {
        Box::new(move |args: &str| format!("{}, {extra}", without(args, name_of(extra))))
    }
    /// Adds `name` to `ignore`, keeping what was there.
    fn add_ignored(name: &'static str) -> Mutation {
        Box::new(move |args: &str| match args.find("ignore = [") {
            Some(at) => {
                let at = at + "ignore = [".len();
                format!("{}{name}, {}", &args[..at], &args[at..])
            }
            None => format!("{args}, ignore = [{name}]"),
        })
    }
    vec![
        ("zero ttl", Box::new(|a: &str| with_ttl(a, "ttl = 0"))),
        ("float ttl", Box::new(|a: &str| with_ttl(a, "ttl = 1.5"))),
        (
            "suffixed ttl",
            Box::new(|a: &str| with_ttl(a, "ttl = 300u8")),
        ),
        (
            "float-suffixed ttl",
            Box::new(|a: &str| with_ttl(a, "ttl = 60f32")),
        ),
        (
            "bad duration",
            Box::new(|a: &str| with_ttl(a, "ttl = \"5 days\"")),
        ),
        ("colon", Box::new(|a: &str| with_ttl(a, "ttl: 60"))),
        ("upper case", Box::new(|a: &str| with_ttl(a, "TTL = 60"))),
        (
            "ttl without value",
            Box::new(|a: &str| with_ttl(a, "ttl =")),
        ),
        (
            "ttl expression",
            Box::new(|a: &str| with_ttl(a, "ttl = Duration::from_secs(60)")),
        ),
        (
            "ttl through Self",
            Box::new(|a: &str| with_ttl(a, "ttl = Self::TTL")),
        ),
        ("missing ttl", Box::new(|a: &str| with_ttl(a, ""))),
        ("unknown argument", append("capacty = 5")),
        ("duplicate argument", append("capacity = 7, capacity = 8")),
        ("zero capacity", append("capacity = 0")),
        ("float capacity", append("capacity = 1.5")),
        ("negative capacity", append("capacity = -1")),
        ("suffixed capacity", append("capacity = 5usize")),
        (
            "missing comma",
            Box::new(|a: &str| format!("{} capacity = 5", without(a, "capacity"))),
        ),
        ("ignore unknown", add_ignored("nothing_like_it")),
        ("ignore literal", add_ignored("5")),
        ("ignore wildcard", add_ignored("_")),
        ("ignore keyword", add_ignored("type")),
        ("group without key's prefix", append("group = \"<zzz>\"")),
        ("numeric key", Box::new(|a: &str| with_key(a, "key = 5"))),
        (
            "unclosed placeholder",
            Box::new(|a: &str| with_key(a, "key = \"<a\"")),
        ),
        (
            "empty placeholder",
            Box::new(|a: &str| with_key(a, "key = \"<>\"")),
        ),
        (
            "stray bracket",
            Box::new(|a: &str| with_key(a, "key = \"a>\"")),
        ),
        (
            "braces",
            Box::new(|a: &str| with_key(a, "key = \"{user_id}\"")),
        ),
        (
            "key typo",
            Box::new(|a: &str| with_key(a, "key = \"<nothing_like_it>\"")),
        ),
        (
            "suffixed key",
            Box::new(|a: &str| match a.find("key = \"") {
                // After the key's closing quote.
                Some(at) => {
                    let close =
                        at + "key = \"".len() + a[at + "key = \"".len()..].find('"').unwrap_or(0);
                    format!("{}suffix{}", &a[..=close], &a[close + 1..])
                }
                None => a.to_string(),
            }),
        ),
        (
            "keyword placeholder",
            Box::new(|a: &str| with_key(a, "key = \"<type>\"")),
        ),
        ("trailing junk", Box::new(|a: &str| format!("{a}, = 5"))),
        (
            "string as argument",
            Box::new(|a: &str| format!("{a}, \"x\"")),
        ),
        ("expression value", replace("ttl = 60", "ttl = 60 + 1")),
        (
            "tuple field out of range",
            replace("<pair.1.1>", "<pair.1.2>"),
        ),
        (
            "named field of a tuple, in key and group",
            Box::new(|a: &str| a.replace("<pair.0>", "<pair.first>")),
        ),
        ("crate not a path", append("crate = \"cache-core\"")),
        ("crate not a string", append("crate = cache_core")),
        ("crate with generics", append("crate = \"ttlc<u8>\"")),
    ]
}

fn name_of(argument: &str) -> &str {
    argument
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default()
}

fn without(args: &str, name: &str) -> String {
    split_arguments(args)
        .into_iter()
        .filter(|a| name_of(a) != name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn with_ttl(args: &str, ttl: &str) -> String {
    let rest: Vec<&str> = split_arguments(args)
        .into_iter()
        .filter(|a| !a.trim_start().starts_with("ttl"))
        .collect();
    std::iter::once(ttl)
        .filter(|t| !t.is_empty())
        .chain(rest)
        .collect::<Vec<_>>()
        .join(", ")
}

fn with_key(args: &str, key: &str) -> String {
    let rest: Vec<&str> = split_arguments(args)
        .into_iter()
        .filter(|a| {
            let a = a.trim_start();
            !a.starts_with("key") && !a.starts_with("group") && !a.starts_with("ignore")
        })
        .collect();
    rest.into_iter()
        .chain(std::iter::once(key))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits at top-level commas (not inside strings or brackets).
fn split_arguments(args: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut in_string, mut start) = (Vec::new(), 0, false, 0);
    for (i, c) in args.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '[' | '(' if !in_string => depth += 1,
            ']' | ')' if !in_string => depth -= 1,
            ',' if !in_string && depth == 0 => {
                parts.push(args[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(args[start..].trim());
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// What one expansion produced.
struct Outcome {
    errors: Vec<(String, Span)>,
}

/// Expands `#[ttl_cached(args)] item`, parsed from one string so that every user token has a
/// real location; panics (failing the test) if the expansion panics or does not parse.
fn expand(args: &str, item: &str) -> Result<Outcome, String> {
    let source = format!("#[ttl_cached({args})] {item}");
    let Ok(tokens) = TokenStream::from_str(&source) else {
        return Err("input does not tokenize".into());
    };
    // Split the attribute off: `#` `[...]` then the item.
    let mut trees = tokens.into_iter();
    let _pound = trees.next();
    let Some(TokenTree::Group(attr)) = trees.next() else {
        return Err("no attribute".into());
    };
    let item: TokenStream = trees.collect();
    let Some(TokenTree::Group(list)) = attr.stream().into_iter().nth(1) else {
        return Err("no argument list".into());
    };
    let output = catch_unwind(AssertUnwindSafe(|| {
        crate::item::expand(list.stream(), item.clone())
    }))
    .map_err(|_| format!("the expansion panicked on `{source}`"))?;
    syn::parse2::<syn::File>(output.clone())
        .map_err(|e| format!("the expansion of `{source}` does not parse: {e}"))?;
    Ok(Outcome {
        errors: compile_errors(output),
    })
}

#[derive(Default)]
struct Tally {
    cases: usize,
    valid: usize,
    invalid: usize,
    errors: usize,
    most_errors: usize,
    single_mistake_cases: usize,
    /// Errors reported for the single-mistake cases, in all and at most for one.
    single_mistake_errors: usize,
    single_mistake_most_errors: usize,
    single_mistake_not_one_error: Vec<String>,
    internal_names: Vec<String>,
    unspanned: usize,
    unspanned_kinds: Vec<String>,
    not_lowercase: Vec<String>,
    /// Attributes on a trait or on a method declaration, each refused with one error.
    refused_traits: usize,
}

impl Tally {
    fn record(&mut self, args: &str, item: &str, outcome: &Outcome) {
        self.cases += 1;
        if outcome.errors.is_empty() {
            self.valid += 1;
            return;
        }
        self.invalid += 1;
        self.errors += outcome.errors.len();
        self.most_errors = self.most_errors.max(outcome.errors.len());
        for (message, span) in &outcome.errors {
            assert!(
                !message.starts_with("invalid `#[ttl_cached]`"),
                "an error without a message for `{args}` on `{item}`"
            );
            for name in INTERNAL {
                if message.contains(name) {
                    self.internal_names.push(format!("{name} in: {message}"));
                }
            }
            if message.starts_with(|c: char| c.is_uppercase()) {
                self.not_lowercase.push(message.clone());
            }
            // The attribute itself is the user's token too, but in this harness it has no
            // location of its own; count such errors to keep them few.
            if span.byte_range() == Span::call_site().byte_range() {
                self.unspanned += 1;
                let head: String = message.chars().take(40).collect();
                if !self.unspanned_kinds.contains(&head) {
                    self.unspanned_kinds.push(head);
                }
            }
        }
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        // `items` is never empty here; the modulo keeps the index in range.
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// Argument fragments, valid and not, for the random combinations.
const FRAGMENTS: &[&str] = &[
    "ttl = 60",
    "ttl = \"250ms\"",
    "ttl = 0",
    "ttl = 1.5",
    "ttl = 300u8",
    "ttl: 60",
    "TTL = 60",
    "ttl =",
    "ttl = [1]",
    "key = \"<user_id>:<provider>:<folder_id>\"",
    "key = \"<user_id>\"",
    "key = \"<usr_id>\"",
    "key = \"<self.prefix>:<tenant>\"",
    "key = \"<tenant>:<name>\"",
    "key = 5",
    "key = \"<a\"",
    "key = \"{user_id}\"",
    "key = \"<>\"",
    "key = \"<width>\"",
    "group = \"<user_id>\"",
    "group = \"<provider>\"",
    "group = \"<self.prefix>\"",
    "group = 5",
    "capacity = 5",
    "capacity = 0",
    "capacity = 1.5",
    "capacity = -1",
    "ignore = [self]",
    "ignore = [provider, folder_id]",
    "ignore = [width, height]",
    "ignore = [width]",
    "ignore = [5]",
    "ignore = [a b]",
    "ignore = [_]",
    "ignore = [type]",
    "foo = 1",
    "=",
    "\"str\"",
    "ttl",
    "key = \"<r#type>:<req.user.id>\"",
    "crate = \"ttlc\"",
    "crate = \"::my::cache\"",
    "crate = 5",
    "crate = \"a b\"",
];

/// The impl-level attribute's arguments, valid and not; each invalid one is one error.
const IMPL_ARGUMENTS: &[(&str, usize)] = &[
    ("", 0),
    ("companion_prefix = \"ldap_\"", 0),
    ("crate = \"ttlc\"", 0),
    ("companion_prefix = \"ldap_\", crate = \"ttlc\"", 0),
    ("companion_prefix = \"1x\"", 1),
    ("companion_prefix = \"\"", 1),
    ("companion_prefix = 5", 1),
    ("crate = \"a-b\"", 1),
    ("ttl = 60, key = \"<id>\"", 1),
    ("prefix = \"x_\"", 1),
    ("crate = \"ttlc\", crate = \"ttlc\"", 1),
];

const SEPARATORS: &[&str] = &[", ", ", ", ", ", ", ", " ", ",, ", " , "];

#[test]
fn generated_inputs_never_panic_and_report_few_clean_errors() {
    let mut tally = Tally::default();

    // Each signature with its valid arguments expands without errors.
    for (item, args) in SIGNATURES {
        let outcome = expand(args, item).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            outcome.errors.is_empty(),
            "valid input `{args}` on `{item}` reported {:?}",
            outcome.errors
        );
        tally.record(args, item, &outcome);
    }

    // One mistake: one error.
    for (item, args) in SIGNATURES {
        for (what, mutate) in mutations() {
            let mutated = mutate(args);
            let outcome = expand(&mutated, item).unwrap_or_else(|e| panic!("{e}"));
            tally.record(&mutated, item, &outcome);
            // Some edits leave the input valid (a typo in a name that is then unused), or
            // make one mistake that shows in a few places; only these counts are the rule.
            if outcome.errors.is_empty() {
                continue;
            }
            tally.single_mistake_cases += 1;
            tally.single_mistake_errors += outcome.errors.len();
            tally.single_mistake_most_errors =
                tally.single_mistake_most_errors.max(outcome.errors.len());
            if outcome.errors.len() != 1 {
                tally.single_mistake_not_one_error.push(format!(
                    "{what}: `{mutated}` on `{item}`: {:?}",
                    outcome.errors.iter().map(|(m, _)| m).collect::<Vec<_>>()
                ));
            }
        }
    }

    // Random combinations: never a panic, a few errors at most.
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    for _ in 0..4000 {
        let (item, _) = rng.pick(SIGNATURES);
        let count = (rng.next() % 5) as usize;
        let mut args = String::new();
        let mut bad_separators = 0;
        for i in 0..count {
            if i > 0 {
                let separator = *rng.pick(SEPARATORS);
                bad_separators += usize::from(separator.trim() != ",");
                args.push_str(separator);
            }
            let fragment: &&str = rng.pick(FRAGMENTS);
            args.push_str(fragment);
        }
        // One case in four: the method-level attribute inside a marked trait impl; one in
        // eight, in a trait: on a marked trait, or on a declaration. A trait is refused with
        // one error, whatever the method's arguments say.
        let method = item.replace("pub(crate) ", "").replace("pub ", "");
        let outcome = match rng.next() % 8 {
            0 | 1 => {
                let block = format!(
                    "impl Directory for Ldap {{ type Id = u32; #[ttl_cached({args})] {method} }}"
                );
                // A mistake in the block's own arguments is one error, and the methods are
                // then left alone (their arguments unchecked).
                let (impl_args, impl_errors) = *rng.pick(IMPL_ARGUMENTS);
                let outcome = expand(impl_args, &block).unwrap_or_else(|e| panic!("{e}"));
                if impl_errors > 0 {
                    assert_eq!(
                        outcome.errors.len(),
                        impl_errors,
                        "`#[ttl_cached({impl_args})]` on `{block}`: {:?}",
                        outcome.errors
                    );
                }
                Ok(outcome)
            }
            2 => {
                let block = format!("trait Directory {{ #[ttl_cached({args})] {method} }}");
                let outcome = expand("", &block).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(outcome.errors.len(), 1, "`{block}`: {:?}", outcome.errors);
                tally.refused_traits += 1;
                Ok(outcome)
            }
            3 if method.ends_with('}') => {
                let body = method.find(" {").unwrap_or(method.len());
                let declaration = format!("{};", &method[..body]);
                let outcome = expand(&args, &declaration).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(
                    outcome.errors.len(),
                    1,
                    "`{declaration}`: {:?}",
                    outcome.errors
                );
                tally.refused_traits += 1;
                Ok(outcome)
            }
            _ => expand(&args, item),
        }
        .unwrap_or_else(|e| panic!("{e}"));
        // At most one error per fragment and per bad separator, plus a missing `ttl` and one
        // coverage error (a parameter neither in the key nor ignored).
        let limit = count + bad_separators + 2;
        assert!(
            outcome.errors.len() <= limit,
            "`{args}` on `{item}`: {} errors, more than {limit}: {:?}",
            outcome.errors.len(),
            outcome.errors.iter().map(|(m, _)| m).collect::<Vec<_>>()
        );
        tally.record(&args, item, &outcome);
    }

    let mean = |errors: usize, cases: usize| errors as f64 / cases.max(1) as f64;
    println!(
        "fuzz: {} cases tried ({} valid, {} invalid); errors per single-mistake case: at most {}, \
         mean {:.2} over {} cases ({} not exactly one); errors per invalid case (random \
         combinations of up to four fragments, several mistakes each): at most {}, mean {:.2}; \
         internal names seen in error messages: {}; errors on the attribute as a whole (a \
         missing `ttl`): {}; not lowercase: {}; traits and declarations refused with one error: {}",
        tally.cases,
        tally.valid,
        tally.invalid,
        tally.single_mistake_most_errors,
        mean(tally.single_mistake_errors, tally.single_mistake_cases),
        tally.single_mistake_cases,
        tally.single_mistake_not_one_error.len(),
        tally.most_errors,
        mean(tally.errors, tally.invalid),
        tally.internal_names.len(),
        tally.unspanned,
        tally.not_lowercase.len(),
        tally.refused_traits,
    );
    // The generator must keep producing what the counts are about.
    assert!(
        tally.single_mistake_cases >= 100 && tally.invalid >= 1000 && tally.valid >= 5,
        "the generator produced too few cases of a kind: {} single-mistake, {} invalid, {} valid",
        tally.single_mistake_cases,
        tally.invalid,
        tally.valid
    );
    assert_eq!(tally.single_mistake_most_errors, 1);
    // Only a missing `ttl` is about the attribute as a whole; everything else points at the
    // argument, placeholder, parameter or type concerned.
    assert!(
        tally
            .unspanned_kinds
            .iter()
            .all(|kind| kind.starts_with("missing `ttl`")),
        "errors on the attribute instead of the user's token: {:#?}",
        tally.unspanned_kinds
    );
    assert!(
        tally.internal_names.is_empty(),
        "{:#?}",
        tally.internal_names
    );
    assert!(tally.not_lowercase.is_empty(), "{:#?}", tally.not_lowercase);
    assert!(
        tally.single_mistake_not_one_error.is_empty(),
        "{:#?}",
        tally.single_mistake_not_one_error
    );
}
