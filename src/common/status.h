// Status and Result<T> are part of the public SDK (include/oncemq/status.h); the broker and the tools use
// the same types.
#pragma once

#include "oncemq/status.h"
