//! The generated `impl Module<T>`: each method is one `match self` whose arms walk the
//! fields in declaration order.

use crate::attrs::{FieldAttrs, TypeAttrs};
use crate::kind::{Kind, element_type};
use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Generics, Ident, LitStr, Member, Result, Type};

/// One field that holds parameters: its binding in the arm's pattern, its name (`None`: its
/// parameters keep their own names) and what it holds.
struct Child {
    binding: Ident,
    name: Option<LitStr>,
    kind: Kind,
}

/// One arm of the `match self`: the struct, or one enum variant.
struct Arm {
    pattern: TokenStream,
    children: Vec<Child>,
}

/// The four methods walk the same fields; they differ in the leaves.
#[derive(Clone, Copy, PartialEq)]
enum Pass {
    Params,
    ParamsMut,
    SetTraining,
    IsTraining,
}

impl Pass {
    fn mutable(self) -> bool {
        matches!(self, Pass::ParamsMut | Pass::SetTraining)
    }
    fn names(self) -> bool {
        matches!(self, Pass::Params | Pass::ParamsMut)
    }
}

/// What the walk needs besides the field: the crate path and the element type.
struct Ctx {
    krate: syn::Path,
    elem: Type,
}

/// `#[derive(Module)]` on `input`.
pub fn expand(input: DeriveInput) -> Result<TokenStream> {
    let attrs = TypeAttrs::parse(&input.attrs)?;
    let arms = arms(&input)?;
    let kinds: Vec<&Kind> = arms
        .iter()
        .flat_map(|a| a.children.iter().map(|c| &c.kind))
        .collect();
    let found = element_type(attrs.float.as_ref(), &kinds, &input.generics)?;
    let (generics, elem) = impl_generics(&input.generics, found, &kinds, &attrs.krate);
    let ctx = Ctx {
        krate: attrs.krate,
        elem,
    };
    let (impl_g, _, where_clause) = generics.split_for_impl();
    let (_, ty_g, _) = input.generics.split_for_impl();
    let name = &input.ident;
    let (k, f) = (&ctx.krate, &ctx.elem);
    let params = body(&arms, Pass::Params, &ctx);
    let params_mut = body(&arms, Pass::ParamsMut, &ctx);
    let set_training = body(&arms, Pass::SetTraining, &ctx);
    let is_training = body(&arms, Pass::IsTraining, &ctx);
    Ok(quote! {
        #[automatically_derived]
        impl #impl_g #k::__derive::Module<#f> for #name #ty_g #where_clause {
            fn named_parameters(
                &self,
            ) -> ::std::vec::Vec<(::std::string::String, &#k::__derive::Param<#f>)> {
                #[allow(unused_mut)]
                let mut __out = ::std::vec::Vec::new();
                #params
                __out
            }
            fn named_parameters_mut(
                &mut self,
            ) -> ::std::vec::Vec<(::std::string::String, &mut #k::__derive::Param<#f>)> {
                #[allow(unused_mut)]
                let mut __out = ::std::vec::Vec::new();
                #params_mut
                __out
            }
            fn set_training(&mut self, __recur_training: bool) {
                #set_training
            }
            fn is_training(&self) -> bool {
                #[allow(unused_mut)]
                let mut __recur_all = true;
                #is_training
                __recur_all
            }
        }
    })
}

/// The struct as one arm, or one arm per variant.
fn arms(input: &DeriveInput) -> Result<Vec<Arm>> {
    match &input.data {
        Data::Struct(s) => Ok(vec![arm(quote!(Self), &s.fields, false)?]),
        Data::Enum(e) => e
            .variants
            .iter()
            .map(|v| {
                let id = &v.ident;
                arm(quote!(Self::#id), &v.fields, true)
            })
            .collect(),
        Data::Union(u) => Err(syn::Error::new(
            u.union_token.span,
            "`#[derive(Module)]` needs a struct or an enum, not a union",
        )),
    }
}

/// The pattern binding every field that is not skipped, and those fields.
fn arm(path: TokenStream, fields: &Fields, in_enum: bool) -> Result<Arm> {
    // A variant holding one unnamed value is that value: its parameters keep their names.
    let newtype_variant = in_enum && matches!(fields, Fields::Unnamed(u) if u.unnamed.len() == 1);
    let mut members = Vec::new();
    let mut children = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let attrs = FieldAttrs::parse(&field.attrs)?;
        if attrs.skip {
            continue;
        }
        let member = match &field.ident {
            Some(id) => Member::Named(id.clone()),
            None => Member::Unnamed(i.into()),
        };
        let name = if attrs.flatten || (newtype_variant && attrs.rename.is_none()) {
            None
        } else {
            Some(attrs.rename.unwrap_or_else(|| member_name(&member)))
        };
        let kind = Kind::of(&field.ty);
        if name.is_none() && needs_name(&kind) {
            return Err(syn::Error::new(
                field.ty.span(),
                "a `Param` is named after its field: it cannot be flattened (give it a name \
                 with `#[module(rename = \"...\")]`)",
            ));
        }
        let binding = format_ident!("__field{}", i);
        members.push(quote!(#member: #binding));
        children.push(Child {
            binding,
            name,
            kind,
        });
    }
    Ok(Arm {
        pattern: quote!(#path { #(#members,)* .. }),
        children,
    })
}

fn member_name(m: &Member) -> LitStr {
    match m {
        Member::Named(id) => LitStr::new(&id.to_string(), id.span()),
        Member::Unnamed(i) => LitStr::new(&i.index.to_string(), i.span),
    }
}

/// Whether the field's parameters take their name from the field alone (a `Param`, not in
/// a list).
fn needs_name(kind: &Kind) -> bool {
    match kind {
        Kind::Param(_) => true,
        Kind::Optional(k) | Kind::Boxed(k) => needs_name(k),
        Kind::List(_) | Kind::Module(_) => false,
    }
}

/// The impl's generics: the type's, plus `M: Module<F>` for each field whose type is a bare
/// type parameter. Without an element type, a new parameter `__RecurFloat: Float` is the
/// element type and every field's module type is bounded by it.
fn impl_generics(
    generics: &Generics,
    found: Option<Type>,
    kinds: &[&Kind],
    krate: &syn::Path,
) -> (Generics, Type) {
    let mut g = generics.clone();
    let elem = match found {
        Some(t) => t,
        None => {
            g.params
                .insert(0, syn::parse_quote!(__RecurFloat: #krate::__derive::Float));
            syn::parse_quote!(__RecurFloat)
        }
    };
    let generic = |t: &Type| -> bool {
        let Type::Path(p) = t else { return false };
        p.path
            .get_ident()
            .is_some_and(|id| generics.type_params().any(|tp| tp.ident == *id))
    };
    let all = generics.params.len() < g.params.len();
    let where_clause = g.make_where_clause();
    for kind in kinds {
        let (ty, is_param) = kind.leaf();
        if !is_param && (all || generic(ty)) {
            where_clause
                .predicates
                .push(syn::parse_quote!(#ty: #krate::__derive::Module<#elem>));
        }
    }
    (g, elem)
}

/// One method's body: `match self { arm => { leaves } ... }`.
fn body(arms: &[Arm], pass: Pass, ctx: &Ctx) -> TokenStream {
    if arms.is_empty() {
        return quote!(match *self {});
    }
    let arms = arms.iter().map(|a| {
        let pattern = &a.pattern;
        let leaves = a.children.iter().map(|c| {
            let value = c.binding.to_token_stream();
            let name = c.name.as_ref().map(|n| quote!(#n));
            walk(&c.kind, value, name, 0, pass, ctx)
        });
        quote!(#pattern => { #(#leaves)* })
    });
    quote!(match self { #(#arms)* })
}

/// The statements for a value of kind `kind` (`value` is a reference to it) named `name`.
fn walk(
    kind: &Kind,
    value: TokenStream,
    name: Option<TokenStream>,
    depth: usize,
    pass: Pass,
    ctx: &Ctx,
) -> TokenStream {
    match kind {
        Kind::Param(_) => param_leaf(value, name, pass),
        Kind::Module(ty) => module_leaf(ty, value, name, pass, ctx),
        Kind::Boxed(inner) => {
            let value = if pass.mutable() {
                quote!(&mut **#value)
            } else {
                quote!(&**#value)
            };
            walk(inner, value, name, depth, pass, ctx)
        }
        Kind::Optional(inner) => {
            let item = format_ident!("__item{}", depth);
            let inner = walk(inner, quote!(#item), name, depth + 1, pass, ctx);
            quote!(if let ::std::option::Option::Some(#item) = #value { #inner })
        }
        Kind::List(inner) => list(inner, value, name, depth, pass, ctx),
    }
}

/// Items of a list named `name.0`, `name.1`, ... (`0`, `1`, ... when flattened).
fn list(
    inner: &Kind,
    value: TokenStream,
    name: Option<TokenStream>,
    depth: usize,
    pass: Pass,
    ctx: &Ctx,
) -> TokenStream {
    let (index, item, label) = (
        format_ident!("__index{}", depth),
        format_ident!("__item{}", depth),
        format_ident!("__name{}", depth),
    );
    let inner_name = pass.names().then(|| quote!(&#label));
    let inner = walk(inner, quote!(#item), inner_name, depth + 1, pass, ctx);
    let label_value = match name {
        Some(n) => quote!(::std::format!("{}.{}", #n, #index)),
        None => quote!(::std::string::ToString::to_string(&#index)),
    };
    let let_label = pass.names().then(|| quote!(let #label = #label_value;));
    quote! {
        for (#index, #item) in ::std::iter::Iterator::enumerate(
            ::std::iter::IntoIterator::into_iter(#value),
        ) {
            #let_label
            #inner
        }
    }
}

fn param_leaf(value: TokenStream, name: Option<TokenStream>, pass: Pass) -> TokenStream {
    match (pass.names(), name) {
        (true, Some(n)) => quote!(__out.push((::std::string::ToString::to_string(#n), #value));),
        _ => TokenStream::new(),
    }
}

/// Calls through `<Type as Module<T>>`, spanned at the field's type, so that a field that is
/// not a module fails to compile right there.
fn module_leaf(
    ty: &Type,
    value: TokenStream,
    name: Option<TokenStream>,
    pass: Pass,
    ctx: &Ctx,
) -> TokenStream {
    let (k, f) = (&ctx.krate, &ctx.elem);
    let span = ty.span();
    let module = quote_spanned!(span=> <#ty as #k::__derive::Module<#f>>);
    match (pass, name) {
        (Pass::Params, Some(n)) => {
            quote!(__out.extend(#k::__derive::prefixed(#n, #module::named_parameters(#value)));)
        }
        (Pass::Params, None) => quote!(__out.extend(#module::named_parameters(#value));),
        (Pass::ParamsMut, Some(n)) => quote! {
            __out.extend(#k::__derive::prefixed_mut(#n, #module::named_parameters_mut(#value)));
        },
        (Pass::ParamsMut, None) => quote!(__out.extend(#module::named_parameters_mut(#value));),
        (Pass::SetTraining, _) => quote!(#module::set_training(#value, __recur_training);),
        (Pass::IsTraining, _) => quote!(__recur_all &= #module::is_training(#value);),
    }
}
