#pragma once
// SmallVector<E, N>: a vector whose first N elements live inside the object. The tape keeps
// an op's inputs and its derivative's gradients in one each: almost every op has one or two,
// so a recorded op and a step of backward allocate no list on the heap (a std::vector's
// malloc + free is a noticeable share of a one-element op).
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace tg {

template <class E, std::size_t N>
class SmallVector {
  static_assert(N > 0, "SmallVector: the inline capacity must be positive");

 public:
  using value_type = E;
  using iterator = E*;
  using const_iterator = const E*;

  SmallVector() noexcept = default;
  SmallVector(std::initializer_list<E> items) {
    reserve(items.size());
    for (const E& e : items) emplace_back(e);
  }
  explicit SmallVector(std::size_t n) { resize(n); }
  /// From a std::vector (a derivative may build its gradients in one).
  SmallVector(std::vector<E> items) {
    reserve(items.size());
    for (E& e : items) emplace_back(std::move(e));
  }
  SmallVector(const SmallVector& other) {
    reserve(other.size_);
    for (const E& e : other) emplace_back(e);
  }
  SmallVector(SmallVector&& other) noexcept { take(other); }
  SmallVector& operator=(const SmallVector& other) {
    if (this != &other) {
      SmallVector copy(other);
      *this = std::move(copy);
    }
    return *this;
  }
  SmallVector& operator=(SmallVector&& other) noexcept {
    if (this != &other) {
      release();
      take(other);
    }
    return *this;
  }
  ~SmallVector() { release(); }

  E* data() noexcept { return data_; }
  const E* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t capacity() const noexcept { return capacity_; }
  E* begin() noexcept { return data_; }
  E* end() noexcept { return data_ + size_; }
  const E* begin() const noexcept { return data_; }
  const E* end() const noexcept { return data_ + size_; }
  E& operator[](std::size_t i) noexcept { return data_[i]; }
  const E& operator[](std::size_t i) const noexcept { return data_[i]; }
  E& front() noexcept { return data_[0]; }
  E& back() noexcept { return data_[size_ - 1]; }
  const E& back() const noexcept { return data_[size_ - 1]; }

  template <class... Args>
  E& emplace_back(Args&&... args) {
    if (size_ == capacity_) grow(2 * capacity_);
    E* e = ::new (static_cast<void*>(data_ + size_)) E(std::forward<Args>(args)...);
    ++size_;
    return *e;
  }
  void push_back(const E& e) { emplace_back(e); }
  void push_back(E&& e) { emplace_back(std::move(e)); }
  void pop_back() noexcept { data_[--size_].~E(); }
  void clear() noexcept {
    std::destroy(data_, data_ + size_);
    size_ = 0;
  }
  void reserve(std::size_t n) {
    if (n > capacity_) grow(n);
  }
  void resize(std::size_t n) {
    reserve(n);
    while (size_ < n) emplace_back();
    while (size_ > n) pop_back();
  }

 private:
  bool is_inline() const noexcept { return data_ == inline_data(); }
  E* inline_data() noexcept { return std::launder(reinterpret_cast<E*>(inline_)); }
  const E* inline_data() const noexcept { return std::launder(reinterpret_cast<const E*>(inline_)); }

  void grow(std::size_t n) {
    E* fresh = static_cast<E*>(::operator new(n * sizeof(E), std::align_val_t(alignof(E))));
    std::uninitialized_move(data_, data_ + size_, fresh);  // E's move never throws (Variable, Edge)
    std::destroy(data_, data_ + size_);
    if (!is_inline()) ::operator delete(data_, std::align_val_t(alignof(E)));
    data_ = fresh;
    capacity_ = n;
  }
  void release() noexcept {
    clear();
    if (!is_inline()) ::operator delete(data_, std::align_val_t(alignof(E)));
    data_ = inline_data();
    capacity_ = N;
  }
  /// Takes other's elements (its buffer when on the heap); other is left empty and inline.
  void take(SmallVector& other) noexcept {
    static_assert(std::is_nothrow_move_constructible_v<E>, "SmallVector: E must move without throwing");
    if (other.is_inline()) {
      std::uninitialized_move(other.data_, other.data_ + other.size_, data_);
      size_ = other.size_;
      other.clear();
      return;
    }
    data_ = std::exchange(other.data_, other.inline_data());
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, N);
  }

  E* data_ = inline_data();
  std::size_t size_ = 0;
  std::size_t capacity_ = N;
  alignas(E) std::byte inline_[N * sizeof(E)];
};

}  // namespace tg
