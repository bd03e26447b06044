//! `stale = "30s"`: the background refresh runs the body in a task spawned on the caller's
//! runtime, after the call returned, so it cannot borrow the caller's parameters. What it
//! requires of the function (no receiver; parameters it can own) and the owned copies it
//! makes, only on a miss or a stale answer: a hit copies nothing.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::visit::Visit;
use syn::{Ident, Type};

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

/// Reports what `stale` cannot serve: a receiver (one error, on `stale`), and each parameter
/// the refresh cannot own (one error on each).
pub(crate) fn check(params: &Params<'_>, stale: &Ident, errors: &mut Errors) {
    if params.receiver.is_some() {
        errors.error(
            stale,
            "`stale` is supported on functions without `self` for now: the background refresh \
             would need `self` after the call returned; use `stale_if_error = \"5m\"` to serve \
             the expired value when a fetch fails, or a `cache_core::TtlCache` built with \
             `.stale_while_revalidate(..)` and its `get_with_stale`",
        );
        return;
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
/// Owned parameters are moved into the future as they are. Only called for a function that
/// [`check`] accepted.
pub(crate) fn copies(params: &Params<'_>) -> (TokenStream, TokenStream) {
    let (mut copy, mut rebind) = (TokenStream::new(), TokenStream::new());
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
    (copy, rebind)
}
