// Module save/load: state_dict to and from .npz.
#include "checkpoint.hpp"

namespace tg::nn {

template <class T>
void save(const Module<T>& module, const std::string& path) {
  save_npz(path, module.state_dict());
}

template <class T>
void load(Module<T>& module, const std::string& path, bool strict) {
  const StateDict<T> dict = load_npz<T>(path);
  try {
    module.load_state_dict(dict, strict);
  } catch (const Error& e) {
    throw Error("load: '" + path + "': " + e.what());
  }
}

template void save(const Module<float>&, const std::string&);
template void save(const Module<double>&, const std::string&);
template void load(Module<float>&, const std::string&, bool);
template void load(Module<double>&, const std::string&, bool);

}  // namespace tg::nn
