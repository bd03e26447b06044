//! Collects errors so that one build reports every problem of an attribute (after serde's
//! `Ctxt`), then combines them into one `syn::Error`; and writes code into messages as a person
//! writes it.

use quote::ToTokens;

#[derive(Default)]
pub(crate) struct Errors {
    list: Vec<syn::Error>,
}

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.list.push(error);
    }

    pub(crate) fn error(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.list.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn error_at(&mut self, span: proc_macro2::Span, message: impl std::fmt::Display) {
        self.list.push(syn::Error::new(span, message));
    }

    pub(crate) fn extend(&mut self, other: Errors) {
        self.list.extend(other.list);
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// All errors as one, or `None` if there were none.
    pub(crate) fn combine(self) -> Option<syn::Error> {
        self.list.into_iter().reduce(|mut all, e| {
            all.combine(e);
            all
        })
    }

    #[cfg(test)]
    pub(crate) fn messages(&self) -> Vec<String> {
        self.list.iter().map(ToString::to_string).collect()
    }
}

/// Tokens as a person writes them: `&'static L`, `Vec<String>`.
pub(crate) fn display(tokens: &str) -> String {
    tokens
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace("& ", "&")
}
