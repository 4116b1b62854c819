#pragma once
// Internal (tg::detail, not installed): the engine tells the cycle collector (cycles.cpp) which
// leaves a create_graph pass gave a recorded gradient. Dropping handles then runs
// release_cyclic (variable.hpp), which frees a cycle leaf -> grad graph -> leaf nobody holds.
#include <vector>

#include "../variable.hpp"

namespace tg::detail {

/// After a create_graph pass: how many of each reached node's references come from inside the
/// graphs that these leaves' new recorded gradients reach (Node::cycle_refs).
template <class T>
void note_cycles(const std::vector<Variable<T>>& leaves);

}  // namespace tg::detail
