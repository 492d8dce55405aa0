// A small Expected<T> for the engine: failures carry a message that names the
// file and line (or the argument) so callers can show it as is. Exceptions stay
// at the D-Bus edge and in main().
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace qharden {

struct Error {
  std::string message;
};

class Unexpected {
 public:
  explicit Unexpected(std::string message) : error_{std::move(message)} {}
  explicit Unexpected(Error error) : error_(std::move(error)) {}
  Error& error() { return error_; }

 private:
  Error error_;
};

inline Unexpected fail_with(std::string message) {
  return Unexpected(std::move(message));
}

template <typename Value>
class [[nodiscard]] Expected {
 public:
  Expected(Value value) : storage_(std::in_place_index<0>, std::move(value)) {}
  Expected(Unexpected unexpected)
      : storage_(std::in_place_index<1>, std::move(unexpected.error())) {}

  bool has_value() const { return storage_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  Value& value() & { return std::get<0>(storage_); }
  const Value& value() const& { return std::get<0>(storage_); }
  Value&& value() && { return std::get<0>(std::move(storage_)); }
  Value& operator*() & { return value(); }
  const Value& operator*() const& { return value(); }
  Value&& operator*() && { return std::move(*this).value(); }
  Value* operator->() { return &value(); }
  const Value* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(storage_); }

 private:
  std::variant<Value, Error> storage_;
};

// Success without a value.
struct Done {};
using Outcome = Expected<Done>;

}  // namespace qharden
