// Rules for object names shared by every store, so that a vault can move between a directory
// and a bucket without a name that works in one failing in the other.
#pragma once

#include <string>
#include <string_view>

#include "base/status.hpp"

namespace tessera::store {

constexpr size_t kMaxObjectNameSize = 1024;  // the S3 key limit

// OK for a valid object name: non-empty UTF-8 of at most kMaxObjectNameSize bytes,
// components separated by '/', none empty, "." or "..", no leading or trailing '/',
// no control characters. InvalidArgument (naming the problem) otherwise.
Status ValidateObjectName(std::string_view name);

// OK for a List prefix: empty, or a name prefix under the same rules except that it may
// end with '/' and its last component may be partial.
Status ValidateListPrefix(std::string_view prefix);

// Decodes %XX escapes; InvalidArgument for a malformed escape. '+' stays '+'.
Result<std::string> PercentDecode(std::string_view s);

}  // namespace tessera::store
