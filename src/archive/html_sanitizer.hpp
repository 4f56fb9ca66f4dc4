// HTML mail made safe to show in the web console. A message's first text/html part
// (ParsedMessage::html) comes from anyone who can send mail; shown as it is, it could run
// script in the console with the session of the staff member reading it, or tell its sender
// through a remote image when and where it was read. It is parsed with libxml2's HTML
// parser, which recovers malformed markup much as a browser does, and the tree is written
// out again from an allow-list: an element or attribute that is not on it never reaches the
// output, and every text and attribute value is escaped again.
//
// What is kept: the elements of ordinary mail (a, b, blockquote, br, div, font, h1–h6, img,
// lists, p, pre, span, tables, …) with presentational attributes (align, bgcolor, border,
// color, colspan, dir, face, lang, size, title, width, …) and a filtered style attribute.
// Links only to http:, https: and mailto: (opened in a new tab without a referrer); images
// only from data:image/(png|gif|jpeg|webp);base64 and cid: (which a browser does not load).
// What goes with everything inside it: script, style, noscript, template, iframe, frame,
// frameset, object, embed, applet, form and its controls, link, meta, base, svg, math, title
// and head. Any other element loses its tag and keeps its text.
#pragma once

#include <string>
#include <string_view>

namespace tessera::archive {

struct SanitizedHtml {
  // The body's safe content (no <html>/<head>/<body> wrapper), UTF-8, well-formed: every
  // element that is opened is closed, and void elements (br, hr, img, col) have no end tag.
  std::string html;
  // References to remote content that were removed: an img whose src is not allowed (the
  // whole img is dropped, alt text included, since an image without its picture shows only
  // a broken frame), its srcset/lowsrc/dynsrc, a background attribute, a style declaration
  // with url() or image-set(). Each counts once, so the console can say "N blocked".
  int remote_content_blocked = 0;
  // libxml2 stopped before the end of the input (it gives up past 256 nested elements): what
  // followed that point is missing from `html`. The console should say so; the message's
  // text part is still complete.
  bool truncated = false;
};

// Never fails: malformed HTML gives whatever libxml2 recovered; empty input gives "".
// Input that is not valid UTF-8 has its invalid bytes read as U+FFFD. Elements nested more
// than 200 deep keep their text but lose their tags. Time and output are linear in the
// input's size. Thread-safe.
SanitizedHtml SanitizeHtml(std::string_view html);

// What a reader of the HTML would read, as plain text for a terminal: the text of what
// SanitizeHtml keeps (nothing of script, style and the like), a line break after each
// paragraph, heading, list item, table row, division and <br>, references and entities
// decoded, runs of blank lines made one. Never fails; thread-safe.
std::string HtmlAsText(std::string_view html);

}  // namespace tessera::archive
