//! `stale = "30s"`: the background refresh runs the body in a task spawned on the caller's
//! runtime, after the call returned, so it cannot borrow the caller's parameters. What it
//! requires of the function (a receiver it can own: `&self` is cloned, `self`, `self: Arc<Self>`
//! are moved; parameters it can own) and the owned copies it makes, only on a miss or a stale
//! answer: a hit copies nothing.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::visit::Visit;
use syn::{Ident, Receiver, ReceiverKind, Type};

use crate::context::krate_at;
use crate::errors::Errors;
use crate::signature::{ParamName, Params};

/// How one parameter reaches the body over there.
enum Carry<'a> {
    /// An owned value, moved into the refresh as it is.
    Moved,
    /// `name: &T`: an owned copy (`<T as ToOwned>::to_owned`), borrowed again under the
    /// parameter's name and type.
    Copied { name: &'a Ident, pointee: &'a Type },
    /// `_: T`: not used by the body.
    Unused,
}

/// How a parameter is carried, or why it cannot be, in the user's terms.
fn carry<'a>(param: &'a crate::signature::Param<'a>) -> Result<Carry<'a>, String> {
    const WHY: &str = "with `stale`, the refresh runs the body in a background task after the \
                       call returned, over owned copies of the parameters";
    if param.impl_trait {
        return Err(format!(
            "{WHY}; an `impl Trait` parameter cannot be named in the copy: take a generic type \
             parameter (`T: Trait + Send + 'static`) or a concrete owned type"
        ));
    }
    let name = match &param.name {
        ParamName::Named(name) => name,
        ParamName::Wildcard => return Ok(Carry::Unused),
        ParamName::Pattern(_) => {
            return Err(format!(
                "{WHY}; a destructuring pattern cannot be copied: bind the parameter to a name \
                 (`pair: (u32, u32)`) and destructure it in the body"
            ))
        }
    };
    match param.ty {
        Type::Reference(reference) => {
            if reference.mutability.is_some() {
                return Err(format!(
                    "{WHY}; a `&mut` parameter cannot be copied (the caller would not see the \
                     refresh's changes): take the value owned, or leave `stale` out"
                ));
            }
            if borrows(&reference.elem) {
                return Err(format!(
                    "{WHY}; this parameter refers to a type that itself borrows (a lifetime, a \
                     reference or a trait object), whose copy would still borrow: take an owned \
                     type (`String` for `&Cow<'_, str>`, `Vec<String>` for `&[&str]`)"
                ));
            }
            Ok(Carry::Copied {
                name,
                pointee: &reference.elem,
            })
        }
        ty if borrows(ty) => Err(format!(
            "{WHY}; this parameter's type borrows (a lifetime or a reference inside it), so it \
             cannot be moved into the task: take an owned type (`Option<String>` for \
             `Option<&str>`), or a plain reference (`&str`), which is copied"
        )),
        _ => Ok(Carry::Moved),
    }
}

/// Whether `ty` names a lifetime, a reference, a trait object or `impl Trait`: what an owned
/// copy of it could still borrow.
fn borrows(ty: &Type) -> bool {
    struct Finder(bool);
    impl Visit<'_> for Finder {
        fn visit_lifetime(&mut self, _: &syn::Lifetime) {
            self.0 = true;
        }
        fn visit_type_reference(&mut self, _: &syn::TypeReference) {
            self.0 = true;
        }
        fn visit_type_trait_object(&mut self, _: &syn::TypeTraitObject) {
            self.0 = true;
        }
        fn visit_type_impl_trait(&mut self, _: &syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
}

/// How the receiver reaches the body over there.
enum SelfCarry {
    /// `&self`, `self: &Arc<Self>`: a clone of the pointee, borrowed again under a new name
    /// that the body's `self` tokens are renamed to.
    Cloned { pointee: Box<Type> },
    /// `self`, `mut self`, `self: Arc<Self>`, `self: Box<Self>`: moved into the refresh as it
    /// is, the body unchanged.
    Moved,
}

const MUT_SELF: &str = "`stale` cannot serve a method taking `&mut self`: the background refresh \
     runs after the call returned, on a clone of `self`, so its changes to `self` would be lost; \
     take `&self` (the refresh then runs on a clone of `self`), or leave `stale` out \
     (`stale_if_error = \"5m\"` serves the expired value when a fetch fails)";

/// How the receiver is carried, or why it cannot be, in the user's terms.
fn carry_self(receiver: &Receiver) -> Result<SelfCarry, String> {
    match &receiver.kind {
        ReceiverKind::Reference(_, _, Some(_)) => Err(MUT_SELF.to_string()),
        // `Self` at the receiver: rustc reports an unmet bound on the type argument.
        ReceiverKind::Reference(_, _, None) => Ok(SelfCarry::Cloned {
            pointee: Box::new(syn::parse_quote_spanned!(receiver.self_token.span=> Self)),
        }),
        ReceiverKind::Typed(_, ty) => match &**ty {
            Type::Reference(reference) if reference.mutability.is_some() => {
                Err(MUT_SELF.to_string())
            }
            Type::Reference(reference) if borrows(&reference.elem) => Err(
                "with `stale`, the background refresh runs on a clone of `self`, and this \
                 receiver's type itself borrows, so its clone would still borrow: take `&self`"
                    .to_string(),
            ),
            Type::Reference(reference) => Ok(SelfCarry::Cloned {
                pointee: reference.elem.clone(),
            }),
            ty if borrows(ty) => Err(
                "with `stale`, the background refresh runs after the call returned, and this \
                 receiver's type borrows (`Pin<&mut Self>`, a lifetime), so it cannot be moved \
                 into the refresh: take `&self` (the refresh runs on a clone of `self`), `self` \
                 or `self: Arc<Self>`"
                    .to_string(),
            ),
            _ => Ok(SelfCarry::Moved),
        },
        _ => Ok(SelfCarry::Moved),
    }
}

/// Reports what `stale` cannot serve: a receiver it cannot own (one error, on the receiver),
/// and each parameter the refresh cannot own (one error on each).
pub(crate) fn check(params: &Params<'_>, errors: &mut Errors) {
    if let Some(receiver) = params.receiver {
        if let Err(message) = carry_self(receiver) {
            errors.error(receiver, message);
        }
    }
    for param in &params.params {
        if let Err(message) = carry(param) {
            errors.error(param.arg, message);
        }
    }
}

/// The owned copies, made before the body's future is built, and the statements that open
/// that future, rebinding each copied parameter under its own name and type:
///
/// ```text
/// let __ttl_cached_owned_user_id = <str as ToOwned>::to_owned(user_id);
/// // ... async move {
/// let user_id: &str = ::core::borrow::Borrow::borrow(&__ttl_cached_owned_user_id);
/// ```
///
/// Owned parameters are moved into the future as they are. A `&self` receiver is cloned
/// (through `__private::clone_receiver`, which requires `Clone + Send + Sync + 'static` with
/// an error on the receiver saying why), borrowed again as `__ttl_cached_self`, and the third
/// value is that name, for [`rename_self`] to rename the body's `self` to:
///
/// ```text
/// let __ttl_cached_owned_self = ::cache_core::__private::clone_receiver::<Self>(self);
/// // ... async move {
/// let __ttl_cached_self: &Self = &__ttl_cached_owned_self;
/// ```
///
/// Only called for a function that [`check`] accepted.
pub(crate) fn copies(
    params: &Params<'_>,
    krate: &TokenStream,
) -> (TokenStream, TokenStream, Option<Ident>) {
    let (mut copy, mut rebind) = (TokenStream::new(), TokenStream::new());
    let mut renamed = None;
    if let Some(receiver) = params.receiver {
        if let Ok(SelfCarry::Cloned { pointee }) = carry_self(receiver) {
            let owned = Ident::new("__ttl_cached_owned_self", Span::mixed_site());
            // The user's `self` token's span: the binding and the body's renamed `self`
            // tokens resolve to each other under the same hygiene, also when the method comes
            // from a `macro_rules!`.
            let name = Ident::new("__ttl_cached_self", receiver.self_token.span);
            let self_token = &receiver.self_token;
            let at = receiver.self_token.span;
            let at_krate = krate_at(krate, at);
            copy.extend(quote_spanned! {at=>
                let #owned = #at_krate::__private::clone_receiver::<#pointee>(#self_token);
            });
            rebind.extend(quote! {
                let #name: &#pointee = &#owned;
            });
            renamed = Some(name);
        }
    }
    for param in &params.params {
        let Ok(Carry::Copied { name, pointee }) = carry(param) else {
            continue;
        };
        let owned = format_ident!(
            "__ttl_cached_owned_{}",
            name.to_string().trim_start_matches("r#"),
            span = Span::mixed_site()
        );
        let pat = &param.arg.pat;
        copy.extend(quote! {
            let #owned = <#pointee as ::std::borrow::ToOwned>::to_owned(#name);
        });
        // The reference's own lifetime, if written, is left out: the rebinding borrows the
        // copy, not the caller's value.
        rebind.extend(quote! {
            let #pat: &#pointee = ::core::borrow::Borrow::borrow(&#owned);
        });
    }
    (copy, rebind, renamed)
}

/// The body with each `self` that means the receiver renamed to `to` (keeping the token's span,
/// so errors still point at the user's `self`): a walk of the tokens that descends into groups,
/// macro invocations (`format!("{}", self.name)`) and closures included, but leaves alone `self`
/// in a path (`self::module`, `use super::{self}`), in `pub(self)`, and the body of a nested
/// `impl .. { }` or `trait .. { }`, where `self` is another receiver. `Self` is a different token, untouched.
pub(crate) fn rename_self(tokens: TokenStream, to: &Ident) -> TokenStream {
    let mut out = Vec::new();
    let mut in_impl = false;
    let mut iter = tokens.into_iter().peekable();
    while let Some(tree) = iter.next() {
        let after_path = path_sep_before(&out);
        let after_pub = matches!(out.last(), Some(TokenTree::Ident(i)) if i == "pub");
        match tree {
            TokenTree::Ident(ident) if ident == "self" => {
                let path = matches!(
                    iter.peek(),
                    Some(TokenTree::Punct(p)) if p.as_char() == ':' && p.spacing() == proc_macro2::Spacing::Joint
                );
                if path || after_path {
                    out.push(TokenTree::Ident(ident));
                } else {
                    out.push(TokenTree::Ident(Ident::new(&to.to_string(), ident.span())));
                }
            }
            TokenTree::Ident(ident) => {
                if ident == "impl" || ident == "trait" {
                    in_impl = true;
                }
                out.push(TokenTree::Ident(ident));
            }
            TokenTree::Punct(punct) => {
                if punct.as_char() == ';' {
                    in_impl = false;
                }
                out.push(TokenTree::Punct(punct));
            }
            TokenTree::Group(group) => {
                let skip = (in_impl && group.delimiter() == Delimiter::Brace)
                    || (after_path && group.delimiter() == Delimiter::Brace)
                    || (after_pub && group.delimiter() == Delimiter::Parenthesis);
                if in_impl && group.delimiter() == Delimiter::Brace {
                    in_impl = false;
                }
                if skip {
                    out.push(TokenTree::Group(group));
                } else {
                    let mut renamed =
                        Group::new(group.delimiter(), rename_self(group.stream(), to));
                    renamed.set_span(group.span());
                    out.push(TokenTree::Group(renamed));
                }
            }
            literal @ TokenTree::Literal(_) => out.push(literal),
        }
    }
    out.into_iter().collect()
}

/// Whether the tokens so far end with `::`.
fn path_sep_before(out: &[TokenTree]) -> bool {
    matches!(
        out,
        [.., TokenTree::Punct(a), TokenTree::Punct(b)] if a.as_char() == ':' && b.as_char() == ':'
    )
}

#[cfg(test)]
mod tests {
    use super::rename_self;
    use quote::{format_ident, quote};

    fn renamed(tokens: proc_macro2::TokenStream) -> String {
        rename_self(tokens, &format_ident!("me")).to_string()
    }

    #[test]
    fn the_receiver_is_renamed_in_groups_macros_and_closures() {
        assert_eq!(
            renamed(quote!(let f = || self.a; format!("{}", self.b); (self)[0])),
            quote!(let f = || me.a; format!("{}", me.b); (me)[0]).to_string()
        );
    }

    #[test]
    fn paths_self_types_and_nested_impls_are_left_alone() {
        let kept = [
            quote!(self::module::f()),
            quote!(
                use super::{self, x};
            ),
            quote!(
                pub(self) struct S;
            ),
            quote!(Self::new()),
            quote!(impl T for S { fn f(&self) -> u8 { self.0 } }),
            quote!(
                trait T {
                    fn f(&self) -> u8 {
                        self.g()
                    }
                }
            ),
            quote!(
                impl<X> T<X> for S
                where
                    X: Copy,
                {
                    fn f(self) {}
                }
            ),
        ];
        for tokens in kept {
            assert_eq!(renamed(tokens.clone()), tokens.to_string());
        }
        // After a nested impl, and after `impl Trait` in a nested function's signature, the
        // receiver is renamed again.
        assert_eq!(
            renamed(quote!(impl S {} self.a; fn g(x: impl Copy) {} self.b)),
            quote!(impl S {} me.a; fn g(x: impl Copy) {} me.b).to_string()
        );
    }
}
