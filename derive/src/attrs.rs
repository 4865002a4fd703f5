//! The `#[module(...)]` attributes: on the type (`crate = path`, `float = type`) and on a
//! field (`skip`, `rename = "name"`, `flatten`).

use syn::{Attribute, LitStr, Path, Result, Type};

/// Attributes on the struct or enum.
pub struct TypeAttrs {
    /// Where `Module`, `Param` and `Float` live: `::recur::nn` unless overridden.
    pub krate: Path,
    /// The element type, when it cannot be found from the fields.
    pub float: Option<Type>,
}

/// Attributes on one field.
#[derive(Default)]
pub struct FieldAttrs {
    /// Not a module: no parameters, no train/eval mode.
    pub skip: bool,
    /// The name in place of the field's.
    pub rename: Option<LitStr>,
    /// The field's parameters keep their own names, with no prefix.
    pub flatten: bool,
}

const TYPE_HELP: &str = "expected `crate = path` or `float = type`";
const FIELD_HELP: &str = "expected `skip`, `rename = \"name\"` or `flatten`";

impl TypeAttrs {
    /// Reads every `#[module(...)]` on the type.
    pub fn parse(attrs: &[Attribute]) -> Result<Self> {
        let mut out = TypeAttrs {
            krate: default_crate(),
            float: None,
        };
        for attr in attrs.iter().filter(|a| a.path().is_ident("module")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("crate") {
                    out.krate = parse_path(meta.value()?)?;
                } else if meta.path.is_ident("float") {
                    out.float = Some(meta.value()?.parse()?);
                } else {
                    return Err(meta.error(format!("unknown `module` attribute; {TYPE_HELP}")));
                }
                Ok(())
            })?;
        }
        Ok(out)
    }
}

impl FieldAttrs {
    /// Reads every `#[module(...)]` on a field.
    pub fn parse(attrs: &[Attribute]) -> Result<Self> {
        let mut out = FieldAttrs::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("module")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("skip") {
                    out.skip = true;
                } else if meta.path.is_ident("flatten") {
                    out.flatten = true;
                } else if meta.path.is_ident("rename") {
                    let name: LitStr = meta.value()?.parse()?;
                    if name.value().is_empty() {
                        return Err(syn::Error::new(
                            name.span(),
                            "`rename` needs a non-empty name (`flatten` drops the prefix)",
                        ));
                    }
                    out.rename = Some(name);
                } else {
                    return Err(meta.error(format!("unknown `module` attribute; {FIELD_HELP}")));
                }
                Ok(())
            })?;
        }
        let combined = [out.skip, out.flatten, out.rename.is_some()];
        if combined.iter().filter(|&&b| b).count() > 1 {
            let attr = attrs.iter().find(|a| a.path().is_ident("module"));
            return Err(syn::Error::new_spanned(
                attr,
                "`skip`, `rename` and `flatten` exclude each other",
            ));
        }
        Ok(out)
    }
}

/// `crate = recur_nn` or `crate = "recur_nn"`.
fn parse_path(input: syn::parse::ParseStream<'_>) -> Result<Path> {
    if input.peek(LitStr) {
        input.parse::<LitStr>()?.parse()
    } else {
        Path::parse_mod_style(input)
    }
}

/// `::recur::nn` for users of the facade; `::recur_nn` inside the `recur-nn` package (its
/// tests and doc tests), where `recur` is not a dependency.
fn default_crate() -> Path {
    let inside_nn = std::env::var("CARGO_PKG_NAME").is_ok_and(|p| p == "recur-nn");
    if inside_nn {
        syn::parse_quote!(::recur_nn)
    } else {
        syn::parse_quote!(::recur::nn)
    }
}
