//! Parsing `#[ttl_cached(ttl = .., key = "..", group = "..", capacity = .., ignore = [..])]`
//! and the other arguments of a cached function; the value of each argument is read by
//! `values.rs`.
//!
//! Every argument is parsed even after an error, and all errors are reported together, so one
//! build shows every problem of the attribute.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Token};

use crate::errors::Errors;
use crate::values::{
    parse_capacity, parse_crate_path, parse_error_predicate, parse_ignore, parse_jitter,
    parse_scope, parse_shared_tier, parse_store_if, parse_template, parse_ttl, parse_window,
    skip_to_comma, Capacity, Ttl,
};

const VALID: &str = "`ttl`, `key`, `group`, `capacity`, `ignore`, `store_if`, `store_none`, \
                     `scope`, `stale`, `stale_if_error`, `throttle`, `serve_stale_if`, \
                     `revoke_if`, `timeout`, `soft_timeout`, `jitter`, `shared_tier`, `crate`";

/// The method-level arguments, in the order `VALID` lists them.
pub(crate) const NAMES: [&str; 18] = [
    "ttl",
    "key",
    "group",
    "capacity",
    "ignore",
    "store_if",
    "store_none",
    "scope",
    "stale",
    "stale_if_error",
    "throttle",
    "serve_stale_if",
    "revoke_if",
    "timeout",
    "soft_timeout",
    "jitter",
    "shared_tier",
    "crate",
];

/// The attribute's arguments; `None` where absent or invalid (the error is in `errors`).
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) ttl: Option<Ttl>,
    pub(crate) key: Option<LitStr>,
    pub(crate) group: Option<LitStr>,
    pub(crate) capacity: Option<Capacity>,
    pub(crate) ignore: Vec<Ident>,
    /// `store_if = PREDICATE`: a value is stored only where `PREDICATE(&value)` is true.
    pub(crate) store_if: Option<syn::Expr>,
    /// `store_none = false` (the `false`): `None` is not stored.
    pub(crate) store_none_false: Option<syn::LitBool>,
    /// `crate = "path"`: the path the expansion names the runtime by, for a renamed or
    /// re-exported `cache-core`.
    pub(crate) krate: Option<proc_macro2::TokenStream>,
    /// `scope = Account`: the scope the function's group joins.
    pub(crate) scope: Option<syn::Path>,
    /// `stale = "30s"`: `(secs, nanos)`, and the argument's name, where errors about it go.
    pub(crate) stale: Option<(u64, u32, Ident)>,
    /// `stale_if_error = "5m"`: `(secs, nanos)`.
    pub(crate) stale_if_error: Option<(u64, u32)>,
    /// `throttle = "5s"`: `(secs, nanos)`, and the argument's name, where errors about it go.
    pub(crate) throttle: Option<(u64, u32, Ident)>,
    /// `serve_stale_if = PREDICATE`: only errors for which it is true are papered over.
    pub(crate) serve_stale_if: Option<syn::Expr>,
    /// `revoke_if = PREDICATE`: errors for which it is true invalidate the group.
    pub(crate) revoke_if: Option<syn::Expr>,
    /// `timeout = "10s"`: `(secs, nanos)`, and the argument's name, where errors about it go.
    pub(crate) timeout: Option<(u64, u32, Ident)>,
    /// `soft_timeout = "500ms"`: `(secs, nanos)`, and the argument's name.
    pub(crate) soft_timeout: Option<(u64, u32, Ident)>,
    /// `jitter = "10%"`: the fraction of the TTL.
    pub(crate) jitter: Option<f64>,
    /// `shared_tier = true` (`None` inside) or `shared_tier = NAME`, and the argument's name,
    /// where errors about it go; `shared_tier = false` leaves it `None`.
    pub(crate) shared_tier: Option<(Ident, Option<syn::Path>)>,
    /// Set when `ttl` was given (valid or not), to avoid also reporting it missing.
    pub(crate) ttl_given: bool,
    /// Set when `key`, `group` or `ignore` was given but could not be read: the checks that
    /// depend on them would only report follow-on errors, so they are skipped.
    pub(crate) key_unreadable: bool,
    pub(crate) errors: Errors,
}

impl Args {
    /// Parses the attribute's argument tokens; never fails, errors are collected in `errors`.
    /// Each argument is parsed on its own: a mistake in one (a missing comma, a value of the
    /// wrong kind) is reported, and the others are still read and checked.
    pub(crate) fn parse(tokens: proc_macro2::TokenStream) -> Self {
        syn::parse2(tokens).unwrap_or_else(|e| {
            // `parse_all` consumes every token, so this is not reached; an error, not a panic.
            let mut args = Self {
                ttl_given: true,
                key_unreadable: true,
                ..Self::default()
            };
            args.errors.push(e);
            args
        })
    }

    fn parse_all(&mut self, input: ParseStream<'_>) {
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            if let Err(e) = self.parse_argument(input, &mut seen) {
                self.errors.push(e);
                skip_to_comma(input);
                if seen
                    .last()
                    .is_some_and(|name| ["key", "group", "ignore"].contains(&name.as_str()))
                {
                    self.key_unreadable = true;
                }
            }
            if input.is_empty() {
                break;
            }
            if input.peek(Token![,]) {
                let _ = input.parse::<Token![,]>();
                continue;
            }
            // Two arguments without a comma between them: say so, and read the next one.
            let next = input.span();
            if input.peek(Ident::peek_any) {
                let name = input.fork().call(Ident::parse_any).map(|i| i.to_string());
                let name = name.unwrap_or_default();
                self.errors.error_at(
                    next,
                    format!("expected `,` before `{name}`: separate the arguments with commas"),
                );
            } else {
                self.errors.error_at(
                    next,
                    "expected `,` here: arguments are written `name = value`, separated by commas",
                );
                skip_to_comma(input);
            }
        }
    }

    /// One `name = value`; an error leaves the rest of the argument unread.
    fn parse_argument(
        &mut self,
        input: ParseStream<'_>,
        seen: &mut Vec<String>,
    ) -> syn::Result<()> {
        let name: Ident = match input.call(Ident::parse_any) {
            Ok(name) => name,
            Err(_) => {
                let span = input.span();
                return Err(syn::Error::new(
                    span,
                    format!("expected an argument name; valid arguments are {VALID}"),
                ));
            }
        };
        let key = name.to_string();
        let known = NAMES.contains(&key.as_str());
        if known && seen.contains(&key) {
            self.errors.error(
                &name,
                format!("duplicate argument `{key}`; give each argument once"),
            );
            // Its value is not read: the first one counts, and the second's own mistakes, if
            // any, would be reported about an argument that is going away.
            skip_to_comma(input);
            return Ok(());
        }
        seen.push(key.clone());
        if key == "ttl" {
            // Whatever follows, `ttl` is not "missing".
            self.ttl_given = true;
        }
        if key == "stale_while_revalidate" {
            self.errors.error(
                &name,
                "serving stale while revalidating is written `stale = \"30s\"` (a window after \
                 the TTL)",
            );
            skip_to_comma(input);
            return Ok(());
        }
        if !known {
            let meant = suggest_argument(&key);
            // The argument meant is not reported missing or left unchecked as well.
            match meant {
                Some("ttl") => self.ttl_given = true,
                Some("key" | "group" | "ignore") => self.key_unreadable = true,
                _ => {}
            }
            let hint = meant
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            self.errors.error(
                &name,
                format!("unknown argument `{key}`{hint}; valid arguments are {VALID}"),
            );
            // The value is skipped with the rest of the argument.
            skip_to_comma(input);
            return Ok(());
        }
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                name.span(),
                format!("expected `{key} = ...`; arguments are written `name = value`"),
            ));
        }
        let eq: Token![=] = input.parse()?;
        if input.is_empty() || input.peek(Token![,]) {
            let example = match key.as_str() {
                "ttl" => "ttl = 60",
                "key" => "key = \"<user_id>:<folder_id>\"",
                "group" => "group = \"<user_id>\"",
                "capacity" => "capacity = 10_000",
                "crate" => "crate = \"cache_core\"",
                "scope" => "scope = Account",
                "store_if" => "store_if = |value| ...",
                "store_none" => "store_none = false",
                "stale" => "stale = \"30s\"",
                "stale_if_error" => "stale_if_error = \"5m\"",
                "throttle" => "throttle = \"5s\"",
                "serve_stale_if" => "serve_stale_if = |error| ...",
                "revoke_if" => "revoke_if = |error| ...",
                "timeout" => "timeout = \"10s\"",
                "soft_timeout" => "soft_timeout = \"500ms\"",
                "jitter" => "jitter = \"10%\"",
                "shared_tier" => "shared_tier = true",
                _ => "ignore = [self]",
            };
            return Err(syn::Error::new(
                eq.span,
                format!("missing value for `{key}`: write `{example}`"),
            ));
        }
        match key.as_str() {
            "ttl" => self.ttl = parse_ttl(input)?.or(self.ttl.take()),
            "key" => self.key = Some(parse_template(input, "key", &mut self.errors)?),
            "group" => {
                self.group = Some(parse_template(input, "group", &mut self.errors)?);
            }
            "capacity" => self.capacity = Some(parse_capacity(input)?),
            "crate" => self.krate = Some(parse_crate_path(input, &mut self.errors)?),
            "scope" => self.scope = Some(parse_scope(input)?),
            "store_if" => self.store_if = Some(parse_store_if(input)?),
            "stale" => {
                let (secs, nanos) = parse_window(input, "stale")?;
                self.stale = Some((secs, nanos, name.clone()));
            }
            "stale_if_error" => self.stale_if_error = Some(parse_window(input, "stale_if_error")?),
            "throttle" => {
                let (secs, nanos) = parse_window(input, "throttle")?;
                self.throttle = Some((secs, nanos, name.clone()));
            }
            "serve_stale_if" => {
                self.serve_stale_if = Some(parse_error_predicate(input, "serve_stale_if")?);
            }
            "revoke_if" => self.revoke_if = Some(parse_error_predicate(input, "revoke_if")?),
            "timeout" => {
                let (secs, nanos) = parse_window(input, "timeout")?;
                self.timeout = Some((secs, nanos, name.clone()));
            }
            "soft_timeout" => {
                let (secs, nanos) = parse_window(input, "soft_timeout")?;
                self.soft_timeout = Some((secs, nanos, name.clone()));
            }
            "jitter" => self.jitter = Some(parse_jitter(input)?),
            "shared_tier" => {
                self.shared_tier = parse_shared_tier(input)?.map(|named| (name.clone(), named));
            }
            "store_none" => {
                let store: syn::LitBool = input.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "`store_none` takes `false` (do not store `None`) or `true` (the default)",
                    )
                })?;
                self.store_none_false = (!store.value).then_some(store);
            }
            "ignore" => {
                let before = self.errors.len();
                self.ignore.extend(parse_ignore(input, &mut self.errors)?);
                // A name that could not be read may be the one a parameter is missing.
                self.key_unreadable |= self.errors.len() > before;
            }
            _ => unreachable!("unknown arguments returned above"),
        }
        if !input.is_empty() && !input.peek(Token![,]) && !input.peek(Ident::peek_any) {
            // `ttl = 60 s`, `capacity = 5 + 1`: the value goes on past what was read.
            return Err(syn::Error::new(
                input.span(),
                format!("unexpected tokens after the value of `{key}`"),
            ));
        }
        Ok(())
    }
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Self::default();
        args.parse_all(input);
        Ok(args)
    }
}

/// The valid argument that `name` most likely meant: a typo, or a different case (`TTL`).
fn suggest_argument(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    NAMES
        .iter()
        .find(|n| **n == lower)
        .copied()
        .or_else(|| crate::suggest::nearest(&lower, NAMES))
}

/// The span to report a missing `ttl` on.
pub(crate) fn missing_ttl(span: Span) -> syn::Error {
    syn::Error::new(
        span,
        "missing `ttl`: add `ttl = 60` (seconds) or a duration string such as `ttl = \"90s\"`",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn messages(args: &Args) -> Vec<String> {
        args.errors.messages()
    }

    #[test]
    fn parses_every_argument() {
        let args = Args::parse(quote!(
            ttl = "1m30s",
            key = "<a>:<b>",
            group = "<a>",
            capacity = 5,
            ignore = [self, c]
        ));
        assert!(args.errors.is_empty(), "{:?}", messages(&args));
        assert!(matches!(
            args.ttl,
            Some(Ttl::Written { secs: 90, nanos: 0 })
        ));
        assert_eq!(args.key.unwrap().value(), "<a>:<b>");
        assert_eq!(args.group.unwrap().value(), "<a>");
        assert!(matches!(args.capacity, Some(Capacity::Written(5))));
        let ignored: Vec<String> = args.ignore.iter().map(ToString::to_string).collect();
        assert_eq!(ignored, ["self", "c"]);
    }

    #[test]
    fn reports_all_bad_arguments_together() {
        let args = Args::parse(quote!(ttl = 0, tll = 5, capacity = 0, ttl = 3));
        let m = messages(&args);
        assert_eq!(m.len(), 4, "{m:?}");
        assert!(m[0].contains("greater than zero"));
        assert!(m[1].contains("unknown argument `tll` (did you mean `ttl`?)"));
        assert!(m[2].contains("`capacity` must be at least 1"));
        assert!(m[3].contains("duplicate argument `ttl`"));
    }

    #[test]
    fn shared_tier_is_true_false_or_a_name() {
        let on = Args::parse(quote!(ttl = 60, shared_tier = true));
        assert!(on.errors.is_empty());
        assert!(matches!(on.shared_tier, Some((_, None))));
        let off = Args::parse(quote!(ttl = 60, shared_tier = false));
        assert!(off.errors.is_empty() && off.shared_tier.is_none());
        let named = Args::parse(quote!(ttl = 60, shared_tier = tiers::LISTING));
        let path = named.shared_tier.and_then(|(_, path)| path).unwrap();
        assert_eq!(quote!(#path).to_string(), "tiers :: LISTING");
        let bad = Args::parse(quote!(ttl = 60, shared_tier = "yes"));
        assert!(messages(&bad)[0].starts_with("`shared_tier` takes `true`, or the name"));
    }

    #[test]
    fn rejects_float_ttl() {
        let args = Args::parse(quote!(ttl = 1.5));
        assert!(messages(&args)[0].contains("whole seconds"));
    }

    #[test]
    fn a_suffixed_string_is_one_error_and_read_without_its_suffix() {
        let args = Args::parse(quote!(
            ttl = 60,
            key = "<a>"suffix,
            group = "<a>"g,
            crate = "c"x
        ));
        let m = messages(&args);
        assert_eq!(m.len(), 3, "{m:?}");
        assert!(m[0].starts_with("remove the `suffix` suffix: `key` takes a plain string"));
        assert!(m[1].starts_with("remove the `g` suffix: `group` takes a plain string"));
        assert!(m[2].starts_with("remove the `x` suffix: `crate` takes a plain string"));
        // The strings are kept: the key is still checked, and the crate path still used.
        assert!(!args.key_unreadable);
        let key = args.key.unwrap();
        assert_eq!((key.value(), key.suffix()), ("<a>".to_string(), ""));
        assert_eq!(args.group.unwrap().value(), "<a>");
        assert_eq!(args.krate.unwrap().to_string(), "c");
    }
}
