//! Parsing `#[ttl_cached(ttl = .., key = "..", group = "..", capacity = .., ignore = [..])]`
//! and the other arguments.
//!
//! Every argument is parsed even after an error, and all errors are reported together, so one
//! build shows every problem of the attribute.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{bracketed, Ident, LitInt, LitStr, Token};

use crate::duration::parse_duration;
use crate::errors::Errors;

const VALID: &str = "`ttl`, `key`, `group`, `capacity`, `ignore`, `store_if`, `store_none`, \
                     `scope`, `stale`, `stale_if_error`, `jitter`, `crate`";

/// The method-level arguments, in the order `VALID` lists them.
const NAMES: [&str; 12] = [
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
    "jitter",
    "crate",
];

/// The TTL: written in the attribute (validated and converted), or named by it.
#[derive(Debug, Clone)]
pub(crate) enum Ttl {
    Written {
        secs: u64,
        nanos: u32,
    },
    /// `ttl = LISTING_TTL`: a `const` or `static`, read when the cache is made.
    Named(syn::Path),
}

/// The capacity: written in the attribute (validated), or named by it.
#[derive(Debug, Clone)]
pub(crate) enum Capacity {
    Written(usize),
    /// `capacity = LISTINGS`: a `const` or `static`, read when the cache is made.
    Named(syn::Path),
}

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
    /// `jitter = "10%"`: the fraction of the TTL.
    pub(crate) jitter: Option<f64>,
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
                "jitter" => "jitter = \"10%\"",
                _ => "ignore = [self]",
            };
            return Err(syn::Error::new(
                eq.span,
                format!("missing value for `{key}`: write `{example}`"),
            ));
        }
        match key.as_str() {
            "ttl" => self.ttl = parse_ttl(input)?.or(self.ttl.take()),
            "key" => self.key = Some(parse_template(input, "key")?),
            "group" => self.group = Some(parse_template(input, "group")?),
            "capacity" => self.capacity = Some(parse_capacity(input)?),
            "crate" => self.krate = Some(parse_crate_path(input)?),
            "scope" => self.scope = Some(parse_scope(input)?),
            "store_if" => self.store_if = Some(parse_store_if(input)?),
            "stale" => {
                let (secs, nanos) = parse_window(input, "stale")?;
                self.stale = Some((secs, nanos, name.clone()));
            }
            "stale_if_error" => self.stale_if_error = Some(parse_window(input, "stale_if_error")?),
            "jitter" => self.jitter = Some(parse_jitter(input)?),
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

/// The impl-level attribute's arguments: `#[ttl_cached(companion_prefix = "photos_", crate =
/// "ttlc")]`, both optional. The method-level arguments are refused here, with where they go.
#[derive(Default)]
pub(crate) struct ImplArgs {
    pub(crate) prefix: Option<String>,
    pub(crate) krate: Option<proc_macro2::TokenStream>,
    pub(crate) errors: Errors,
}

const IMPL_VALID: &str = "`companion_prefix`, `crate`";

impl ImplArgs {
    pub(crate) fn parse(tokens: proc_macro2::TokenStream) -> Self {
        let mut args = Self::default();
        let parser = |input: ParseStream<'_>| {
            args.parse_all(input);
            Ok(())
        };
        // `parse_all` consumes every token and reports through `errors`.
        let _ = syn::parse::Parser::parse2(parser, tokens);
        args
    }

    fn parse_all(&mut self, input: ParseStream<'_>) {
        let mut seen: Vec<String> = Vec::new();
        let mut misplaced = false;
        while !input.is_empty() {
            if let Err(e) = self.parse_argument(input, &mut seen, &mut misplaced) {
                self.errors.push(e);
                skip_to_comma(input);
            }
            if input.peek(Token![,]) {
                let _ = input.parse::<Token![,]>();
            } else if !input.is_empty() {
                self.errors.error_at(
                    input.span(),
                    "expected `,` here: arguments are written `name = value`, separated by commas",
                );
                skip_to_comma(input);
            }
        }
    }

    fn parse_argument(
        &mut self,
        input: ParseStream<'_>,
        seen: &mut Vec<String>,
        misplaced: &mut bool,
    ) -> syn::Result<()> {
        let name: Ident = input.call(Ident::parse_any).map_err(|_| {
            syn::Error::new(
                input.span(),
                format!(
                    "expected an argument name; on an impl block, valid arguments are {IMPL_VALID}"
                ),
            )
        })?;
        let key = name.to_string();
        if NAMES.contains(&key.as_str()) && key != "crate" {
            // Method arguments on the block are one mistake, reported once.
            if !*misplaced {
                *misplaced = true;
                self.errors.error(
                    &name,
                    format!(
                        "`{key}` goes on each method, as `#[ttl_cached(ttl = 60, ...)]`; on an \
                         impl block, `#[ttl_cached]` takes only `companion_prefix` and `crate`"
                    ),
                );
            }
            skip_to_comma(input);
            return Ok(());
        }
        if !["companion_prefix", "crate"].contains(&key.as_str()) {
            self.errors.error(
                &name,
                format!(
                    "unknown argument `{key}`; on an impl block, valid arguments are {IMPL_VALID}"
                ),
            );
            skip_to_comma(input);
            return Ok(());
        }
        if seen.contains(&key) {
            self.errors.error(
                &name,
                format!("duplicate argument `{key}`; give each argument once"),
            );
            skip_to_comma(input);
            return Ok(());
        }
        seen.push(key.clone());
        if input.parse::<Token![=]>().is_err() {
            return Err(syn::Error::new(
                name.span(),
                format!("expected `{key} = \"...\"`; arguments are written `name = value`"),
            ));
        }
        if key == "crate" {
            self.krate = Some(parse_crate_path(input)?);
            return Ok(());
        }
        let message = "`companion_prefix` takes the start of an identifier in a string, such as \
                       `companion_prefix = \"photos_\"` for `photos_lookup_cache()` and \
                       `invalidate_photos_lookup`";
        if !input.peek(LitStr) {
            return Err(syn::Error::new(input.span(), message));
        }
        let lit: LitStr = input.parse()?;
        let prefix = lit.value();
        let valid = prefix
            .chars()
            .all(|c| c == '_' || c.is_ascii_alphanumeric())
            && !prefix.starts_with(|c: char| c.is_ascii_digit())
            && !prefix.is_empty();
        if !valid {
            return Err(syn::Error::new(lit.span(), message));
        }
        self.prefix = Some(prefix);
        Ok(())
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

/// Skips the rest of an argument: every token tree up to the next top-level comma.
fn skip_to_comma(input: ParseStream<'_>) {
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if let proc_macro2::TokenTree::Punct(p) = &tt {
                if p.as_char() == ',' {
                    return Ok(((), rest));
                }
            }
            rest = next;
        }
        Ok(((), rest))
    });
}

/// Rejects a literal suffix (`300u8`, `60f32`): the value would be read as written, without
/// the suffix's type, which is surprising either way.
fn no_suffix(suffix: &str, span: Span, which: &str, example: &str) -> syn::Result<()> {
    if suffix.is_empty() {
        Ok(())
    } else {
        Err(syn::Error::new(
            span,
            format!("remove the `{suffix}` suffix: `{which}` takes a plain number, such as `{which} = {example}`"),
        ))
    }
}

/// `key = "<a>:<b>"` and `group = "<a>"`: a string literal.
fn parse_template(input: ParseStream<'_>, which: &str) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        return input.parse();
    }
    let span = input.span();
    let example = if which == "key" {
        "\"<user_id>:<folder_id>\""
    } else {
        "\"<user_id>\""
    };
    Err(syn::Error::new(
        span,
        format!("`{which}` takes a string template, such as `{which} = {example}`"),
    ))
}

/// `stale = "30s"`, `stale_if_error = "5m"` or whole seconds: a window after the TTL,
/// greater than zero.
fn parse_window(input: ParseStream<'_>, which: &str) -> syn::Result<(u64, u32)> {
    let message = format!(
        "`{which}` takes whole seconds (`{which} = 300`) or a duration string \
         (`{which} = \"5m\"`, `\"90s\"`, `\"1h30m\"`)"
    );
    let lookahead = input.lookahead1();
    let (duration, span) = if lookahead.peek(LitInt) {
        let lit: LitInt = input.parse()?;
        no_suffix(lit.suffix(), lit.span(), which, "300")?;
        let secs: u64 = lit
            .base10_parse()
            .map_err(|_| syn::Error::new(lit.span(), &message))?;
        (std::time::Duration::from_secs(secs), lit.span())
    } else if lookahead.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        no_suffix(lit.suffix(), lit.span(), which, "\"5m\"")?;
        let duration = parse_duration(&lit.value()).map_err(|e| {
            // The duration syntax is the ttl's; its example is this argument's.
            let e = e.replace("`ttl = 60`", &format!("`{which} = 300`"));
            syn::Error::new(lit.span(), e)
        })?;
        (duration, lit.span())
    } else {
        return Err(syn::Error::new(input.span(), message));
    };
    if duration.is_zero() {
        return Err(syn::Error::new(
            span,
            format!("`{which}` must be greater than zero: leave it out for no window"),
        ));
    }
    Ok((duration.as_secs(), duration.subsec_nanos()))
}

/// `jitter = "10%"`: a percentage of the TTL, from 0 to 100.
fn parse_jitter(input: ParseStream<'_>) -> syn::Result<f64> {
    let message =
        "`jitter` takes a percentage of the TTL from 0 to 100, such as `jitter = \"10%\"`";
    let lit: LitStr = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), message))?;
    no_suffix(lit.suffix(), lit.span(), "jitter", "\"10%\"")?;
    let value = lit.value();
    let percent = value
        .trim()
        .strip_suffix('%')
        .and_then(|n| n.trim().parse::<f64>().ok())
        .filter(|p| (0.0..=100.0).contains(p))
        .ok_or_else(|| syn::Error::new(lit.span(), message))?;
    Ok(percent / 100.0)
}

/// `ttl = 60` or `ttl = "1h30m"`; `Ok(None)` never happens for valid input but keeps the
/// signature uniform with the error path.
fn parse_ttl(input: ParseStream<'_>) -> syn::Result<Option<Ttl>> {
    if let Some(path) = parse_named(input, "ttl", "LISTING_TTL", "Duration")? {
        return Ok(Some(Ttl::Named(path)));
    }
    let lookahead = input.lookahead1();
    if lookahead.peek(LitInt) {
        let lit: LitInt = input.parse()?;
        no_suffix(lit.suffix(), lit.span(), "ttl", "60")?;
        let secs: u64 = lit.base10_parse().map_err(|_| {
            syn::Error::new(
                lit.span(),
                "`ttl` in seconds must be a whole number that fits in a `u64`",
            )
        })?;
        if secs == 0 {
            return Err(syn::Error::new(
                lit.span(),
                "`ttl` must be greater than zero: a zero ttl would cache nothing",
            ));
        }
        Ok(Some(Ttl::Written { secs, nanos: 0 }))
    } else if lookahead.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        no_suffix(lit.suffix(), lit.span(), "ttl", "\"90s\"")?;
        let duration = parse_duration(&lit.value()).map_err(|e| syn::Error::new(lit.span(), e))?;
        if duration.is_zero() {
            return Err(syn::Error::new(
                lit.span(),
                "`ttl` must be greater than zero: a zero ttl would cache nothing",
            ));
        }
        Ok(Some(Ttl::Written {
            secs: duration.as_secs(),
            nanos: duration.subsec_nanos(),
        }))
    } else if input.peek(syn::LitFloat) {
        let lit: syn::LitFloat = input.parse()?;
        Err(syn::Error::new(
            lit.span(),
            "`ttl` takes whole seconds (`ttl = 60`) or a duration string (`ttl = \"1500ms\"`)",
        ))
    } else {
        Err(syn::Error::new(
            input.span(),
            "`ttl` takes whole seconds (`ttl = 60`), a duration string (`ttl = \"90s\"`, \
             `\"1h30m\"`, `\"250ms\"`), or the name of a `const` or `static` \
             (`ttl = LISTING_TTL`)",
        ))
    }
}

/// `ttl = LISTING_TTL`, `capacity = config::LISTINGS`: the path of a `const` or `static`, or
/// `None` if the value is not a path. The cache is made outside the function, where `Self` and
/// an expression's context do not exist, so only a path to an item is taken.
fn parse_named(
    input: ParseStream<'_>,
    which: &str,
    example: &str,
    ty: &str,
) -> syn::Result<Option<syn::Path>> {
    if !(input.peek(Ident::peek_any) || input.peek(Token![::])) {
        return Ok(None);
    }
    let path: syn::Path = input.parse()?;
    if path.segments.first().is_some_and(|s| s.ident == "Self") {
        let rest: Vec<_> = path.segments.iter().skip(1).map(|s| &s.ident).collect();
        let rest = quote::quote!(#(#rest)::*).to_string().replace(' ', "");
        return Err(syn::Error::new_spanned(
            &path,
            format!(
                "`{which}` cannot name an item through `Self`: the cache is made outside the \
                 impl; name the type instead of `Self`, as in `{which} = MyType::{rest}`"
            ),
        ));
    }
    if input.peek(syn::token::Paren) || input.peek(Token![.]) || input.peek(syn::token::Brace) {
        // The whole expression, so that the error covers it.
        let rest = input.step(|cursor| {
            let mut rest = *cursor;
            let mut tokens = proc_macro2::TokenStream::new();
            while let Some((tt, next)) = rest.token_tree() {
                if matches!(&tt, proc_macro2::TokenTree::Punct(p) if p.as_char() == ',') {
                    break;
                }
                tokens.extend([tt]);
                rest = next;
            }
            Ok((tokens, rest))
        })?;
        let expression = quote::quote!(#path #rest);
        let text = crate::source::display(&expression.to_string())
            .replace(" (", "(")
            .replace("( ", "(")
            .replace(" )", ")");
        return Err(syn::Error::new_spanned(
            expression,
            format!(
                "`{which}` takes the name of a `const` or `static`, not an expression: declare \
                 `const {example}: {ty} = {text};` and write `{which} = {example}`"
            ),
        ));
    }
    Ok(Some(path))
}

/// `crate = "ttlc"`: a string holding a path (the serde and tokio convention), as tokens spanned
/// on the string, so that an unresolved path is reported there.
pub(crate) fn parse_crate_path(input: ParseStream<'_>) -> syn::Result<proc_macro2::TokenStream> {
    let message = "`crate` takes the path of the `cache-core` crate in a string, such as \
                   `crate = \"ttlc\"` for a dependency renamed `ttlc`";
    // Peeked first: a literal of another kind would be consumed by the failed parse, and the
    // error would lose its place.
    if !input.peek(LitStr) {
        return Err(syn::Error::new(input.span(), message));
    }
    let lit: LitStr = input.parse()?;
    let path: syn::Path = lit
        .parse()
        .map_err(|_| syn::Error::new(lit.span(), message))?;
    if path.segments.iter().any(|s| !s.arguments.is_none()) {
        return Err(syn::Error::new(lit.span(), message));
    }
    Ok(quote::quote!(#path))
}

/// `scope = Account`: the path of a scope declared with `cache_core::scope!`.
fn parse_scope(input: ParseStream<'_>) -> syn::Result<syn::Path> {
    let message = "`scope` takes the name of a scope declared with `cache_core::scope!`, such as \
                   `scope = Account`";
    if !(input.peek(Ident::peek_any) || input.peek(Token![::])) {
        return Err(syn::Error::new(input.span(), message));
    }
    let path: syn::Path = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), message))?;
    Ok(path)
}

/// `store_if = |value| ..` or `store_if = path::to::predicate`: any expression, whose type is
/// checked where it is used (on these tokens).
fn parse_store_if(input: ParseStream<'_>) -> syn::Result<syn::Expr> {
    input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "`store_if` takes a function or closure from `&value` to `bool`, such as \
             `store_if = |listing| !listing.is_empty()` or `store_if = Option::is_some`",
        )
    })
}

/// `capacity = 10_000` or `capacity = LISTINGS`.
fn parse_capacity(input: ParseStream<'_>) -> syn::Result<Capacity> {
    if let Some(path) = parse_named(input, "capacity", "LISTINGS", "usize")? {
        return Ok(Capacity::Named(path));
    }
    let message = "`capacity` takes a whole number of entries, such as `capacity = 10_000`, or \
                   the name of a `const` or `static` (`capacity = LISTINGS`)";
    if input.peek(syn::LitFloat) {
        let lit: syn::LitFloat = input.parse()?;
        return Err(syn::Error::new(lit.span(), message));
    }
    let Ok(lit) = input.parse::<LitInt>() else {
        return Err(syn::Error::new(input.span(), message));
    };
    no_suffix(lit.suffix(), lit.span(), "capacity", "10_000")?;
    match lit.base10_parse::<usize>() {
        Ok(0) => Err(syn::Error::new(
            lit.span(),
            "`capacity` must be at least 1: a zero capacity would cache nothing",
        )),
        Ok(n) => Ok(Capacity::Written(n)),
        Err(_) => Err(syn::Error::new(
            lit.span(),
            "`capacity` must be a whole number that fits in a `usize`",
        )),
    }
}

/// `ignore = [self, http]` (a single name without brackets is accepted too). A bad entry is
/// reported and the others are kept.
fn parse_ignore(input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<Vec<Ident>> {
    let parse_one = |input: ParseStream<'_>| -> syn::Result<Ident> {
        if input.peek(Token![_]) {
            let token: Token![_] = input.parse()?;
            Err(syn::Error::new(
                token.span,
                "`ignore` takes parameter names; `_` parameters are never part of the key",
            ))
        } else if input.peek(Ident::peek_any) {
            // Keywords too (`self`, and `type` for a parameter `r#type`, checked later).
            input.call(Ident::parse_any)
        } else {
            Err(syn::Error::new(
                input.span(),
                "`ignore` takes parameter names, such as `ignore = [self, http]`",
            ))
        }
    };
    if !input.peek(syn::token::Bracket) {
        return Ok(vec![parse_one(input)?]);
    }
    let content;
    bracketed!(content in input);
    let mut names = Vec::new();
    while !content.is_empty() {
        match parse_one(&content) {
            Ok(name) => names.push(name),
            Err(e) => {
                errors.push(e);
                skip_to_comma(&content);
            }
        }
        if content.is_empty() {
            break;
        }
        if content.parse::<Token![,]>().is_err() {
            errors.error_at(
                content.span(),
                "expected `,` between the names in `ignore = [...]`",
            );
            skip_to_comma(&content);
            let _ = content.parse::<Token![,]>();
        }
    }
    Ok(names)
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
    fn rejects_float_ttl() {
        let args = Args::parse(quote!(ttl = 1.5));
        assert!(messages(&args)[0].contains("whole seconds"));
    }
}
