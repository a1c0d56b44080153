// Helpers for commands that open a store or a database named by a URI.
#pragma once

#include <string_view>

#include "oncemq/status.h"

namespace oncemq::cli {

// Opening an SQLite database creates a missing file; a command that only looks must not, so for a
// sqlite: URI naming a file that does not exist this is kNotFound. OK for every other URI.
Status CheckSqliteFileExists(std::string_view uri);

}  // namespace oncemq::cli
