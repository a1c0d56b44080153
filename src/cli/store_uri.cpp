#include "cli/store_uri.h"

#include <sys/stat.h>

#include <string>

namespace oncemq::cli {

Status CheckSqliteFileExists(std::string_view uri) {
  std::string_view path = uri;
  if (!path.starts_with("sqlite:")) return Status::Ok();
  path.remove_prefix(path.starts_with("sqlite://") ? 9 : 7);
  struct stat info {};
  if (path.empty() || stat(std::string(path).c_str(), &info) == 0) return Status::Ok();
  return Status::NotFound("no SQLite database at " + std::string(path) + " (the file does not exist)");
}

}  // namespace oncemq::cli
