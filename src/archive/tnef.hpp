// Attachments sent by Outlook as TNEF (winmail.dat, application/ms-tnef): the files inside
// are unpacked so that they are listed, searchable and exportable like any attachment.
// The unpacking is done by the `tnef` program (Debian's tnef package) in a process of its
// own, in a private temporary directory, under a deadline.
#pragma once

#include <vector>

#include "archive/mime.hpp"
#include "base/status.hpp"

namespace tessera::archive {

bool IsTnef(const MailAttachment& attachment);

// The files a TNEF attachment carries (names as UTF-8; the type left for the name to tell).
// InvalidArgument when it is not TNEF the program can read; Unavailable when the program
// is missing.
Result<std::vector<MailAttachment>> UnpackTnef(ByteView tnef);

}  // namespace tessera::archive
