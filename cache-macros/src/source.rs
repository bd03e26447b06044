//! What an expansion learns from the file it is in. An attribute sees only its own item, yet two
//! placements depend on the code around it: a method-level `#[ttl_cached(...)]` in a trait impl
//! without the impl-level attribute has nowhere to put its companions, and two trait impls of one
//! type that cache methods of the same name would both give the type `<method>_cache()`. Both
//! are read from the source file, summarized here, so that each is one error that names the fix
//! rather than rustc's "not a member of trait" (E0407) or "duplicate definitions" (E0592) per
//! companion.
//!
//! The same summary tells which structs a cached function's module defines, so that a field path
//! in its key (`<self.account>`, `<req.user_id>`) is checked against the struct's fields by the
//! attribute, once (`fields.rs`), where rustc would report a missing field at every access the
//! expansion generates.
//!
//! The file is found through `Span::local_file` (Rust 1.88 and later). Where it is not available
//! (an older compiler, an IDE's expansion, an impl written by another macro, a second impl in
//! another file or module) nothing is found, and rustc's own errors remain.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::visit::Visit;
use syn::{Attribute, ImplItem, ItemImpl, Meta};

use crate::context::is_ttl_cached;
use crate::errors::display;
use crate::impl_args::ImplArgs;

/// The impls, functions and structs of a file, in the order they are written.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    impls: Vec<ImplSummary>,
    /// The functions written outside impls, with their `#[ttl_cached(...)]` arguments.
    free_fns: Vec<MethodSummary>,
    structs: Vec<StructSummary>,
}

#[derive(Debug)]
struct ImplSummary {
    /// The module or block the impl is written in: two impls name the same type with the same
    /// tokens only within one scope.
    scope: usize,
    trait_path: Option<String>,
    self_ty: String,
    /// The impl-level `#[ttl_cached(...)]`: `None` if absent, else its `companion_prefix`.
    marked: Option<Marked>,
    /// Under `#[cfg]`: it may not be compiled together with another impl.
    conditional: bool,
    /// Type parameters: refused on a marked impl, and one cache per instantiation elsewhere.
    generic: bool,
    methods: Vec<MethodSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Marked {
    Prefix(String),
    /// The block's own arguments are wrong: it is left unexpanded, with no companions.
    Invalid,
}

#[derive(Debug)]
struct MethodSummary {
    /// The module or block the function (or its impl) is written in.
    scope: usize,
    name: String,
    /// The arguments of the method's `#[ttl_cached(...)]`, if it has one.
    cached: Option<String>,
    sig: String,
    conditional: bool,
}

#[derive(Debug)]
struct StructSummary {
    scope: usize,
    name: String,
    /// `None` where an attribute other than the compiler's own (`derive`, `doc`, `cfg`, ...)
    /// may rewrite the struct, so that its fields as written are not known to be its fields.
    fields: Option<Fields>,
    /// Type or const parameters, which its fields' types may name.
    generic: bool,
}

/// A struct's fields as written: by name with their types, by position, or none.
#[derive(Debug)]
pub(crate) enum Fields {
    Named(Vec<(String, String)>),
    Unnamed(Vec<String>),
    Unit,
}

/// A file's summary with what identifies the file's contents: its path, size and time.
type Kept = (PathBuf, (u64, SystemTime), Arc<Summary>);

/// Another impl that gives the same type companions of the same names.
pub(crate) struct Conflict {
    /// `impl Files for Drive` or `impl Drive`, as written.
    pub(crate) other: String,
}

impl Summary {
    /// The summary of the file the attribute being expanded is in, if it can be read.
    pub(crate) fn of_call_site() -> Option<Arc<Summary>> {
        let path = Span::call_site().local_file()?;
        let metadata = std::fs::metadata(&path).ok()?;
        let stamp = (metadata.len(), metadata.modified().ok()?);
        // The expansions of one file follow each other: the last file's summary is kept, so a
        // file with many cached methods is read and parsed once. It depends on the file's
        // contents only, which the size and time stand for.
        static LAST: Mutex<Option<Kept>> = Mutex::new(None);
        let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((p, s, summary)) = &*last {
            if *p == path && *s == stamp {
                return Some(Arc::clone(summary));
            }
        }
        let text = std::fs::read_to_string(&path).ok()?;
        let summary = Arc::new(Self::of_source(&text)?);
        *last = Some((path, stamp, Arc::clone(&summary)));
        Some(summary)
    }

    /// The summary of a source file's text; `None` if it does not parse.
    pub(crate) fn of_source(text: &str) -> Option<Self> {
        let file = syn::parse_file(text).ok()?;
        let mut collector = Collector::default();
        collector.visit_file(&file);
        Some(collector.summary)
    }

    /// For a method-level attribute: the impl it is in and its type, as written (`impl Directory
    /// for Ldap`, `Ldap`), if that is a trait impl without the impl-level attribute. The method
    /// is found by its name, signature and attribute arguments; if these match several methods
    /// and not all are in such impls, `None`.
    pub(crate) fn unmarked_trait_impl_of(
        &self,
        sig: &syn::Signature,
        args: &TokenStream,
    ) -> Option<(String, String)> {
        let (name, sig, args) = (sig.ident.unraw().to_string(), text(sig), args.to_string());
        let mut found = None;
        for item in &self.impls {
            for method in &item.methods {
                if method.name == name
                    && method.sig == sig
                    && method.cached.as_deref() == Some(args.as_str())
                {
                    if item.trait_path.is_none() || item.marked.is_some() {
                        return None;
                    }
                    found = Some((item.written(), display(&item.self_ty)));
                }
            }
        }
        found
    }

    /// For a function whose expansion cannot tell whether it is free or in an impl (no `self`,
    /// no `Self` in its signature): whether it is in an impl, if the file says so unambiguously
    /// (found by name, signature and attribute arguments, in impls only or outside them only).
    pub(crate) fn in_impl(&self, sig: &syn::Signature, args: &TokenStream) -> Option<bool> {
        let (name, sig, args) = (sig.ident.unraw().to_string(), text(sig), args.to_string());
        let matches = |method: &MethodSummary| {
            method.name == name && method.sig == sig && method.cached.as_deref() == Some(&*args)
        };
        let in_impls = self.impls.iter().flat_map(|i| &i.methods).any(matches);
        let free = self.free_fns.iter().any(matches);
        match (in_impls, free) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        }
    }

    /// Whether the file writes a function named `name`, free or in an impl, anywhere.
    pub(crate) fn writes_fn(&self, name: &str) -> bool {
        let methods = self.impls.iter().flat_map(|i| &i.methods);
        self.free_fns.iter().chain(methods).any(|f| f.name == name)
    }

    /// Where a cached function is written, found by name, signature and attribute arguments:
    /// `None` unless exactly one function matches, outside a generic impl (whose type
    /// parameters a type name could mean).
    pub(crate) fn place_of(&self, sig: &syn::Signature, args: &TokenStream) -> Option<Place<'_>> {
        let (name, sig, args) = (sig.ident.unraw().to_string(), text(sig), args.to_string());
        let matches = |method: &&MethodSummary| {
            method.name == name && method.sig == sig && method.cached.as_deref() == Some(&*args)
        };
        let free = self
            .free_fns
            .iter()
            .filter(matches)
            .map(|f| Some((f.scope, None)));
        let methods = self.impls.iter().flat_map(|item| {
            let place = (!item.generic).then_some((item.scope, Some(item.self_ty.as_str())));
            item.methods.iter().filter(matches).map(move |_| place)
        });
        let mut found = free.chain(methods);
        let (Some(Some((scope, self_ty))), None) = (found.next(), found.next()) else {
            return None;
        };
        Some(Place {
            summary: self,
            scope,
            self_ty,
        })
    }

    /// For a marked trait impl of `self_ty`: each method it caches whose companions
    /// (`<prefix><name>_cache`, `invalidate_<prefix><name>`) another impl of the same type in the
    /// same scope also generates, with that impl, where this one is to report it. A trait impl
    /// defers to an earlier trait impl and to any inherent impl, so that exactly one of two
    /// colliding impls reports. Nothing is found if the impl cannot be told apart from another
    /// in the file.
    pub(crate) fn conflicts(
        &self,
        trait_path: &syn::Path,
        self_ty: &syn::Type,
        prefix: &str,
    ) -> Vec<(String, Conflict)> {
        let (trait_path, self_ty) = (text(trait_path), text(self_ty));
        let mut own =
            self.impls.iter().enumerate().filter(|(_, i)| {
                i.trait_path.as_ref() == Some(&trait_path) && i.self_ty == self_ty
            });
        let (Some((position, own)), None) = (own.next(), own.next()) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for method in own.methods.iter().filter(|m| m.cached.is_some()) {
            if method.conditional {
                continue;
            }
            let stem = format!("{prefix}{}", method.name);
            let other = self.impls.iter().enumerate().find(|(at, other)| {
                *at != position
                    && other.scope == own.scope
                    && other.self_ty == self_ty
                    && !other.conditional
                    && !other.generic
                    && (other.trait_path.is_none() || *at < position)
                    && other.stems().contains(&stem)
            });
            if let Some((_, other)) = other {
                found.push((
                    method.name.clone(),
                    Conflict {
                        other: other.written(),
                    },
                ));
            }
        }
        found
    }
}

/// Where a cached function is written: its module or block, and its impl's type for a method.
pub(crate) struct Place<'a> {
    summary: &'a Summary,
    scope: usize,
    self_ty: Option<&'a str>,
}

impl Place<'_> {
    /// The impl's type as written, for a method.
    pub(crate) fn self_ty(&self) -> Option<&str> {
        self.self_ty
    }

    /// The fields of the struct `ty` names here (through references, and `Self` in an impl),
    /// and whether it is generic: `None` unless one struct of that name is written in this
    /// module or block, and its fields are known as written. A struct of another module
    /// (imported) or file, or one written by a macro, is not judged.
    pub(crate) fn fields_of(&self, ty: &syn::Type) -> Option<(&Fields, bool)> {
        let name = match ty {
            syn::Type::Reference(reference) => return self.fields_of(&reference.elem),
            syn::Type::Paren(inner) => return self.fields_of(&inner.elem),
            syn::Type::Group(inner) => return self.fields_of(&inner.elem),
            syn::Type::Path(path) if path.qself.is_none() && path.path.segments.len() == 1 => {
                path.path.segments[0].ident.to_string()
            }
            _ => return None,
        };
        if name == "Self" {
            let self_ty: syn::Type = syn::parse_str(self.self_ty?).ok()?;
            return match &self_ty {
                syn::Type::Path(path) if path.path.is_ident("Self") => None,
                _ => self.fields_of(&self_ty),
            };
        }
        let mut here = self
            .summary
            .structs
            .iter()
            .filter(|s| s.scope == self.scope && s.name == name);
        match (here.next(), here.next()) {
            (Some(found), None) => Some((found.fields.as_ref()?, found.generic)),
            _ => None,
        }
    }
}

impl ImplSummary {
    /// The names the impl's cached methods' companions are made of: `<prefix><method>`.
    fn stems(&self) -> Vec<String> {
        let prefix = match &self.marked {
            Some(Marked::Invalid) => return Vec::new(),
            // A trait impl's methods are expanded only through the impl-level attribute; without
            // it they add no companions to the type (and are an error of their own).
            None if self.trait_path.is_some() => return Vec::new(),
            None => "",
            Some(Marked::Prefix(prefix)) => prefix,
        };
        self.methods
            .iter()
            .filter(|m| m.cached.is_some() && !m.conditional)
            .map(|m| format!("{prefix}{}", m.name))
            .collect()
    }

    fn written(&self) -> String {
        match &self.trait_path {
            Some(tr) => format!("impl {} for {}", display(tr), display(&self.self_ty)),
            None => format!("impl {}", display(&self.self_ty)),
        }
    }
}

#[derive(Default)]
struct Collector {
    summary: Summary,
    scopes: Vec<usize>,
    next_scope: usize,
}

impl Collector {
    /// The module or block being visited.
    fn scope(&self) -> usize {
        self.scopes.last().copied().unwrap_or(0)
    }

    fn in_scope(&mut self, visit: impl FnOnce(&mut Self)) {
        self.next_scope += 1;
        self.scopes.push(self.next_scope);
        visit(self);
        self.scopes.pop();
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.summary.free_fns.push(MethodSummary {
            scope: self.scope(),
            name: item.sig.ident.unraw().to_string(),
            cached: cached_args(&item.attrs),
            sig: text(&item.sig),
            conditional: is_conditional(&item.attrs),
        });
        syn::visit::visit_item_fn(self, item);
    }

    fn visit_item_struct(&mut self, item: &'ast syn::ItemStruct) {
        let inert = item.attrs.iter().all(|a| {
            [
                "derive", "doc", "cfg", "cfg_attr", "allow", "warn", "deny", "expect", "repr",
            ]
            .iter()
            .any(|name| a.path().is_ident(name))
                || a.path().is_ident("non_exhaustive")
                || a.path().is_ident("must_use")
        });
        let fields = match &item.fields {
            syn::Fields::Named(named) => Fields::Named(
                named
                    .named
                    .iter()
                    .filter_map(|f| Some((f.ident.as_ref()?.unraw().to_string(), text(&f.ty))))
                    .collect(),
            ),
            syn::Fields::Unnamed(unnamed) => {
                Fields::Unnamed(unnamed.unnamed.iter().map(|f| text(&f.ty)).collect())
            }
            syn::Fields::Unit => Fields::Unit,
        };
        self.summary.structs.push(StructSummary {
            scope: self.scope(),
            name: item.ident.unraw().to_string(),
            fields: inert.then_some(fields),
            generic: item
                .generics
                .params
                .iter()
                .any(|p| !matches!(p, syn::GenericParam::Lifetime(_))),
        });
        syn::visit::visit_item_struct(self, item);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.in_scope(|this| syn::visit::visit_item_mod(this, item));
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        self.in_scope(|this| syn::visit::visit_block(this, block));
    }

    fn visit_item_impl(&mut self, item: &'ast ItemImpl) {
        let marked = item.attrs.iter().find(|a| is_ttl_cached(a)).map(|a| {
            let tokens = match &a.meta {
                Meta::List(list) => list.tokens.clone(),
                Meta::Path(_) => TokenStream::new(),
                Meta::NameValue(_) => return Marked::Invalid,
            };
            let args = ImplArgs::parse(tokens);
            if args.errors.is_empty() {
                Marked::Prefix(args.prefix.unwrap_or_default())
            } else {
                Marked::Invalid
            }
        });
        let methods = item
            .items
            .iter()
            .filter_map(|impl_item| match impl_item {
                ImplItem::Fn(method) => Some(MethodSummary {
                    scope: self.scope(),
                    name: method.sig.ident.unraw().to_string(),
                    cached: cached_args(&method.attrs),
                    sig: text(&method.sig),
                    conditional: is_conditional(&method.attrs),
                }),
                _ => None,
            })
            .collect();
        self.summary.impls.push(ImplSummary {
            scope: self.scope(),
            trait_path: item.trait_.as_ref().map(|(path, _)| text(path)),
            self_ty: text(&item.self_ty),
            marked,
            conditional: is_conditional(&item.attrs),
            generic: item
                .generics
                .params
                .iter()
                .any(|p| !matches!(p, syn::GenericParam::Lifetime(_))),
            methods,
        });
        syn::visit::visit_item_impl(self, item);
    }
}

/// The arguments of a `#[ttl_cached(...)]` among `attrs`, as text, if there is one.
fn cached_args(attrs: &[Attribute]) -> Option<String> {
    attrs
        .iter()
        .find(|a| is_ttl_cached(a))
        .map(|a| match &a.meta {
            Meta::List(list) => list.tokens.to_string(),
            _ => String::new(),
        })
}

fn is_conditional(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("cfg") || a.path().is_ident("cfg_attr"))
}

/// Tokens as compared: printed the same way for the item being expanded and for the file.
fn text(tokens: &impl ToTokens) -> String {
    tokens.to_token_stream().to_string()
}

#[cfg(test)]
mod tests;
