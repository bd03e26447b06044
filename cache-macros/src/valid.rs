//! The compile-time rules of `#[ttl_cached]`, checked against the signature (and, for field
//! paths, the structs of the function's module, `fields.rs`). Pure: reads the parsed arguments,
//! the parameters and what was read of the file, reports every violation, and produces the key
//! [`Plan`], or the parameters of the stand-in companions.

use proc_macro2::Span;
use syn::{Ident, Signature};

use crate::args::{missing_ttl, Args};
use crate::errors::Errors;
use crate::plan::{CompanionRoots, Plan, Root};
use crate::signature::{ParamName, Params};
use crate::source::Place;
use crate::suggest::nearest;
use crate::template::{KeyTemplate, Placeholder};
use crate::values::Capacity;

/// Checks everything the attribute requires of the function. If anything is wrong, the
/// reasons are in `errors`, and the `Err` holds the parameters the companions would have had,
/// as far as they can be told, for the stand-ins emitted beside the errors. `place`: where the
/// function is written, if its file was read, for checking the field paths of its key.
pub(crate) fn plan(
    args: &mut Args,
    sig: &Signature,
    params: &Params<'_>,
    attr_span: Span,
    place: Option<&Place<'_>>,
    errors: &mut Errors,
) -> Result<Plan, CompanionRoots> {
    check(args, sig, params, attr_span, place, errors)
        .ok_or_else(|| CompanionRoots::meant(args, params))
}

fn check(
    args: &mut Args,
    sig: &Signature,
    params: &Params<'_>,
    attr_span: Span,
    place: Option<&Place<'_>>,
    errors: &mut Errors,
) -> Option<Plan> {
    errors.extend(std::mem::take(&mut args.errors));
    crate::function::check(sig, errors);
    if args.stale.is_some() {
        crate::stale::check(params, errors);
    }
    if let Some((_, _, soft)) = &args.soft_timeout {
        if args.stale.is_none() || args.stale_if_error.is_none() {
            errors.error(
                soft,
                "`soft_timeout` answers with the expired value while the body goes on in the \
                 background: add `stale = \"30s\"` (which runs the body in the background) and \
                 `stale_if_error = \"5m\"` (how long an expired value may stand in), or leave \
                 `soft_timeout` out",
            );
        }
    }
    if args.stale.is_none() && args.stale_if_error.is_none() {
        if let Some((_, _, throttle)) = &args.throttle {
            errors.error(
                throttle,
                "`throttle` applies when an expired value is served: add `stale_if_error = \"5m\"` \
                 (serve it when a fetch fails) or `stale = \"30s\"`, or leave `throttle` out",
            );
        }
        if let Some(predicate) = &args.serve_stale_if {
            errors.error(
                predicate,
                "`serve_stale_if` chooses the errors an expired value stands in for: add \
                 `stale_if_error = \"5m\"`, or leave `serve_stale_if` out",
            );
        }
    }
    if !args.ttl_given {
        errors.push(missing_ttl(attr_span));
    }
    let names = params.names();
    let listing = list(&names);
    let fn_name = &sig.ident;

    // Parameters named by a likely typo (in `ignore` or a placeholder): not reported again as
    // missing from the key.
    let mut suggested: Vec<String> = Vec::new();

    // `ignore`: names that exist, each once. Unknown names are one error together.
    let mut ignored: Vec<String> = Vec::new();
    let mut unknown: Vec<(&Ident, Option<String>)> = Vec::new();
    for name in &args.ignore {
        let text = name.to_string();
        if ignored.contains(&text) {
            errors.error(name, format!("`{text}` is listed twice in `ignore`"));
        } else if text == "self" && params.receiver.is_none() {
            errors.error(
                name,
                format!("`ignore` names `self`, but `{fn_name}` has no `self` parameter"),
            );
        } else if !names.contains(&text) && !params.binds_in_pattern(&text) {
            let raw = format!("r#{text}");
            let near = if names.contains(&raw) {
                Some(raw)
            } else {
                nearest(&text, names.iter().map(String::as_str)).map(str::to_string)
            };
            // `ignore = [type]` for `r#type`: the parameter is the one meant, so it is not
            // also "not part of the key".
            suggested.extend(near.clone());
            unknown.push((name, near));
        }
        ignored.push(text);
    }
    match unknown.as_slice() {
        [] => {}
        [(name, Some(near))] if *near == format!("r#{name}") => errors.error(
            name,
            format!("`ignore` names `{name}`, which is a keyword: write the parameter as `{near}`"),
        ),
        [(name, near)] => {
            let problem = format!("`ignore` names `{name}`, which is not a parameter");
            errors.error(name, with_suggestion(&problem, near.as_deref(), &listing));
        }
        several => {
            let list = several
                .iter()
                .map(|(name, near)| match near {
                    Some(near) => format!("`{name}` (did you mean `{near}`?)"),
                    None => format!("`{name}`"),
                })
                .collect::<Vec<_>>()
                .join(", ");
            errors.error(
                several[0].0,
                format!("`ignore` names {list}, which are not parameters; {listing}"),
            );
        }
    }

    // The key: given, or every named parameter not ignored.
    // Placeholders written wrongly and reported: the same in `group` is the same mistake.
    let mut written_wrongly = Vec::new();
    let key = match &args.key {
        Some(lit) => KeyTemplate::parse(lit, "key", &mut written_wrongly, errors),
        None => {
            let defaults: Vec<Ident> = params
                .params
                .iter()
                .filter_map(|p| p.ident())
                .filter(|i| !ignored.contains(&i.to_string()))
                .cloned()
                .collect();
            KeyTemplate::from_params(&defaults, attr_span)
        }
    };
    let group = args
        .group
        .as_ref()
        .map(|lit| KeyTemplate::parse(lit, "group", &mut written_wrongly, errors));

    // Unknown names already reported: a typo used in both `key` and `group` is one mistake.
    let mut reported: Vec<String> = Vec::new();
    let roots = resolve(
        &key,
        "key",
        params,
        &names,
        &listing,
        fn_name,
        errors,
        &mut suggested,
        &mut reported,
    );
    let group_resolved = group.as_ref().is_none_or(|group| {
        resolve(
            group,
            "group",
            params,
            &names,
            &listing,
            fn_name,
            errors,
            &mut suggested,
            &mut reported,
        )
        .iter()
        .all(Option::is_some)
    });
    if key.malformed || args.key_unreadable || roots.iter().any(Option::is_none) {
        // Coverage and prefix checks against a half-read key, or against a key with an unknown
        // placeholder (most likely a typo of the parameter that would be reported missing),
        // would only add follow-on errors.
        if !key.malformed {
            duplicates(&key, "key", errors);
        }
        return None;
    }
    duplicates(&key, "key", errors);
    if let Some(group) = &group {
        duplicates(group, "group", errors);
    }

    // Field paths through types the attribute can see; the group's are the key's.
    let self_ty: syn::Type = syn::parse_quote!(Self);
    let field_problems: Vec<String> = key
        .placeholders
        .iter()
        .zip(&roots)
        .filter(|(placeholder, _)| !placeholder.fields.is_empty())
        .filter_map(|(placeholder, root)| {
            let root_ty = match root {
                Some(Root::Param(index)) => params.params[*index].ty,
                _ => &self_ty,
            };
            crate::fields::check(placeholder, root_ty, place, "key").err()
        })
        .collect();
    if !field_problems.is_empty() {
        errors.error_at(key.lit.span(), field_problems.join("; also, "));
    }

    // Coverage: everything that could change the result is in the key or ignored on purpose.
    let in_key = |root: Root| roots.contains(&Some(root));
    if let Some(receiver) = params.receiver {
        let is_ignored = ignored.iter().any(|i| i == "self");
        if is_ignored && in_key(Root::SelfValue) {
            errors.error(
                receiver,
                "`self` is both in `key` and in `ignore`; remove it from one",
            );
        } else if !is_ignored && !in_key(Root::SelfValue) {
            errors.error(
                receiver,
                "the receiver `self` is not part of the key, but one cache serves every instance: \
                 add the fields that select the data to `key` (such as `<self.account_id>`), or \
                 add `ignore = [self]` if the result does not depend on `self`",
            );
        }
    }
    let mut not_in_key: Vec<&Ident> = Vec::new();
    for (index, param) in params.params.iter().enumerate() {
        match &param.name {
            ParamName::Wildcard => {}
            ParamName::Named(ident) => {
                let is_ignored = ignored.contains(&ident.to_string());
                let keyed = in_key(Root::Param(index));
                if is_ignored && keyed {
                    errors.error(
                        ident,
                        format!("parameter `{ident}` is both in `key` and in `ignore`; remove it from one"),
                    );
                } else if !is_ignored && !keyed && !suggested.contains(&ident.to_string()) {
                    not_in_key.push(ident);
                } else if keyed && param.impl_trait {
                    errors.error(
                        param.ty,
                        format!(
                            "parameter `{ident}` has an `impl Trait` type, which differs per call site, \
                             so it cannot be part of the key; give it a concrete type, or add it to \
                             `ignore`"
                        ),
                    );
                }
            }
            ParamName::Pattern(bindings) => {
                // Every binding must be ignored: a binding left out would be silently left out
                // of the key, and calls that differ only in it would share a cached result.
                let missing: Vec<&Ident> = bindings
                    .iter()
                    .filter(|b| !ignored.contains(&b.to_string()))
                    .collect();
                if missing.len() == bindings.len() && !bindings.is_empty() {
                    errors.error(
                        &param.arg.pat,
                        "a destructured parameter cannot be part of the key: bind it to a name \
                         (`arg: Type`), use `<arg>` or `<arg.field>` in `key` and destructure in \
                         the body, or add its bindings to `ignore`",
                    );
                } else if let Some(first) = missing.first() {
                    let all: Vec<String> = ignored
                        .iter()
                        .cloned()
                        .chain(missing.iter().map(ToString::to_string))
                        .collect();
                    let names = missing
                        .iter()
                        .map(|b| format!("`{b}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    errors.error(
                        first,
                        format!(
                            "{names} of this destructured parameter {verb} in neither `key` nor \
                             `ignore`: a destructured parameter cannot be part of the key, so \
                             ignore every binding (`ignore = [{}]`), or bind the parameter to a \
                             name (`arg: Type`) and use `<arg>` or `<arg.field>` in `key`",
                            all.join(", "),
                            verb = if missing.len() == 1 { "is" } else { "are" },
                        ),
                    );
                }
            }
        }
    }

    // One error for every parameter missing from the key: one mistake (a key written for
    // fewer parameters) is one report, spanned on the first of them.
    match not_in_key.as_slice() {
        [] => {}
        [ident] => errors.error(
            ident,
            format!(
                "parameter `{ident}` is not part of the key: add `<{ident}>` to `key`, or add \
                 `ignore = [{ident}]` if the result does not depend on it"
            ),
        ),
        several => {
            let names = several
                .iter()
                .map(|i| format!("`{i}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let placeholders = several
                .iter()
                .map(|i| format!("<{i}>"))
                .collect::<Vec<_>>()
                .join(":");
            let list = several
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            errors.error(
                several[0],
                format!(
                    "parameters {names} are not part of the key: add them to `key` (`{placeholders}`), \
                     or add `ignore = [{list}]` for those the result does not depend on"
                ),
            );
        }
    }

    // The group: a prefix of the key's placeholders.
    let group_len = match &group {
        None => key.placeholders.len(),
        Some(group) if group.malformed || !group_resolved => 0,
        Some(group) => {
            let mismatch = group
                .placeholders
                .iter()
                .zip(&key.placeholders)
                .position(|(g, k)| g.text != k.text);
            if group.placeholders.len() > key.placeholders.len() || mismatch.is_some() {
                // The valid groups: every prefix of the key, shortest first.
                let prefixes = (1..=key.placeholders.len())
                    .map(|n| {
                        let prefix: Vec<String> = key.placeholders[..n]
                            .iter()
                            .map(|p| format!("<{}>", p.text))
                            .collect();
                        format!("`group = \"{}\"`", prefix.join(":"))
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                errors.error(
                    &group.lit,
                    format!(
                        "`group` must be a prefix of `key`: its placeholders are the first \
                         placeholders of `key`, in the same order; valid groups here are {prefixes}"
                    ),
                );
            }
            group.placeholders.len()
        }
    };

    if !errors.is_empty() {
        return None;
    }
    Some(Plan {
        key,
        roots: roots
            .into_iter()
            .map(|r| r.expect("checked above"))
            .collect(),
        group_len,
        ttl: args.ttl.take()?,
        capacity: args.capacity.take().unwrap_or(Capacity::Written(10_000)),
        store_if: args.store_if.take(),
        store_none_false: args.store_none_false.take(),
        scope: args.scope.take(),
        stale: args.stale.take(),
        stale_if_error: args.stale_if_error.take(),
        throttle: args.throttle.take().map(|(secs, nanos, _)| (secs, nanos)),
        serve_stale_if: args.serve_stale_if.take(),
        revoke_if: args.revoke_if.take(),
        timeout: args.timeout.take(),
        soft_timeout: args
            .soft_timeout
            .take()
            .map(|(secs, nanos, _)| (secs, nanos)),
        jitter: args.jitter.take(),
        shared_tier: args.shared_tier.take(),
    })
}

/// The root of each placeholder, `None` where unknown (reported; the parameter suggested
/// instead, if any, is added to `suggested`).
#[allow(clippy::too_many_arguments)]
fn resolve(
    template: &KeyTemplate,
    which: &str,
    params: &Params<'_>,
    names: &[String],
    listing: &str,
    fn_name: &Ident,
    errors: &mut Errors,
    suggested: &mut Vec<String>,
    reported: &mut Vec<String>,
) -> Vec<Option<Root>> {
    let mut unknown: Vec<(String, Option<&str>)> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let roots = template
        .placeholders
        .iter()
        .map(|p| {
            let root = p.root_name();
            if root == "self" {
                if params.receiver.is_none() {
                    problems.push(format!(
                        "placeholder `<{}>` in `{which}` uses `self`, but `{fn_name}` has no \
                             `self` parameter",
                        p.text
                    ));
                    return None;
                }
                if p.fields.is_empty() {
                    problems.push(format!(
                        "placeholder `<self>` in `{which}`: name the fields that identify the \
                             data, such as `<self.account_id>`, or `ignore = [self]`"
                    ));
                    return None;
                }
                return Some(Root::SelfValue);
            }
            match params.named(&root) {
                Some((index, _)) => Some(Root::Param(index)),
                None if reported.contains(&root) => None,
                None if params.binds_in_pattern(&root) => {
                    reported.push(root.clone());
                    problems.push(format!(
                        "placeholder `<{}>` in `{which}` names a binding of a destructured \
                             parameter, which cannot be part of the key: bind the parameter to a \
                             name (`arg: Type`) and use `<arg>` or `<arg.field>`",
                        p.text
                    ));
                    None
                }
                None => {
                    reported.push(root.clone());
                    let near = nearest(&root, names.iter().map(String::as_str));
                    if let Some(near) = near {
                        suggested.push(near.to_string());
                    }
                    unknown.push((p.text.clone(), near));
                    None
                }
            }
        })
        .collect();
    // Every unknown placeholder of one template in one error: one mistake (often a wrong
    // parameter list, or a template copied from another function) is one report.
    match unknown.as_slice() {
        [] => {}
        [(text, near)] => {
            let problem = format!("unknown placeholder `<{text}>` in `{which}`");
            problems.push(with_suggestion(&problem, *near, listing));
        }
        several => {
            let list = several
                .iter()
                .map(|(text, near)| match near {
                    Some(near) => format!("`<{text}>` (did you mean `{near}`?)"),
                    None => format!("`<{text}>`"),
                })
                .collect::<Vec<_>>()
                .join(", ");
            problems.push(format!(
                "unknown placeholders {list} in `{which}`; {listing}"
            ));
        }
    }
    // One template, one error, listing each of its problems.
    if !problems.is_empty() {
        errors.error_at(template.lit.span(), problems.join("; also, "));
    }
    roots
}

fn duplicates(template: &KeyTemplate, which: &str, errors: &mut Errors) {
    let mut seen: Vec<&Placeholder> = Vec::new();
    for p in &template.placeholders {
        if seen.iter().any(|s| s.text == p.text) {
            errors.error_at(
                template.lit.span(),
                format!(
                    "placeholder `<{}>` appears twice in `{which}`; a key part is listed once",
                    p.text
                ),
            );
        } else {
            seen.push(p);
        }
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "the function has no parameters".to_string()
    } else {
        format!(
            "parameters are {}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// `problem`, then the likely intended name if there is one, then the parameters.
fn with_suggestion(problem: &str, near: Option<&str>, listing: &str) -> String {
    match near {
        Some(near) => format!("{problem}; did you mean `{near}`? {listing}"),
        None => format!("{problem}; {listing}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    /// The parameters of the stand-ins for `args` on `sig`, by name: `(group, key)`.
    fn stand_in_names(args: proc_macro2::TokenStream, sig: &str) -> (Vec<String>, Vec<String>) {
        let sig: Signature = syn::parse_str(sig).expect("the signature parses");
        let params = Params::of(&sig);
        let mut args = Args::parse(args);
        let mut errors = Errors::default();
        let Err(roots) = plan(
            &mut args,
            &sig,
            &params,
            Span::call_site(),
            None,
            &mut errors,
        ) else {
            panic!("the attribute is accepted");
        };
        assert_eq!(
            errors.len(),
            1,
            "one mistake, one error: {:?}",
            errors.messages()
        );
        let names = |roots: &[Root]| {
            roots
                .iter()
                .map(|root| match root {
                    Root::SelfValue => "self".to_string(),
                    Root::Param(index) => params.params[*index].ident().unwrap().to_string(),
                })
                .collect()
        };
        (names(&roots.group), names(&roots.key))
    }

    const SIG: &str = "async fn f(user_id: u32, n: u32, r#type: u8) -> u32";

    #[test]
    fn the_stand_ins_take_the_parameters_meant() {
        let both = |group: &[&str], key: &[&str]| {
            let owned = |names: &[&str]| names.iter().map(ToString::to_string).collect();
            (owned(group), owned(key))
        };
        // A typo, in the key and the group: the parameter suggested.
        let typo = quote!(ttl = 60, key = "<user>:<n>:<r#type>", group = "<user>");
        assert_eq!(
            stand_in_names(typo, SIG),
            both(&["user_id"], &["user_id", "n", "r#type"])
        );
        // `{user_id}`, in the key and the group, is one error; its parameter is kept.
        let braces = quote!(
            ttl = 60,
            key = "{user_id}:<n>:<r#type>",
            group = "{user_id}"
        );
        assert_eq!(
            stand_in_names(braces, SIG),
            both(&["user_id"], &["user_id", "n", "r#type"])
        );
        // A keyword without its `r#`, an unclosed placeholder.
        let keyword = quote!(ttl = 60, key = "<type>:<user_id>:<n>", group = "<type>");
        assert_eq!(
            stand_in_names(keyword, SIG),
            both(&["r#type"], &["user_id", "n", "r#type"])
        );
        let unclosed = quote!(ttl = 60, key = "<user_id>:<n:<r#type>");
        assert_eq!(
            stand_in_names(unclosed, SIG),
            both(&["user_id", "n", "r#type"], &["user_id", "n", "r#type"])
        );
        // A typo in `ignore` (`type` for `r#type`): one error, the parameter it suggests not
        // also "not part of the key"; and the default key leaves that parameter out.
        let ignored_keyword = quote!(ttl = 60, key = "<user_id>:<n>", ignore = [type]);
        assert_eq!(
            stand_in_names(ignored_keyword, SIG),
            both(&["user_id", "n"], &["user_id", "n"])
        );
        let ignored = quote!(ttl = 60, ignore = [nn]);
        assert_eq!(
            stand_in_names(ignored, SIG),
            both(&["user_id", "r#type"], &["user_id", "r#type"])
        );
        let ignored_with_key = quote!(ttl = 60, key = "<user_id>:<r#type>", ignore = [nn]);
        assert_eq!(
            stand_in_names(ignored_with_key, SIG),
            both(&["user_id", "r#type"], &["user_id", "r#type"])
        );
        // A placeholder that names nothing near a parameter: the parameters in order.
        let unknown = quote!(ttl = 60, key = "<zzzzzz>:<n>", group = "<zzzzzz>");
        assert_eq!(
            stand_in_names(unknown, SIG),
            both(&["user_id", "n", "r#type"], &["user_id", "n", "r#type"])
        );
        // A mistake elsewhere: the plan's own parameters.
        let no_ttl = quote!(key = "<n>:<user_id>:<r#type>", group = "<n>");
        assert_eq!(
            stand_in_names(no_ttl, SIG),
            both(&["n"], &["user_id", "n", "r#type"])
        );
    }
}
