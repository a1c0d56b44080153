// Status and Result<T>: errors as values on expected paths — in the broker, the tools and the public SDK.
//
// A Status says what went wrong and how the caller should react (retry the same call, or give up
// and report). Exceptions are reserved for programming errors. Cheap to move; Ok carries no allocation.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace oncemq {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the input is wrong; retrying the same input fails again
  kNotFound,         // the thing asked for does not exist
  kAlreadyExists,
  kCorruption,         // stored or received bytes fail a check (CRC, length, framing)
  kIoError,            // the operating system refused a read, write or sync
  kUnavailable,        // temporarily cannot serve; the same call may succeed later
  kResourceExhausted,  // a configured bound was hit (size, memory, count)
  kUnsupported,        // valid input this build does not implement
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
  static Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // True when the same call may succeed later without any change of input.
  bool retriable() const { return code_ == StatusCode::kUnavailable || code_ == StatusCode::kIoError; }
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Result<T>: a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: REQUIRES: !status.ok()

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace oncemq
