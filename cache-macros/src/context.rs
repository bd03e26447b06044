//! What an expansion knows about where the function lives (free, inherent impl, trait impl),
//! the names it generates, the attributes it repeats, and how it names the runtime and its own
//! locals: shared by the expansion (`expand.rs`, `companions.rs`) and the stand-in expansion on
//! errors (`fallback.rs`).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ext::IdentExt;
use syn::visit_mut::VisitMut;
use syn::{Attribute, Ident, Signature, Type, Visibility};

/// Where the function is, as far as its expansion can tell: which decides whether it may name
/// `Self`, and whether its companions must check that `Self` is an impl's type.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// In an impl block marked `#[ttl_cached]`.
    MarkedImpl,
    /// A method (it has a receiver or names `Self`) of an unmarked impl, or of a trait.
    SelfType,
    /// A function that may be free or an associated function of an unmarked impl (nothing in its
    /// signature tells): the owner is read from a closure's type name, so that the same code
    /// works in both places.
    Probe,
}

/// Where the function lives, which decides how its companions are reached and placed.
#[derive(Clone)]
pub(crate) struct Context {
    /// How the body and the companions reach the cache.
    pub(crate) reach: Reach,
    /// The companions' visibility.
    pub(crate) vis: Visibility,
    /// The attribute, for errors about the attribute as a whole.
    pub(crate) attr_span: Span,
    /// In a trait impl: the self type and the trait, so that `Self::Id` in a parameter type
    /// becomes `<Type as Trait>::Id` in the companions, which live in an inherent impl where
    /// `Self::Id` would be ambiguous.
    pub(crate) trait_impl: Option<(Type, syn::Path)>,
    /// The path of the runtime crate: `::cache_core`, or the `crate = "..."` argument.
    pub(crate) krate: TokenStream,
    /// Put before the function's name in its companions' names (`companion_prefix`).
    pub(crate) prefix: String,
}

/// The runtime crate's path when no `crate = "..."` is given.
pub(crate) fn default_krate() -> TokenStream {
    quote!(::cache_core)
}

impl Context {
    /// `ty` as the companions write it.
    pub(crate) fn companion_type(&self, ty: &Type) -> Type {
        let mut ty = ty.clone();
        if let Some((self_ty, trait_path)) = &self.trait_impl {
            QualifySelf {
                self_ty,
                trait_path,
            }
            .visit_type_mut(&mut ty);
        }
        ty
    }
}

/// Rewrites `Self::Assoc` into `<SelfTy as Trait>::Assoc`.
struct QualifySelf<'a> {
    self_ty: &'a Type,
    trait_path: &'a syn::Path,
}

impl VisitMut for QualifySelf<'_> {
    fn visit_type_path_mut(&mut self, ty: &mut syn::TypePath) {
        let segments = &ty.path.segments;
        if ty.qself.is_none() && segments.len() >= 2 && segments[0].ident == "Self" {
            let (self_ty, trait_path) = (self.self_ty, self.trait_path);
            let rest: Vec<_> = segments.iter().skip(1).collect();
            *ty = syn::parse_quote!(<#self_ty as #trait_path>::#(#rest)::*);
            return;
        }
        syn::visit_mut::visit_type_path_mut(self, ty);
    }
}

/// The generated identifiers of one function.
pub(crate) struct Names {
    pub(crate) function: Ident,
    pub(crate) cache: Ident,
    pub(crate) invalidate: Ident,
    pub(crate) invalidate_key: Ident,
    pub(crate) refresh: Ident,
}

impl Names {
    pub(crate) fn of(sig: &Signature, prefix: &str) -> Self {
        let function = sig.ident.unraw();
        let name = |format: &str| {
            let name = format.replace("{}", &format!("{prefix}{function}"));
            Ident::new(&name, Span::call_site())
        };
        Self {
            cache: name("{}_cache"),
            invalidate: name("invalidate_{}"),
            invalidate_key: name("invalidate_{}_key"),
            refresh: name("refresh_{}"),
            function,
        }
    }
}

/// `#[ttl_cached]` or `#[ttl_cached(...)]`, by any path (`#[cache_core::ttl_cached]`).
pub(crate) fn is_ttl_cached(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "ttl_cached")
}

// Input:
//
//     #[ttl_cached(ttl = 60)]
//     #[ttl_cached(ttl = 30)]
//     async fn f(a: u32) -> u32 { .. }
//
// Output, from the first attribute's expansion: `f` cached by the first, without the second
// (which would expand it again and define each companion twice, three or four "defined multiple
// times" errors), and one error on the second.
/// Takes every further `#[ttl_cached]` off a function whose own is being expanded (and so is no
/// longer among `attrs`), with one error on the first of them.
pub(crate) fn written_twice(attrs: &mut Vec<Attribute>, function: &Ident) -> Option<syn::Error> {
    let first = attrs.iter().position(is_ttl_cached)?;
    let error = syn::Error::new_spanned(
        &attrs[first],
        format!(
            "`#[ttl_cached]` is written twice on `{}`; remove one",
            function.unraw()
        ),
    );
    attrs.retain(|a| !is_ttl_cached(a));
    Some(error)
}

/// Attributes of the function repeated on its companions: `#[cfg]`, so they exist when it
/// does, and `#[allow]`, since `invalidate_<fn>` mirrors its parameters (and their lints).
pub(crate) fn cfg_attrs(attrs: &[Attribute]) -> Vec<&Attribute> {
    attrs
        .iter()
        .filter(|a| {
            ["cfg", "cfg_attr", "allow"]
                .iter()
                .any(|name| a.path().is_ident(name))
        })
        .collect()
}

/// `krate` with every token spanned at `span`, so that errors through the default path into the
/// runtime land where the expansion puts them. A path from `crate = "..."` keeps the string's
/// span: if it does not resolve, every error is on the string, and rustc shows them once.
pub(crate) fn krate_at(krate: &TokenStream, span: Span) -> TokenStream {
    if krate.to_string() != default_krate().to_string() {
        return krate.clone();
    }
    krate
        .clone()
        .into_iter()
        .map(|mut tree| {
            tree.set_span(span);
            tree
        })
        .collect()
}

/// A local of the expansion, out of reach of the user's code (`Span::mixed_site`).
pub(crate) fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}
