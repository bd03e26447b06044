//! Parsing the impl-level attribute, `#[ttl_cached(companion_prefix = "photos_", crate =
//! "ttlc")]`, which refuses the method-level arguments with where they go.

use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Token};

use crate::args::NAMES;
use crate::errors::Errors;
use crate::values::{parse_crate_path, plain_string, skip_to_comma};

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
            self.krate = Some(parse_crate_path(input, &mut self.errors)?);
            return Ok(());
        }
        let message = "`companion_prefix` takes the start of an identifier in a string, such as \
                       `companion_prefix = \"photos_\"` for `photos_lookup_cache()` and \
                       `invalidate_photos_lookup`";
        if !input.peek(LitStr) {
            return Err(syn::Error::new(input.span(), message));
        }
        let lit = plain_string(
            input.parse()?,
            "companion_prefix",
            "\"photos_\"",
            &mut self.errors,
        );
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
