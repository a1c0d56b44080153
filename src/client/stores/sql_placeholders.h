// The `?` placeholders of an SQL statement: those outside string literals, quoted identifiers and comments.
// SqlTransaction (include/oncemq/transactional_dedup_store.h) takes `?` statements on every store; a store
// whose driver numbers its parameters instead (PostgreSQL: $1, $2, …) rewrites them with NumberPlaceholders.
//
// What the scanner skips, per dialect:
// - both: '…' literals ('' is a quote inside), "…" identifiers ("" inside), -- comments to the end of the
//   line, /* … */ comments;
// - kPostgres: E'…' literals (backslash escapes), $tag$…$tag$ dollar quoting (tag empty or an identifier),
//   nested /* */ comments;
// - kMysql: backslash escapes inside '…' and "…", `…` identifiers, # comments.
// An unterminated literal or comment runs to the end of the text (the database will then refuse it).
// Not supported: PostgreSQL operators spelled with `?` (jsonb ?, ?|, ?&) are taken for placeholders; use
// jsonb_exists(), jsonb_exists_any(), jsonb_exists_all() instead.
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace oncemq::client {

enum class SqlDialect { kPostgres, kMysql };

// The byte offsets of the placeholders of `sql`, in order.
std::vector<size_t> FindPlaceholders(std::string_view sql, SqlDialect dialect);

// `sql` with its n-th placeholder (1-based) replaced by `$n`; the rest unchanged.
std::string NumberPlaceholders(std::string_view sql, SqlDialect dialect = SqlDialect::kPostgres);

}  // namespace oncemq::client
