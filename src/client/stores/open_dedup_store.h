// OpenDedupStore: a dedup store chosen by URI, as the consumer, the CLI and the demo name them (issue 5):
//   memory:                     in this process only (tests)
//   sqlite:///ABSOLUTE/PATH     sqlite:relative/path also accepted; the file is created if missing
//   redis://HOST:PORT[/DB]
// kInvalidArgument names what is wrong with a URI; kUnsupported for a scheme this build cannot open yet
// (postgresql://, mysql://). Errors opening the store itself are the store's own.
#pragma once

#include <memory>
#include <string_view>

#include "oncemq/dedup_store.h"

namespace oncemq::client {

Result<std::unique_ptr<DedupStore>> OpenDedupStore(std::string_view uri);

}  // namespace oncemq::client
