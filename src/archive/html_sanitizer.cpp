#include "archive/html_sanitizer.hpp"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/utf8.hpp"

namespace tessera::archive {
namespace {

// Deeper than this, elements keep their text and lose their tags: enough for mail quoted in
// mail quoted in tables, and below libxml2's own limit of 256, so that the rule is ours.
constexpr size_t kMaxDepth = 200;

struct ElementRule {
  std::string_view name;
  bool is_void;  // written without an end tag, and its children (libxml2 gives none) after it
};

// Sorted by name (looked up with a binary search). The names written out are these, never
// the input's.
constexpr ElementRule kAllowedElements[] = {
    {"a", false},      {"abbr", false},     {"b", false},      {"blockquote", false},
    {"br", true},      {"caption", false},  {"center", false}, {"code", false},
    {"col", true},     {"colgroup", false}, {"dd", false},     {"del", false},
    {"div", false},    {"dl", false},       {"dt", false},     {"em", false},
    {"font", false},   {"h1", false},       {"h2", false},     {"h3", false},
    {"h4", false},     {"h5", false},       {"h6", false},     {"hr", true},
    {"i", false},      {"img", true},       {"ins", false},    {"li", false},
    {"ol", false},     {"p", false},        {"pre", false},    {"q", false},
    {"s", false},      {"small", false},    {"span", false},   {"strike", false},
    {"strong", false}, {"sub", false},      {"sup", false},    {"table", false},
    {"tbody", false},  {"td", false},       {"tfoot", false},  {"th", false},
    {"thead", false},  {"tr", false},       {"tt", false},     {"u", false},
    {"ul", false}};
static_assert(std::is_sorted(std::begin(kAllowedElements), std::end(kAllowedElements),
                             [](const ElementRule& a, const ElementRule& b) {
                               return a.name < b.name;
                             }));

// Elements that go with their content: what they hold is code, a document of its own, or
// controls that would post somewhere, never text meant for the reader.
constexpr std::string_view kDroppedWithContent[] = {
    "applet", "base",  "button", "embed",    "form",     "frame",    "frameset", "head",
    "iframe", "input", "link",   "math",     "meta",     "noscript", "object",   "script",
    "select", "style", "svg",    "template", "textarea", "title"};

// Attributes kept on any allowed element; href, src and alt are handled by element below.
constexpr std::string_view kAllowedAttributes[] = {
    "align", "bgcolor", "border", "cellpadding", "cellspacing", "color", "colspan", "dir",
    "face",  "height",  "lang",   "rowspan",     "size",        "title", "valign",  "width"};

const ElementRule* AllowedElement(std::string_view name) {
  const auto* it =
      std::lower_bound(std::begin(kAllowedElements), std::end(kAllowedElements), name,
                       [](const ElementRule& rule, std::string_view n) { return rule.name < n; });
  return it != std::end(kAllowedElements) && it->name == name ? it : nullptr;
}

template <size_t N>
bool Contains(const std::string_view (&list)[N], std::string_view name) {
  for (std::string_view entry : list)
    if (entry == name) return true;
  return false;
}

std::string_view NameOf(const xmlChar* name) {
  return name == nullptr ? std::string_view() : reinterpret_cast<const char*>(name);
}

// An attribute's value as libxml2 decoded it (character references undone).
std::string ValueOf(const xmlAttr* attribute) {
  std::string value;
  for (const xmlNode* c = attribute->children; c != nullptr; c = c->next)
    if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content != nullptr)
      value += reinterpret_cast<const char*>(c->content);
  return value;
}

void AppendEscaped(std::string& out, std::string_view text) {
  out += HtmlEscape(text);
}

void AppendAttribute(std::string& out, std::string_view name, std::string_view value) {
  out += ' ';
  out.append(name);
  out += "=\"";
  AppendEscaped(out, value);
  out += '"';
}

bool IsAsciiSpaceOrControl(char c) {
  return static_cast<unsigned char>(c) <= 0x20;
}

bool IsBlank(std::string_view s) {
  for (char c : s)
    if (!IsAsciiSpaceOrControl(c)) return false;
  return true;
}

// A URL as a browser reads it before resolving: tabs and line breaks removed wherever they
// are ("java\tscript:" is "javascript:" to a browser), then C0 controls and spaces trimmed
// from both ends. nullopt when a control character is left inside.
std::optional<std::string> BrowserUrl(std::string_view value) {
  std::string url;
  url.reserve(value.size());
  for (char c : value)
    if (c != '\t' && c != '\n' && c != '\r') url += c;
  size_t begin = 0, end = url.size();
  while (begin < end && IsAsciiSpaceOrControl(url[begin])) ++begin;
  while (end > begin && IsAsciiSpaceOrControl(url[end - 1])) --end;
  url = url.substr(begin, end - begin);
  for (char c : url)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
  return url;
}

// The URL's scheme in lower case as RFC 3986 and browsers parse it (a letter, then letters,
// digits, '+', '-', '.', up to the first ':'), or "" when it has none (a relative URL).
std::string SchemeOf(std::string_view url) {
  const size_t colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0) return "";
  const auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!is_alpha(url[0])) return "";
  for (size_t i = 1; i < colon; ++i) {
    const char c = url[i];
    if (!is_alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') return "";
  }
  return AsciiLower(url.substr(0, colon));
}

// The href to write, with its scheme in lower case, or nullopt when the link goes anywhere
// but the web or a mail program: javascript:, vbscript:, data:, file:, a relative URL
// (which would resolve against the console itself).
std::optional<std::string> SafeHref(std::string_view value) {
  std::optional<std::string> url = BrowserUrl(value);
  if (!url) return std::nullopt;
  const std::string scheme = SchemeOf(*url);
  if (scheme != "http" && scheme != "https" && scheme != "mailto") return std::nullopt;
  return scheme + url->substr(scheme.size());
}

// The src to write for an img, or nullopt when it would load anything from anywhere: only a
// picture inside the message (data: with a raster type, base64) or a cid: reference.
std::optional<std::string> SafeImageSource(std::string_view value) {
  std::optional<std::string> url = BrowserUrl(value);
  if (!url) return std::nullopt;
  const std::string scheme = SchemeOf(*url);
  if (scheme == "cid") return "cid" + url->substr(3);
  if (scheme != "data") return std::nullopt;
  const size_t comma = url->find(',');
  if (comma == std::string::npos) return std::nullopt;
  const std::string type = AsciiLower(std::string_view(*url).substr(0, comma));
  if (type != "data:image/png;base64" && type != "data:image/gif;base64" &&
      type != "data:image/jpeg;base64" && type != "data:image/webp;base64")
    return std::nullopt;
  std::string out = type + ",";
  for (char c : std::string_view(*url).substr(comma + 1)) {
    if (c == ' ') continue;  // base64 in mail is often wrapped; browsers skip the spaces
    const bool base64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
    if (!base64) return std::nullopt;
    out += c;
  }
  return out;
}

// What a declaration's value must not hold, looked for with case and white space ignored:
// ways to load a URL, run script (old IE and Firefox), import style, or hide one of these
// behind a CSS escape or a comment.
constexpr std::string_view kForbiddenInStyle[] = {
    "url(",        "image(",   "image-set(",   "expression(", "@import",
    "javascript:", "behavior", "-moz-binding", "\\",          "/*"};

// The style attribute with only the declarations that cannot load or run anything. A value
// is split at every ';', even one inside quotes: the pieces of such a value then fail the
// checks below (an unbalanced quote, no ':'), so splitting too much only drops more.
std::string FilterStyle(std::string_view style, int& remote_blocked) {
  std::string out;
  size_t start = 0;
  while (start <= style.size()) {
    size_t end = style.find(';', start);
    if (end == std::string_view::npos) end = style.size();
    const std::string_view declaration = style.substr(start, end - start);
    start = end + 1;
    const size_t colon = declaration.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = AsciiLower(declaration.substr(0, colon));
    std::string_view value = declaration.substr(colon + 1);
    const auto trim = [](std::string_view& s) {
      while (!s.empty() && IsAsciiSpaceOrControl(s.front())) s.remove_prefix(1);
      while (!s.empty() && IsAsciiSpaceOrControl(s.back())) s.remove_suffix(1);
    };
    std::string_view name_view = name;
    trim(name_view);
    trim(value);
    if (name_view.empty() || value.empty()) continue;
    bool name_ok = true;
    for (char c : name_view) name_ok = name_ok && ((c >= 'a' && c <= 'z') || c == '-');
    if (!name_ok) continue;
    std::string compact;  // the whole declaration, lower case, without white space
    for (char c : declaration)
      if (!IsAsciiSpaceOrControl(c)) compact += (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
    bool forbidden = false;
    for (std::string_view f : kForbiddenInStyle)
      forbidden = forbidden || compact.find(f) != std::string::npos;
    if (forbidden) {
      if (compact.find("url(") != std::string::npos ||
          compact.find("image(") != std::string::npos ||
          compact.find("image-set(") != std::string::npos)
        ++remote_blocked;
      continue;
    }
    bool controls = false;
    size_t double_quotes = 0, single_quotes = 0;
    for (char c : value) {
      controls = controls || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      double_quotes += c == '"';
      single_quotes += c == '\'';
    }
    if (controls || double_quotes % 2 != 0 || single_quotes % 2 != 0) continue;
    // position: fixed or absolute would let a message lay itself over the console's own
    // controls and pass for them.
    if (name_view == "position" && AsciiLower(value) != "static" && AsciiLower(value) != "relative")
      continue;
    if (!out.empty()) out += "; ";
    out.append(name_view);
    out += ": ";
    out.append(value);
  }
  return out;
}

struct Writer {
  std::string out;
  int remote_blocked = 0;
  size_t depth = 0;  // elements written and not yet closed

  // Writes the start tag of an allowed element; false when the element is to go instead (an
  // img with nothing it may show).
  bool StartTag(const ElementRule& rule, const xmlNode* node) {
    const bool is_a = rule.name == "a", is_img = rule.name == "img";
    std::optional<std::string> href, src;
    std::string alt;
    bool has_alt = false;
    std::string attributes;  // the others, written once it is known that the element stays
    for (const xmlAttr* a = node->properties; a != nullptr; a = a->next) {
      if (a->ns != nullptr) continue;
      const std::string name = AsciiLower(NameOf(a->name));
      const std::string value = ValueOf(a);
      if (is_a && name == "href") {
        if (!href) href = SafeHref(value);
      } else if (is_img && name == "src") {
        if (src) continue;
        src = SafeImageSource(value);
        if (!src && !IsBlank(value)) ++remote_blocked;
      } else if (is_img && (name == "srcset" || name == "lowsrc" || name == "dynsrc")) {
        if (!IsBlank(value)) ++remote_blocked;
      } else if (is_img && name == "alt") {
        alt = value;
        has_alt = true;
      } else if (name == "background") {
        if (!IsBlank(value)) ++remote_blocked;
      } else if (name == "style") {
        const std::string style = FilterStyle(value, remote_blocked);
        if (!style.empty()) AppendAttribute(attributes, "style", style);
      } else if (Contains(kAllowedAttributes, name)) {
        AppendAttribute(attributes, name, value);
      }
    }
    if (is_img && !src) return false;
    out += '<';
    out.append(rule.name);
    if (is_img) {
      AppendAttribute(out, "src", *src);
      if (has_alt) AppendAttribute(out, "alt", alt);
    }
    if (href) AppendAttribute(out, "href", *href);
    out += attributes;
    if (href) {
      // A new tab, so the console stays open; no opener and no referrer, so the site linked
      // to can neither script the console's tab nor learn the console's address.
      AppendAttribute(out, "target", "_blank");
      AppendAttribute(out, "rel", "noopener noreferrer");
    }
    out += '>';
    return true;
  }

  // What an element whose tag is not written still says about remote content.
  void CountRemote(const xmlNode* node) {
    const bool is_img = NameOf(node->name) == "img";
    for (const xmlAttr* a = node->properties; a != nullptr; a = a->next) {
      const std::string name = AsciiLower(NameOf(a->name));
      if (name == "background" ||
          (is_img && (name == "src" || name == "srcset" || name == "lowsrc" || name == "dynsrc"))) {
        const std::string value = ValueOf(a);
        if (!IsBlank(value) && !(name == "src" && SafeImageSource(value))) ++remote_blocked;
      } else if (name == "style") {
        FilterStyle(ValueOf(a), remote_blocked);
      }
    }
  }
};

std::once_flag g_libxml_initialised;

}  // namespace

SanitizedHtml SanitizeHtml(std::string_view html) {
  SanitizedHtml result;
  if (html.empty()) return result;
  // libxml2 sets up its tables on first use, not thread-safely; afterwards parses with
  // separate contexts can run at once.
  std::call_once(g_libxml_initialised, [] { xmlInitParser(); });

  std::string repaired;
  if (!IsValidUtf8(html)) {
    repaired = ToValidUtf8(html);
    html = repaired;
  }
  if (html.size() > static_cast<size_t>(INT32_MAX)) {  // libxml2 takes an int
    html = html.substr(0, INT32_MAX);
    result.truncated = true;
  }
  std::unique_ptr<htmlParserCtxt, void (*)(htmlParserCtxtPtr)> context(htmlNewParserCtxt(),
                                                                       &htmlFreeParserCtxt);
  if (context == nullptr) return result;
  // No error output; no network; white space kept as text; the input is UTF-8 whatever a
  // <meta charset> in it says (ParsedMessage::html has been decoded already).
  const int options =
      HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC;
  std::unique_ptr<xmlDoc, void (*)(xmlDocPtr)> doc(
      htmlCtxtReadMemory(context.get(), html.data(), static_cast<int>(html.size()), nullptr,
                         "UTF-8", options),
      &xmlFreeDoc);
  // libxml2 halts (and leaves the rest unread) past its nesting limit of 256.
  result.truncated =
      result.truncated || context->instate == XML_PARSER_EOF || context->disableSAX != 0;
  if (doc == nullptr) return result;

  // The whole document, not only <body>: libxml2 puts content that follows </html> in a
  // second <html> element beside the first. The walk goes by parent and sibling links, not
  // by recursion, so that no nesting can exhaust the stack; `closers` holds, for each open
  // element, the end tag to write when leaving it ("" when none).
  Writer w;
  w.out.reserve(html.size());
  std::vector<std::string_view> closers;
  const xmlNode* node = doc->children;
  while (node != nullptr) {
    bool descend = false;
    if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
      if (node->content != nullptr) AppendEscaped(w.out, NameOf(node->content));
    } else if (node->type == XML_ELEMENT_NODE) {
      const std::string name = AsciiLower(NameOf(node->name));
      if (!Contains(kDroppedWithContent, name)) {
        const ElementRule* rule = AllowedElement(name);
        if (rule != nullptr && w.depth < kMaxDepth) {
          if (w.StartTag(*rule, node)) {
            closers.push_back(rule->is_void ? std::string_view() : rule->name);
            if (!rule->is_void) ++w.depth;
            descend = true;
          }
        } else {
          w.CountRemote(node);
          closers.push_back(std::string_view());
          descend = true;
        }
      }
    }
    // Comments, processing instructions and the doctype are left out.
    if (descend) {
      if (node->children != nullptr) {
        node = node->children;
        continue;
      }
      const std::string_view closer = closers.back();
      closers.pop_back();
      if (!closer.empty()) {
        w.out += "</";
        w.out.append(closer);
        w.out += '>';
        --w.depth;
      }
    }
    while (node != nullptr && node->next == nullptr) {
      node = node->parent;
      if (node == nullptr || node->type == XML_HTML_DOCUMENT_NODE ||
          node->type == XML_DOCUMENT_NODE) {
        node = nullptr;
        break;
      }
      const std::string_view closer = closers.back();
      closers.pop_back();
      if (!closer.empty()) {
        w.out += "</";
        w.out.append(closer);
        w.out += '>';
        --w.depth;
      }
    }
    if (node != nullptr) node = node->next;
  }
  // libxml2 gives UTF-8; this is the promise kept even if it did not.
  result.html = IsValidUtf8(w.out) ? std::move(w.out) : ToValidUtf8(w.out);
  result.remote_content_blocked = w.remote_blocked;
  return result;
}

namespace {

// The tags after which a reader sees a new line.
bool EndsLine(std::string_view tag) {
  static constexpr std::string_view kLineEnders[] = {
      "/blockquote", "/dd", "/div", "/dt", "/h1",  "/h2", "/h3", "/h4",
      "/h5",         "/h6", "/li",  "/p",  "/pre", "/tr", "br",  "hr"};
  for (std::string_view t : kLineEnders)
    if (tag == t) return true;
  return false;
}

}  // namespace

std::string HtmlAsText(std::string_view html) {
  // SanitizeHtml's output is well-formed with only the five escapes of HtmlEscape, so a
  // plain scan of it is exact.
  const std::string safe = SanitizeHtml(html).html;
  std::string text;
  text.reserve(safe.size());
  for (size_t i = 0; i < safe.size();) {
    if (safe[i] == '<') {
      const size_t end = safe.find('>', i);
      if (end == std::string::npos) break;
      std::string_view tag(safe.data() + i + 1, end - i - 1);
      tag = tag.substr(0, tag.find(' '));
      if (EndsLine(tag)) text += '\n';
      if (tag == "/td" || tag == "/th") text += '\t';
      i = end + 1;
    } else if (safe[i] == '&') {
      static constexpr std::pair<std::string_view, char> kEscapes[] = {
          {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
      bool known = false;
      for (const auto& [escape, c] : kEscapes) {
        if (std::string_view(safe).substr(i, escape.size()) == escape) {
          text += c;
          i += escape.size();
          known = true;
          break;
        }
      }
      if (!known) text += safe[i++];
    } else {
      text += safe[i++];
    }
  }
  // Lines without their trailing blanks; at most one empty line in a row; none at the ends.
  std::string out;
  size_t empty_run = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
      line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      if (!out.empty()) ++empty_run;
    } else {
      if (empty_run > 0) out += '\n';
      empty_run = 0;
      out.append(line);
      out += '\n';
    }
    start = end + 1;
  }
  return out;
}

}  // namespace tessera::archive
