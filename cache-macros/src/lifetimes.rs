//! `refresh_<fn>` as an `#[inline]` `fn` returning a future, where that can be written.
//!
//! As an `async fn`, `refresh_<fn>` is compiled in the crate that defines it, and with it the
//! cached function's whole state machine, whether or not anything calls either (a non-generic
//! `async fn`'s body is code-generated where it is defined). As an `#[inline]` `fn` returning
//! `impl Future`, it is compiled where it is called, if anywhere. Both are called, awaited and
//! spawned the same way; the future does nothing before its first poll in either.
//!
//! The future borrows the parameters, so the `impl Future` must capture their lifetimes: an
//! `async fn` captures every lifetime, but in edition 2021 an `impl Future` captures only those
//! it names. So each lifetime of the parameters is named (`&str` becomes `&'__ttl_cached_l0 str`)
//! and listed in `use<..>`. A lifetime that cannot be named is one elided inside a path
//! (`Cow<str>`, a user's `Ctx` with a lifetime parameter): nothing in the tokens says it is
//! there. So this form is used only where every parameter's type is made of references,
//! slices, arrays, tuples, the function's own type parameters, primitive types and a few std
//! types that have no lifetime parameter; elsewhere `refresh_<fn>` stays an `async fn`.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{GenericArgument, GenericParam, Lifetime, PathArguments, ReturnType, Signature, Type};

use crate::context::{local, Context};
use crate::signature::Params;

/// `refresh_<fn>`'s signature with every lifetime named.
pub(crate) struct Named {
    /// `<'__ttl_cached_l0, .., the function's own parameters>`.
    pub(crate) generics: TokenStream,
    /// `name: type` for each parameter, as `call_inputs` writes them, lifetimes named.
    pub(crate) inputs: Vec<TokenStream>,
    /// `use<..>`: every lifetime, type and const parameter.
    pub(crate) captures: TokenStream,
}

/// Single-segment type names with no lifetime parameter: the primitives, and std types that
/// take only type parameters (any lifetime then shows in their arguments).
const PLAIN: &[&str] = &[
    "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64",
    "i128", "isize", "f32", "f64", "String", "Option", "Vec", "Box", "Arc", "Rc",
];

/// `None` where some lifetime of the parameters might not be written (see the module
/// documentation), or the signature has a shape the `fn` form does not cover.
pub(crate) fn name_lifetimes(sig: &Signature, params: &Params<'_>, ctx: &Context) -> Option<Named> {
    if params.receiver.is_some() || sig.asyncness.is_none() || sig.variadic.is_some() {
        return None;
    }
    if !output_fits(&sig.output) {
        return None;
    }
    let type_params: Vec<&syn::Ident> = sig.generics.type_params().map(|p| &p.ident).collect();
    let mut namer = Namer {
        type_params: &type_params,
        fresh: Vec::new(),
    };
    let mut inputs = Vec::new();
    for (index, param) in params.params.iter().enumerate() {
        if param.impl_trait {
            return None;
        }
        let name = match param.ident() {
            Some(ident) => ident.clone(),
            None => local(&format!("__ttl_cached_arg{index}")),
        };
        let mut ty = ctx.companion_type(param.ty);
        if !namer.name(&mut ty) {
            return None;
        }
        inputs.push(quote!(#name: #ty));
    }
    let fresh = &namer.fresh;
    let own = sig.generics.params.iter();
    let generics = quote!(<#(#fresh,)* #(#own),*>);
    let captured = fresh
        .iter()
        .map(|l| quote!(#l))
        .chain(sig.generics.params.iter().map(|p| match p {
            GenericParam::Lifetime(l) => {
                let l = &l.lifetime;
                quote!(#l)
            }
            GenericParam::Type(t) => {
                let t = &t.ident;
                quote!(#t)
            }
            GenericParam::Const(c) => {
                let c = &c.ident;
                quote!(#c)
            }
        }));
    Some(Named {
        generics,
        inputs,
        captures: quote!(use<#(#captured),*>),
    })
}

/// The return type has no lifetime but `'static` and no `impl Trait` (a lifetime hidden in a
/// path there is one the cached value could not have either: the function is then an error
/// already).
fn output_fits(output: &ReturnType) -> bool {
    struct Fits(bool);
    impl<'ast> syn::visit::Visit<'ast> for Fits {
        fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
            if r.lifetime.is_none() {
                self.0 = false;
            }
            syn::visit::visit_type_reference(self, r);
        }
        fn visit_lifetime(&mut self, l: &'ast Lifetime) {
            if l.ident != "static" {
                self.0 = false;
            }
        }
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = false;
        }
        fn visit_type_macro(&mut self, _: &'ast syn::TypeMacro) {
            self.0 = false;
        }
    }
    let mut fits = Fits(true);
    syn::visit::Visit::visit_return_type(&mut fits, output);
    fits.0
}

struct Namer<'a> {
    type_params: &'a [&'a syn::Ident],
    fresh: Vec<Lifetime>,
}

impl Namer<'_> {
    fn fresh(&mut self) -> Lifetime {
        let lifetime = Lifetime::new(
            &format!("'__ttl_cached_l{}", self.fresh.len()),
            Span::call_site(),
        );
        self.fresh.push(lifetime.clone());
        lifetime
    }

    /// Names the elided lifetimes of `ty`; false if it may hold one that cannot be named.
    fn name(&mut self, ty: &mut Type) -> bool {
        match ty {
            Type::Reference(r) => {
                match &r.lifetime {
                    None => r.lifetime = Some(self.fresh()),
                    Some(l) if l.ident == "_" => r.lifetime = Some(self.fresh()),
                    Some(_) => {}
                }
                self.name(&mut r.elem)
            }
            Type::Slice(s) => self.name(&mut s.elem),
            Type::Array(a) => self.name(&mut a.elem),
            Type::Paren(p) => self.name(&mut p.elem),
            Type::Group(g) => self.name(&mut g.elem),
            Type::Tuple(t) => t.elems.iter_mut().all(|e| self.name(e)),
            Type::Path(p) if p.qself.is_none() && p.path.leading_colon.is_none() => {
                if p.path.segments.len() != 1 {
                    return false;
                }
                let segment = &mut p.path.segments[0];
                let ident = &segment.ident;
                let plain = PLAIN.iter().any(|name| ident == name);
                match &mut segment.arguments {
                    PathArguments::None => plain || self.type_params.contains(&ident),
                    PathArguments::AngleBracketed(args) if plain => {
                        args.args.iter_mut().all(|arg| match arg {
                            GenericArgument::Type(ty) => self.name(ty),
                            _ => false,
                        })
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    }
}
