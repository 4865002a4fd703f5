//! What a field holds, read from how its type is spelled, and the element type `T` of the
//! generated `impl Module<T>`.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{GenericArgument, Generics, Ident, PathArguments, Result, Type, TypeParamBound};

/// What a field holds.
pub enum Kind {
    /// `Param<F>`: one parameter, named after the field.
    Param(Type),
    /// Any other type: a module (`M: Module<T>`), its names prefixed with the field's.
    Module(Type),
    /// `Vec<K>` or `[K; N]`: items named `0`, `1`, ... (PyTorch's `ModuleList`).
    List(Box<Kind>),
    /// `Option<K>`: its parameters when `Some`, none when `None`.
    Optional(Box<Kind>),
    /// `Box<K>`: as `K`.
    Boxed(Box<Kind>),
}

impl Kind {
    /// The kind of `ty`, from the last segment of its path (`Param`, `Vec`, `Option`, `Box`).
    pub fn of(ty: &Type) -> Kind {
        match ty {
            Type::Array(a) => Kind::List(Box::new(Kind::of(&a.elem))),
            Type::Group(g) => Kind::of(&g.elem),
            Type::Paren(p) => Kind::of(&p.elem),
            Type::Path(p) if p.qself.is_none() => {
                let Some(seg) = p.path.segments.last() else {
                    return Kind::Module(ty.clone());
                };
                let Some(arg) = single_type_arg(&seg.arguments) else {
                    return Kind::Module(ty.clone());
                };
                match seg.ident.to_string().as_str() {
                    "Param" => Kind::Param(arg.clone()),
                    "Vec" => Kind::List(Box::new(Kind::of(arg))),
                    "Option" => Kind::Optional(Box::new(Kind::of(arg))),
                    "Box" => Kind::Boxed(Box::new(Kind::of(arg))),
                    _ => Kind::Module(ty.clone()),
                }
            }
            _ => Kind::Module(ty.clone()),
        }
    }

    /// The innermost type: a module's, or the element type of a `Param`.
    pub fn leaf(&self) -> (&Type, bool) {
        match self {
            Kind::Param(t) => (t, true),
            Kind::Module(t) => (t, false),
            Kind::List(k) | Kind::Optional(k) | Kind::Boxed(k) => k.leaf(),
        }
    }
}

/// `T` in `Name<T>`, when that is the only argument.
fn single_type_arg(args: &PathArguments) -> Option<&Type> {
    let PathArguments::AngleBracketed(a) = args else {
        return None;
    };
    match (a.args.len(), a.args.first()) {
        (1, Some(GenericArgument::Type(t))) => Some(t),
        _ => None,
    }
}

/// The element type of the generated `impl Module<T>`, in this order: `#[module(float =
/// ..)]`; the `F` of the first `Param<F>` field; the type parameter bounded by `Float`;
/// `f32` or `f64` written in the fields' types. `None` when there is no clue: the impl is
/// then generic over every float, bounded by the fields being modules of it.
pub fn element_type(
    explicit: Option<&Type>,
    kinds: &[&Kind],
    generics: &Generics,
) -> Result<Option<Type>> {
    if let Some(t) = explicit {
        return Ok(Some(t.clone()));
    }
    if let Some(t) = kinds.iter().map(|k| k.leaf()).find(|l| l.1) {
        return Ok(Some(t.0.clone()));
    }
    let bounded = float_params(generics);
    if bounded.len() > 1 {
        return Err(syn::Error::new_spanned(
            &generics.params,
            "several type parameters are bounded by `Float`; name the element type with \
             `#[module(float = T)]`",
        ));
    }
    if let Some(p) = bounded.first() {
        return Ok(Some(syn::parse_quote!(#p)));
    }
    let mut written = Vec::new();
    for k in kinds {
        primitive_floats(k.leaf().0.to_token_stream(), &mut written);
    }
    written.sort();
    written.dedup();
    match written.as_slice() {
        [] => Ok(None),
        [one] => {
            let id = Ident::new(one, proc_macro2::Span::call_site());
            Ok(Some(syn::parse_quote!(#id)))
        }
        _ => Err(syn::Error::new_spanned(
            &generics.params,
            "the fields use both `f32` and `f64`; a module has one element type: name it with \
             `#[module(float = f32)]`",
        )),
    }
}

/// Type parameters with a `Float` bound, inline or in the `where` clause.
fn float_params(generics: &Generics) -> Vec<Ident> {
    let is_float = |b: &TypeParamBound| match b {
        TypeParamBound::Trait(t) => t.path.segments.last().is_some_and(|s| s.ident == "Float"),
        _ => false,
    };
    let mut out: Vec<Ident> = generics
        .type_params()
        .filter(|p| p.bounds.iter().any(is_float))
        .map(|p| p.ident.clone())
        .collect();
    for pred in generics.where_clause.iter().flat_map(|w| &w.predicates) {
        let syn::WherePredicate::Type(pt) = pred else {
            continue;
        };
        let Type::Path(tp) = &pt.bounded_ty else {
            continue;
        };
        if let Some(id) = tp.path.get_ident()
            && pt.bounds.iter().any(is_float)
            && !out.contains(id)
        {
            out.push(id.clone());
        }
    }
    out
}

/// Every `f32` / `f64` written in `tokens`.
fn primitive_floats(tokens: TokenStream, out: &mut Vec<String>) {
    for tt in tokens {
        match tt {
            TokenTree::Ident(id) if id == "f32" || id == "f64" => out.push(id.to_string()),
            TokenTree::Group(g) => primitive_floats(g.stream(), out),
            _ => {}
        }
    }
}
