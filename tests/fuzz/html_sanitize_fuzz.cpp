// Fuzzes the HTML sanitiser (archive/html_sanitizer): whatever goes in, what comes out,
// parsed again by libxml2 as a browser-like reader would, holds only allowed elements and
// attributes, no event handler, no link but http:, https: and mailto:, and no image but
// an inline or cid: one; it is valid UTF-8 and holds no "<script" at all.
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "archive/html_sanitizer.hpp"
#include "base/utf8.hpp"

using namespace tessera;
using namespace tessera::archive;

namespace {

// The sanitiser's allow-list, and the html and body elements libxml2 adds around a fragment.
constexpr std::string_view kElements[] = {
    "a",        "abbr", "b",   "blockquote", "br",    "caption", "center", "code", "col",
    "colgroup", "dd",   "del", "div",        "dl",    "dt",      "em",     "font", "h1",
    "h2",       "h3",   "h4",  "h5",         "h6",    "hr",      "i",      "img",  "ins",
    "li",       "ol",   "p",   "pre",        "q",     "s",       "small",  "span", "strike",
    "strong",   "sub",  "sup", "table",      "tbody", "td",      "tfoot",  "th",   "thead",
    "tr",       "tt",   "u",   "ul",         "html",  "body"};
constexpr std::string_view kAttributes[] = {
    "href",  "src",    "alt",    "title",       "colspan",     "rowspan", "align",   "valign",
    "width", "height", "border", "cellpadding", "cellspacing", "color",   "bgcolor", "face",
    "size",  "dir",    "lang",   "style",       "target",      "rel"};

template <size_t N>
bool In(const std::string_view (&list)[N], std::string_view name) {
  for (std::string_view entry : list)
    if (entry == name) return true;
  return false;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string ValueOf(const xmlAttr* a) {
  std::string value;
  for (const xmlNode* c = a->children; c != nullptr; c = c->next)
    if (c->content != nullptr) value += reinterpret_cast<const char*>(c->content);
  return value;
}

void Check(const xmlNode* element) {
  const std::string_view name = reinterpret_cast<const char*>(element->name);
  if (!In(kElements, name)) std::abort();
  for (const xmlAttr* a = element->properties; a != nullptr; a = a->next) {
    const std::string attribute = AsciiLower(reinterpret_cast<const char*>(a->name));
    if (StartsWith(attribute, "on") || !In(kAttributes, attribute)) std::abort();
    const std::string value = ValueOf(a);
    if (attribute == "href" && !StartsWith(value, "http:") && !StartsWith(value, "https:") &&
        !StartsWith(value, "mailto:"))
      std::abort();
    if (attribute == "src" && !StartsWith(value, "data:image/") && !StartsWith(value, "cid:"))
      std::abort();
    if (attribute == "style" && AsciiLower(value).find("url(") != std::string::npos) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const SanitizedHtml out = SanitizeHtml(input);
  if (!IsValidUtf8(out.html) || out.remote_content_blocked < 0) std::abort();
  if (AsciiLower(out.html).find("<script") != std::string::npos) std::abort();
  if (out.html.empty()) return 0;
  htmlDocPtr doc =
      htmlReadMemory(out.html.data(), static_cast<int>(out.html.size()), nullptr, "UTF-8",
                     HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
  if (doc == nullptr) return 0;
  // Walked by parent and sibling links, as the sanitiser walks.
  const xmlNode* node = doc->children;
  while (node != nullptr) {
    if (node->type == XML_ELEMENT_NODE) Check(node);
    if (node->type == XML_ELEMENT_NODE && node->children != nullptr) {
      node = node->children;
      continue;
    }
    while (node != nullptr && node->next == nullptr) {
      node = node->parent;
      if (node != nullptr && node->type != XML_ELEMENT_NODE) node = nullptr;
    }
    if (node != nullptr) node = node->next;
  }
  xmlFreeDoc(doc);
  return 0;
}
