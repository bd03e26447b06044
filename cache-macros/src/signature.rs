//! The function's signature as the rules see it: the receiver, named parameters, `_`
//! parameters and destructuring patterns, with the types the companions reuse; and what its
//! return type says.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{FnArg, Ident, Pat, PatType, Receiver, ReturnType, Signature, Type};

pub(crate) enum ParamName {
    /// `name: T` (also `mut name: T`, `ref name: T`).
    Named(Ident),
    /// `_: T`: unused, so never part of the key.
    Wildcard,
    /// `(a, b): (T, U)` and other destructuring patterns, with the names they bind.
    Pattern(Vec<Ident>),
}

pub(crate) struct Param<'a> {
    pub(crate) arg: &'a PatType,
    pub(crate) name: ParamName,
    pub(crate) ty: &'a Type,
    /// The type contains `impl Trait`: a different type per call site.
    pub(crate) impl_trait: bool,
}

impl Param<'_> {
    pub(crate) fn ident(&self) -> Option<&Ident> {
        match &self.name {
            ParamName::Named(ident) => Some(ident),
            _ => None,
        }
    }
}

pub(crate) struct Params<'a> {
    pub(crate) receiver: Option<&'a Receiver>,
    pub(crate) params: Vec<Param<'a>>,
}

impl<'a> Params<'a> {
    pub(crate) fn of(sig: &'a Signature) -> Self {
        let mut receiver = None;
        let mut params = Vec::new();
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(r) => receiver = Some(r),
                FnArg::Typed(arg) => params.push(Param {
                    arg,
                    name: param_name(&arg.pat),
                    ty: &arg.ty,
                    impl_trait: contains_impl_trait(&arg.ty),
                }),
            }
        }
        Self { receiver, params }
    }

    pub(crate) fn named(&self, name: &str) -> Option<(usize, &Param<'a>)> {
        self.params
            .iter()
            .enumerate()
            .find(|(_, p)| p.ident().is_some_and(|i| i == name))
    }

    /// Whether `name` is bound by a destructuring pattern of a parameter (`(width, height):
    /// (u32, u32)`).
    pub(crate) fn binds_in_pattern(&self, name: &str) -> bool {
        self.params.iter().any(|p| match &p.name {
            ParamName::Pattern(bindings) => bindings.iter().any(|b| b == name),
            _ => false,
        })
    }

    /// Every name a placeholder or `ignore` may use, for suggestions and messages.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.receiver.iter().map(|_| "self".to_string()).collect();
        names.extend(
            self.params
                .iter()
                .filter_map(|p| p.ident().map(ToString::to_string)),
        );
        names
    }
}

fn param_name(pat: &Pat) -> ParamName {
    match pat {
        Pat::Ident(p) if p.subpat.is_none() => ParamName::Named(p.ident.clone()),
        Pat::Wild(_) => ParamName::Wildcard,
        other => {
            let mut bindings = Bindings(Vec::new());
            bindings.visit_pat(other);
            ParamName::Pattern(bindings.0)
        }
    }
}

struct Bindings(Vec<Ident>);

impl Visit<'_> for Bindings {
    fn visit_pat_ident(&mut self, p: &syn::PatIdent) {
        self.0.push(p.ident.clone());
        syn::visit::visit_pat_ident(self, p);
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl Visit<'_> for Finder {
        fn visit_type_impl_trait(&mut self, _: &syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
}

/// Whether the signature names `Self`, which places a receiver-less function in an impl.
pub(crate) fn mentions_self_type(sig: &Signature) -> bool {
    struct Finder(bool);
    impl Visit<'_> for Finder {
        fn visit_ident(&mut self, ident: &Ident) {
            if ident == "Self" {
                self.0 = true;
            }
        }
    }
    let mut finder = Finder(false);
    finder.visit_signature(sig);
    finder.0
}

/// The declared return type (`()` if none), and where errors about it belong.
pub(crate) fn return_type(sig: &Signature) -> (Type, Span) {
    match &sig.output {
        ReturnType::Default => (syn::parse_quote!(()), sig.ident.span()),
        ReturnType::Type(_, ty) => ((**ty).clone(), ty.span()),
    }
}

/// Whether the boxed future carries the `'async_trait` lifetime that `#[async_trait]` adds.
pub(crate) fn written_by_async_trait(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    quote::quote!(#ty).to_string().contains("'async_trait")
}

/// `Pin<Box<dyn Future<Output = ..> + Send + 'async_trait>>`, as `#[async_trait]` writes it.
pub(crate) fn returns_boxed_future(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    let text = quote::quote!(#ty).to_string().replace(' ', "");
    text.contains("Pin<") && text.contains("Future<")
}
