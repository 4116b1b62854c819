// GradientAverager: buckets of gradients, each sent with a non-blocking allreduce as soon as
// backward has finished all of its gradients (a post-accumulate-grad hook per parameter), in
// bucket order on every rank; finish() waits for all of them and writes the means back.
#include "gradient_averager.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <exception>
#include <mutex>
#include <unordered_set>

#include "collectives.hpp"
#include "detail/mpi.hpp"
#include "environment.hpp"

namespace tg::dist {

template <class T>
struct GradientAverager<T>::State {
  struct Slot {
    std::string name;
    Variable<T> param;
    HookId hook = 0;
    std::size_t bucket = 0;
    std::size_t offset = 0;  // into the bucket's buffer
    bool ready = false;      // its gradient of this step is in the buffer
  };
  struct Bucket {
    std::vector<T> buffer;            // the gradients of its slots, back to back
    std::vector<std::size_t> slots;
    std::size_t waiting = 0;          // slots not ready yet
    bool sent = false;
    MPI_Request request = MPI_REQUEST_NULL;
  };

  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  std::size_t next_to_send = 0;  // buckets go out in index order on every rank
  std::size_t sent_in_backward = 0, last_sent_in_backward = 0;
  int world = 1;
  double finish_seconds = 0;
  std::size_t steps = 0;
  std::mutex mutex;  // hooks run on the thread that calls backward

  static constexpr const char* op = "tg::dist::GradientAverager";

  /// The hook of slot i: its gradient of this step is final.
  void on_gradient(std::size_t i, const Variable<T>& leaf) {
    std::lock_guard<std::mutex> lock(mutex);
    Slot& s = slots[i];
    Bucket& b = buckets[s.bucket];
    if (b.sent)
      throw Error(std::string(op) + ": the gradient of " + s.name + " (shape " + shape_str(s.param.shape()) +
                  ") was accumulated again after its bucket was sent: call finish() after every backward (a second "
                  "backward before finish() would be missing from the average)");
    const auto& g = leaf.grad().value();
    std::copy_n(g.data(), g.size(), b.buffer.data() + s.offset);
    if (!s.ready) {
      s.ready = true;
      if (--b.waiting == 0) send_ready(true);
    }
    progress();
  }

  void send_ready(bool in_backward) {
    while (next_to_send < buckets.size() && buckets[next_to_send].waiting == 0) {
      send(buckets[next_to_send++]);
      if (in_backward) ++sent_in_backward;
    }
  }

  void send(Bucket& b) {
    detail::check_mpi(MPI_Iallreduce(MPI_IN_PLACE, b.buffer.data(), static_cast<int>(b.buffer.size()), detail::datatype<T>(),
                                     MPI_SUM, MPI_COMM_WORLD, &b.request),
                      op, "MPI_Iallreduce");
    b.sent = true;
  }

  /// Open MPI moves a non-blocking collective forward only inside MPI calls: test the ones in
  /// flight at every hook, so they progress while backward computes.
  void progress() {
    for (std::size_t k = 0; k < next_to_send; ++k)
      if (buckets[k].request != MPI_REQUEST_NULL) {
        int done = 0;
        detail::check_mpi(MPI_Test(&buckets[k].request, &done, MPI_STATUS_IGNORE), op, "MPI_Test");
      }
  }

  /// Waits for every request in flight (they complete into the buffers).
  void wait_all() {
    std::vector<MPI_Request> requests;
    for (auto& b : buckets) requests.push_back(b.request);
    detail::check_mpi(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE), op,
                      "MPI_Waitall");
    for (auto& b : buckets) b.request = MPI_REQUEST_NULL;
  }

  bool in_flight() const {
    return std::any_of(buckets.begin(), buckets.end(), [](const Bucket& b) { return b.request != MPI_REQUEST_NULL; });
  }

  void finish() {
    std::lock_guard<std::mutex> lock(mutex);
    // What backward did not finish (parameters unused in this step) counts as its .grad() or zero.
    for (std::size_t k = next_to_send; k < buckets.size(); ++k) {
      Bucket& b = buckets[k];
      for (std::size_t i : b.slots) {
        Slot& s = slots[i];
        if (s.ready) continue;
        T* to = b.buffer.data() + s.offset;
        if (s.param.has_grad()) std::copy_n(s.param.grad().value().data(), s.param.numel(), to);
        else std::fill_n(to, s.param.numel(), T(0));
        s.ready = true;
      }
      b.waiting = 0;
    }
    send_ready(false);
    wait_all();
    const T scale = T(1) / static_cast<T>(world);
    for (Slot& s : slots) {
      const T* from = buckets[s.bucket].buffer.data() + s.offset;
      const std::size_t n = s.param.numel();
      if (s.param.has_grad() && !s.param.grad().requires_grad()) {
        Variable<T> g = s.param.grad();  // the leaf's own gradient node: written in place
        T* to = g.mutable_value().data();
        for (std::size_t k = 0; k < n; ++k) to[k] = from[k] * scale;
      } else {
        xt::xarray<T> mean = xt::empty<T>(s.param.shape());
        for (std::size_t k = 0; k < n; ++k) mean.data()[k] = from[k] * scale;
        s.param.set_grad(Variable<T>(std::move(mean)));
      }
      s.ready = false;
    }
    for (Bucket& b : buckets) {
      b.waiting = b.slots.size();
      b.sent = false;
    }
    next_to_send = 0;
    last_sent_in_backward = std::exchange(sent_in_backward, 0);
  }
};

template <class T>
GradientAverager<T>::GradientAverager(nn::Module<T>& module, GradientAveragerOptions options) : options_(options) {
  detail::require_initialized(State::op);
  if (options_.broadcast_module) broadcast(module, 0);
  std::vector<std::string> names;
  std::vector<Variable<T>> parameters;
  for (auto& [name, p] : module.named_parameters())
    if (p.requires_grad()) {
      names.push_back("parameter '" + name + "'");
      parameters.push_back(p);
    }
  start(std::move(names), std::move(parameters));
}

template <class T>
GradientAverager<T>::GradientAverager(std::vector<Variable<T>> parameters, GradientAveragerOptions options)
    : options_(options) {
  detail::require_initialized(State::op);
  std::vector<std::string> names;
  for (std::size_t i = 0; i < parameters.size(); ++i) names.push_back("parameter " + std::to_string(i));
  start(std::move(names), std::move(parameters));
}

template <class T>
void GradientAverager<T>::start(std::vector<std::string> names, std::vector<Variable<T>> parameters) {
  constexpr const char* op = State::op;
  TG_CHECK(options_.bucket_bytes > 0, op, "bucket_bytes must be positive, got 0");
  std::unordered_set<const Node<T>*> seen;
  std::vector<std::string> layout;
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    const Variable<T>& p = parameters[i];
    TG_CHECK(p.defined(), op, names[i] + " is undefined");
    TG_CHECK(p.is_leaf() && p.requires_grad(), op,
             names[i] + " (shape " + shape_str(p.shape()) + ") is not a leaf that requires grad");
    TG_CHECK(p.numel() <= std::size_t(INT_MAX), op,
             names[i] + " (shape " + shape_str(p.shape()) + ") has more elements than one MPI message can carry");
    TG_CHECK(seen.insert(p.node()).second, op, names[i] + " (shape " + shape_str(p.shape()) + ") is listed twice");
    layout.push_back(names[i] + " " + shape_str(p.shape()));
  }
  // Every rank must send the same buckets: the same parameters, in the same order.
  detail::require_same_layout(layout, 0, op, "list of parameters");

  state_ = std::make_unique<State>();
  State& st = *state_;
  st.world = world_size();
  // Reverse order: backward finishes the last layers first, so their bucket can leave first.
  std::size_t bucket_elements = 0;
  for (std::size_t i = parameters.size(); i-- > 0;) {
    const std::size_t n = parameters[i].numel();
    const bool fits = (bucket_elements + n) * sizeof(T) <= options_.bucket_bytes && bucket_elements + n <= std::size_t(INT_MAX);
    if (st.buckets.empty() || (!fits && bucket_elements > 0)) {
      st.buckets.emplace_back();
      bucket_elements = 0;
    }
    typename State::Bucket& b = st.buckets.back();
    st.slots.push_back({std::move(names[i]), parameters[i], 0, st.buckets.size() - 1, bucket_elements, false});
    b.slots.push_back(st.slots.size() - 1);
    bucket_elements += n;
    b.buffer.resize(bucket_elements);
  }
  for (auto& b : st.buckets) b.waiting = b.slots.size();
  if (st.world == 1) return;  // one rank: its gradients are the mean already
  State* state = state_.get();
  for (std::size_t i = 0; i < st.slots.size(); ++i)
    st.slots[i].hook = st.slots[i].param.register_post_accumulate_grad_hook(
        [state, i](const Variable<T>& leaf) { state->on_gradient(i, leaf); });
}

template <class T>
GradientAverager<T>::~GradientAverager() {
  if (!state_) return;
  for (auto& s : state_->slots)
    if (s.hook) s.param.remove_post_accumulate_grad_hook(s.hook);
  if (state_->in_flight()) {
    // Unwinding from an error, the other ranks may never join these allreduces: leave the
    // buffers to MPI (they may still be written) rather than wait forever or free them.
    if (std::uncaught_exceptions() > 0) (void)state_.release();
    else state_->wait_all();
  }
}

template <class T>
GradientAverager<T>::GradientAverager(GradientAverager&&) noexcept = default;
template <class T>
GradientAverager<T>& GradientAverager<T>::operator=(GradientAverager&& other) noexcept {
  if (this != &other) {
    GradientAverager old(std::move(*this));
    options_ = other.options_;
    state_ = std::move(other.state_);
  }
  return *this;
}

template <class T>
void GradientAverager<T>::finish() {
  TG_CHECK(state_ != nullptr, State::op, "finish() on a moved-from averager");
  ++state_->steps;
  if (state_->world == 1) return;
  const auto start = std::chrono::steady_clock::now();
  state_->finish();
  state_->finish_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

template <class T>
std::size_t GradientAverager<T>::num_buckets() const {
  return state_ ? state_->buckets.size() : 0;
}

template <class T>
std::size_t GradientAverager<T>::bytes_per_step() const {
  std::size_t n = 0;
  if (state_)
    for (const auto& b : state_->buckets) n += b.buffer.size() * sizeof(T);
  return n;
}

template <class T>
std::size_t GradientAverager<T>::buckets_sent_during_backward() const {
  return state_ ? state_->last_sent_in_backward : 0;
}

template <class T>
double GradientAverager<T>::finish_seconds() const {
  return state_ ? state_->finish_seconds : 0;
}

template <class T>
std::size_t GradientAverager<T>::steps() const {
  return state_ ? state_->steps : 0;
}

template class GradientAverager<float>;
template class GradientAverager<double>;

}  // namespace tg::dist
