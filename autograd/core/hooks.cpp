// Post-accumulate-grad hooks on leaves (Variable::register_post_accumulate_grad_hook).
#include "variable.hpp"

#include <atomic>
#include <memory>
#include <mutex>

namespace tg {

namespace {
std::atomic<HookId> next_hook_id{0};  // ids are unique across leaves, so removing from the wrong leaf finds nothing
}  // namespace

template <class T>
HookId Variable<T>::register_post_accumulate_grad_hook(std::function<void(const Variable&)> hook) {
  check_defined("register_post_accumulate_grad_hook");
  TG_CHECK(node_->op == nullptr, "register_post_accumulate_grad_hook",
           std::string("only leaves accumulate gradients; this variable (shape ") + shape_str(shape()) +
               ") is the result of '" + node_->op + "'");
  TG_CHECK(node_->requires_grad, "register_post_accumulate_grad_hook",
           "the leaf (shape " + shape_str(shape()) + ") does not require grad, so backward never accumulates into it");
  TG_CHECK(static_cast<bool>(hook), "register_post_accumulate_grad_hook", "the hook is empty");
  const HookId id = next_hook_id.fetch_add(1, std::memory_order_relaxed) + 1;
  std::lock_guard<detail::NodeLock> lock(node_->lock);
  auto hooks = std::make_shared<detail::GradHooks<T>>(node_->grad_hooks ? *node_->grad_hooks : detail::GradHooks<T>{});
  hooks->hooks.emplace_back(id, std::move(hook));
  node_->grad_hooks = std::move(hooks);
  return id;
}
template <class T>
bool Variable<T>::remove_post_accumulate_grad_hook(HookId id) {
  check_defined("remove_post_accumulate_grad_hook");
  std::shared_ptr<const detail::GradHooks<T>> old;  // freed after the lock is released
  std::lock_guard<detail::NodeLock> lock(node_->lock);
  if (!node_->grad_hooks) return false;
  auto hooks = std::make_shared<detail::GradHooks<T>>(*node_->grad_hooks);
  const auto removed = std::erase_if(hooks->hooks, [id](const auto& entry) { return entry.first == id; });
  if (removed == 0) return false;
  old = std::move(node_->grad_hooks);
  if (!hooks->hooks.empty()) node_->grad_hooks = std::move(hooks);
  return true;
}

template HookId Variable<float>::register_post_accumulate_grad_hook(std::function<void(const Variable<float>&)>);
template HookId Variable<double>::register_post_accumulate_grad_hook(std::function<void(const Variable<double>&)>);
template bool Variable<float>::remove_post_accumulate_grad_hook(HookId);
template bool Variable<double>::remove_post_accumulate_grad_hook(HookId);

}  // namespace tg
