// BusinessKey and MessageView::Header (include/oncemq/idempotent_consumer.h).
#include <librdkafka/rdkafka.h>

#include <nlohmann/json.hpp>

#include "oncemq/idempotent_consumer.h"

namespace oncemq {

std::optional<std::string_view> MessageView::Header(std::string_view name) const {
  auto* message = static_cast<rd_kafka_message_t*>(const_cast<void*>(native));
  if (message == nullptr) return std::nullopt;
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
  // rd_kafka_header_get_last wants a NUL-terminated name; header names are short.
  std::string terminated(name);
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, terminated.c_str(), &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      value == nullptr) {
    return std::nullopt;
  }
  return std::string_view(static_cast<const char*>(value), size);
}

BusinessKey BusinessKey::FromHeader(std::string name) {
  std::string description = "header " + name;
  return BusinessKey(
      [name = std::move(name)](const MessageView& message) -> std::optional<std::string> {
        std::optional<std::string_view> value = message.Header(name);
        if (!value || value->empty()) return std::nullopt;
        return std::string(*value);
      },
      std::move(description));
}

BusinessKey BusinessKey::FromRecordKey() {
  return BusinessKey(
      [](const MessageView& message) -> std::optional<std::string> {
        if (!message.key || message.key->empty()) return std::nullopt;
        return std::string(*message.key);
      },
      "record key");
}

namespace {

// "order.id" → "/order/id"; a path starting with '/' is a JSON pointer already.
std::string ToJsonPointer(const std::string& path) {
  if (path.starts_with('/')) return path;
  std::string pointer = "/";
  for (char c : path) {
    if (c == '.') {
      pointer += '/';
    } else if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer += c;
    }
  }
  return pointer;
}

std::optional<std::string> JsonKey(const nlohmann::json::json_pointer& pointer, std::string_view payload) {
  nlohmann::json document = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.contains(pointer)) return std::nullopt;
  const nlohmann::json& field = document.at(pointer);
  if (field.is_string()) {
    const std::string& text = field.get_ref<const std::string&>();
    if (text.empty()) return std::nullopt;
    return text;
  }
  if (field.is_number() || field.is_boolean()) return field.dump();
  return std::nullopt;
}

}  // namespace

BusinessKey BusinessKey::FromJsonField(std::string path) {
  std::string description = "JSON field " + path;
  std::optional<nlohmann::json::json_pointer> pointer;
  try {
    pointer.emplace(ToJsonPointer(path));
  } catch (const nlohmann::json::exception&) {
    // A malformed pointer finds no key in any message; Create() reports it through Describe().
    description = "invalid JSON path " + path;
  }
  return BusinessKey(
      [pointer = std::move(pointer)](const MessageView& message) -> std::optional<std::string> {
        if (!pointer) return std::nullopt;
        return JsonKey(*pointer, message.payload);
      },
      std::move(description));
}

BusinessKey BusinessKey::From(Function function) {
  return BusinessKey(std::move(function), "function");
}

std::optional<std::string> BusinessKey::Extract(const MessageView& message) const {
  return function_(message);
}

std::string BusinessKey::Describe() const {
  return description_;
}

}  // namespace oncemq
