//! Field paths in a key (`<self.account>`, `<req.user_id>`, `<pair.0>`) checked against the
//! types the attribute can see: a tuple written in the signature, and a struct written in the
//! function's own module of its file (`source.rs`). A field that is not there is one error, from
//! the attribute. Left to rustc, it is one error per access the expansion generates (the body
//! and each companion): printed once, since they are alike, but each counted ("due to 4
//! previous errors").
//!
//! Only what is certain is reported: a path through a type the attribute cannot see (another
//! module's struct, an alias, a generic parameter, a smart pointer) is left to rustc.

use quote::ToTokens;
use syn::{Member, Type};

use crate::errors::display;
use crate::source::{Fields, Place};
use crate::suggest::nearest;
use crate::template::Placeholder;

/// What `ty` is known to hold, if anything.
enum Shape {
    /// Positional fields, with their types: a tuple, or a tuple struct.
    Positions(Vec<Type>),
    /// Named fields, with their types (as written, `None` in a generic struct, whose fields'
    /// types may name its parameters).
    Names(Vec<(String, Option<Type>)>),
    /// A unit struct, or the unit type.
    Nothing,
}

// Input: `<self.acount>` on a method of `struct Account { account: u64 }`, defined in the same
// module.
//
// Output: "no field `acount` on `Account` in `<self.acount>` in `key`; did you mean
// `account`? its fields are `account`".
/// Checks `placeholder`'s fields, starting from its root's type (`Self` for `self`): the
/// problem, in the user's terms, if one of them is certainly not there.
pub(crate) fn check(
    placeholder: &Placeholder,
    root_ty: &Type,
    place: Option<&Place<'_>>,
    which: &str,
) -> Result<(), String> {
    let mut ty = root_ty.clone();
    for member in &placeholder.fields {
        let Some((shape, written)) = shape(&ty, place) else {
            return Ok(());
        };
        let next = match (&shape, member) {
            (Shape::Positions(types), Member::Unnamed(index)) => types.get(index.index as usize),
            (Shape::Names(fields), Member::Named(name)) => {
                match fields.iter().find(|(field, _)| name == field) {
                    Some((_, Some(field_ty))) => Some(field_ty),
                    // A field of a generic struct: its type is not followed further.
                    Some((_, None)) => return Ok(()),
                    None => None,
                }
            }
            _ => None,
        };
        match next {
            Some(next) => ty = next.clone(),
            None => return Err(no_field(member, &written, &shape, placeholder, which)),
        }
    }
    Ok(())
}

/// The shape of `ty` and how to write it in a message, if the attribute can see it.
fn shape(ty: &Type, place: Option<&Place<'_>>) -> Option<(Shape, String)> {
    match ty {
        // A field access reads through references.
        Type::Reference(reference) => shape(&reference.elem, place),
        Type::Paren(inner) => shape(&inner.elem, place),
        Type::Group(inner) => shape(&inner.elem, place),
        Type::Tuple(tuple) if tuple.elems.is_empty() => Some((Shape::Nothing, "()".to_string())),
        Type::Tuple(tuple) => Some((
            Shape::Positions(tuple.elems.iter().cloned().collect()),
            written(ty),
        )),
        Type::Path(_) => {
            let (fields, generic) = place?.fields_of(ty)?;
            let parse = |text: &str| syn::parse_str::<Type>(text).ok();
            let shape = match fields {
                Fields::Named(fields) => Shape::Names(
                    fields
                        .iter()
                        .map(|(name, ty)| (name.clone(), parse(ty).filter(|_| !generic)))
                        .collect(),
                ),
                // A generic tuple struct's field types are not followed: its positions are
                // known, their types may be its parameters.
                Fields::Unnamed(_) if generic => return None,
                Fields::Unnamed(types) => {
                    Shape::Positions(types.iter().map(|ty| parse(ty)).collect::<Option<_>>()?)
                }
                Fields::Unit => Shape::Nothing,
            };
            let is_self = matches!(ty, Type::Path(path) if path.path.is_ident("Self"));
            let shown = match place?.self_ty() {
                Some(self_ty) if is_self => display(self_ty),
                _ => written(ty),
            };
            Some((shape, shown))
        }
        _ => None,
    }
}

fn written(ty: &Type) -> String {
    display(&ty.to_token_stream().to_string())
}

/// "no field `acount` on `Account` in `<self.acount>` in `key`; did you mean `account`? its
/// fields are `account`, `region`".
fn no_field(
    member: &Member,
    ty: &str,
    shape: &Shape,
    placeholder: &Placeholder,
    which: &str,
) -> String {
    let field = match member {
        Member::Named(name) => name.to_string(),
        Member::Unnamed(index) => index.index.to_string(),
    };
    let fields: Vec<String> = match shape {
        Shape::Positions(types) => (0..types.len()).map(|i| i.to_string()).collect(),
        Shape::Names(fields) => fields.iter().map(|(name, _)| name.clone()).collect(),
        Shape::Nothing => Vec::new(),
    };
    let problem = format!(
        "no field `{field}` on `{ty}` in `<{}>` in `{which}`",
        placeholder.text
    );
    // A suggestion only between names: `<pair.2>` is not a typo of `<pair.1>`.
    let near = match member {
        Member::Named(_) => nearest(&field, fields.iter().map(String::as_str)),
        Member::Unnamed(_) => None,
    };
    let listing = if fields.is_empty() {
        format!("`{ty}` has no fields")
    } else {
        let list = fields
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ");
        format!("its fields are {list}")
    };
    match near {
        Some(near) => format!("{problem}; did you mean `{near}`? {listing}"),
        None => format!("{problem}; {listing}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Summary;
    use proc_macro2::Span;
    use quote::quote;

    const FILE: &str = r#"
        struct Account { account: u64, region: Region, pair: (u32, String) }
        struct Region(u8, u8);
        struct Marker;
        struct Wrapper<T> { inner: T }
        #[some_macro]
        struct Rewritten { visible: u8 }
        mod other {
            struct Region { code: u8 }
        }
        impl Account {
            #[ttl_cached(ttl = 60)]
            async fn list(&self, region: &Region, marker: Marker, wrapped: Wrapper<u8>,
                rewritten: Rewritten, other: other::Region, boxed: Box<Region>) {}
        }
    "#;

    /// The problem with `<path>` in `list`'s key, if the attribute is sure of one.
    fn problem(path: &str) -> Option<String> {
        let summary = Summary::of_source(FILE).expect("the file parses");
        let sig: syn::Signature = syn::parse_str(
            "async fn list(&self, region: &Region, marker: Marker, wrapped: Wrapper<u8>, \
             rewritten: Rewritten, other: other::Region, boxed: Box<Region>)",
        )
        .unwrap();
        let place = summary.place_of(&sig, &quote!(ttl = 60));
        assert!(place.is_some(), "the method is found");
        let params = crate::signature::Params::of(&sig);
        let lit = syn::LitStr::new(&format!("<{path}>"), Span::call_site());
        let template = crate::template::KeyTemplate::parse(
            &lit,
            "key",
            &mut Vec::new(),
            &mut crate::errors::Errors::default(),
        );
        let placeholder = &template.placeholders[0];
        let self_ty: Type = syn::parse_quote!(Self);
        let root_ty = match params.named(&placeholder.root_name()) {
            Some((_, param)) => param.ty,
            None => &self_ty,
        };
        check(placeholder, root_ty, place.as_ref(), "key").err()
    }

    #[test]
    fn a_field_that_is_not_there_is_found() {
        assert_eq!(
            problem("self.acount").as_deref(),
            Some(
                "no field `acount` on `Account` in `<self.acount>` in `key`; did you mean \
                 `account`? its fields are `account`, `region`, `pair`"
            )
        );
        assert_eq!(
            problem("self.pair.2").as_deref(),
            Some("no field `2` on `(u32, String)` in `<self.pair.2>` in `key`; its fields are `0`, `1`")
        );
        assert_eq!(
            problem("region.2").as_deref(),
            Some("no field `2` on `Region` in `<region.2>` in `key`; its fields are `0`, `1`")
        );
        assert_eq!(
            problem("self.region.code").as_deref(),
            Some("no field `code` on `Region` in `<self.region.code>` in `key`; its fields are `0`, `1`")
        );
        assert_eq!(
            problem("marker.id").as_deref(),
            Some("no field `id` on `Marker` in `<marker.id>` in `key`; `Marker` has no fields")
        );
        assert_eq!(
            problem("wrapped.outer").as_deref(),
            Some("no field `outer` on `Wrapper<u8>` in `<wrapped.outer>` in `key`; its fields are `inner`")
        );
    }

    #[test]
    fn fields_that_are_there_or_cannot_be_seen_are_left_alone() {
        for path in [
            "self.account",
            "self.region.0",
            "self.pair.1",
            "region.1",
            // A generic struct's field types are not followed.
            "wrapped.inner.anything",
            // An attribute other than the compiler's may rewrite the struct.
            "rewritten.invisible",
            // Another module's struct, a smart pointer: rustc's to check.
            "other.anything",
            "boxed.anything",
        ] {
            assert_eq!(problem(path), None, "{path}");
        }
    }

    #[test]
    fn a_tuple_in_the_signature_needs_no_file() {
        let lit = syn::LitStr::new("<pair.2>", Span::call_site());
        let template = crate::template::KeyTemplate::parse(
            &lit,
            "key",
            &mut Vec::new(),
            &mut crate::errors::Errors::default(),
        );
        let ty: Type = syn::parse_quote!(&(u32, u32));
        assert!(check(&template.placeholders[0], &ty, None, "key").is_err());
        let struct_ty: Type = syn::parse_quote!(&Request);
        assert!(check(&template.placeholders[0], &struct_ty, None, "key").is_ok());
    }
}
