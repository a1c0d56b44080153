// `?` placeholders in PostgreSQL statements: SqlTransaction takes `?` on every store, libpq wants $1, $2, ….
//
// A `?` is a placeholder unless it is inside a '…' literal ('' is a quote inside), an E'…' literal
// (backslash escapes), a "…" identifier, a $tag$…$tag$ dollar-quoted string (tag empty or an identifier),
// a -- comment or a /* … */ comment (nested). An unterminated literal or comment runs to the end of the text;
// the server then refuses the statement.
// Not supported: the jsonb operators spelled with `?` (?, ?|, ?&) are taken for placeholders; use
// jsonb_exists(), jsonb_exists_any() and jsonb_exists_all() instead.
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace oncemq::client {

// How many placeholders `sql` has.
size_t CountSqlPlaceholders(std::string_view sql);

// `sql` with its n-th placeholder (1-based) replaced by `$n`; everything else unchanged.
std::string NumberSqlPlaceholders(std::string_view sql);

}  // namespace oncemq::client
