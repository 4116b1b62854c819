#pragma once
// The last lines of every op file: explicit instantiation of its ops for float and double, and
// their names in the op registry (autograd/ops/detail/op_registry.hpp), both from one list of names:
//
//   TG_INSTANTIATE_OPS(add, sub, mul)
//   TG_INSTANTIATE_OVERLOAD(pow, Variable<T>(const Variable<T>&, Scalar<T>))
//
// The signature comes from the declaration in the op's header (decltype(add<float>)), so it is
// written there and in the definition only. A name with several templates in scope (pow, and
// concat and stack beside their initializer_list forms) is ambiguous to decltype: each of its
// instantiated overloads gets a TG_INSTANTIATE_OVERLOAD line with its signature in terms of T.
// Internal: included by the op files' .cpp only, never installed.
#include "detail/op_registry.hpp"

#define TG_OPS_CAT_(a, b) a##b
#define TG_OPS_CAT(a, b) TG_OPS_CAT_(a, b)

// TG_OPS_FOR_EACH(macro, a, b, c) -> macro(a) macro(b) macro(c), for up to 256 names (the usual
// __VA_OPT__ recursion: each TG_OPS_EXPAND level rescans the deferred call once more).
#define TG_OPS_PARENS ()
#define TG_OPS_EXPAND(...) TG_OPS_EXPAND4(TG_OPS_EXPAND4(TG_OPS_EXPAND4(TG_OPS_EXPAND4(__VA_ARGS__))))
#define TG_OPS_EXPAND4(...) TG_OPS_EXPAND3(TG_OPS_EXPAND3(TG_OPS_EXPAND3(TG_OPS_EXPAND3(__VA_ARGS__))))
#define TG_OPS_EXPAND3(...) TG_OPS_EXPAND2(TG_OPS_EXPAND2(TG_OPS_EXPAND2(TG_OPS_EXPAND2(__VA_ARGS__))))
#define TG_OPS_EXPAND2(...) TG_OPS_EXPAND1(TG_OPS_EXPAND1(TG_OPS_EXPAND1(TG_OPS_EXPAND1(__VA_ARGS__))))
#define TG_OPS_EXPAND1(...) __VA_ARGS__
#define TG_OPS_FOR_EACH(macro, ...) __VA_OPT__(TG_OPS_EXPAND(TG_OPS_FOR_EACH_STEP(macro, __VA_ARGS__)))
#define TG_OPS_FOR_EACH_STEP(macro, first, ...) \
  macro(first) __VA_OPT__(TG_OPS_FOR_EACH_AGAIN TG_OPS_PARENS(macro, __VA_ARGS__))
#define TG_OPS_FOR_EACH_AGAIN() TG_OPS_FOR_EACH_STEP

/// One op's explicit instantiations, typed by its declaration.
#define TG_OPS_INSTANCE(name)                  \
  template decltype(name<float>) name<float>; \
  template decltype(name<double>) name<double>;

/// The names, stringised once, into the registry before main (one registrar per line of use).
#define TG_OPS_REGISTER(...)                                                                 \
  namespace {                                                                                \
  const ::tg::detail::OpRegistrar TG_OPS_CAT(tg_op_registrar_, __LINE__)(__FILE__, #__VA_ARGS__); \
  }

/// Instantiates each named op for float and double and registers its name.
#define TG_INSTANTIATE_OPS(...) TG_OPS_FOR_EACH(TG_OPS_INSTANCE, __VA_ARGS__) TG_OPS_REGISTER(__VA_ARGS__)

/// One overload of an overloaded op, its function type written in terms of T; registers the
/// name (once, however many of its overloads are listed).
#define TG_INSTANTIATE_OVERLOAD(name, ...)                                     \
  template <class T>                                                           \
  using TG_OPS_CAT(tg_op_signature_, __LINE__) = __VA_ARGS__;                  \
  template TG_OPS_CAT(tg_op_signature_, __LINE__)<float> name<float>;          \
  template TG_OPS_CAT(tg_op_signature_, __LINE__)<double> name<double>;        \
  TG_OPS_REGISTER(name)
