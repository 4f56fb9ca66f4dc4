#include "exchange/dtd.hpp"

#include <libxml/SAX2.h>
#include <libxml/entities.h>
#include <libxml/hash.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/valid.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlerror.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "base/utf8.hpp"
#include "exchange/document.hpp"
#include "exchange/dtd_files.hpp"

namespace tessera::exchange {
namespace {

// A long list of errors repeats one mistake; the first few say what to fix.
constexpr size_t kMaxProblems = 5;

struct Problem {
  long line = 0;
  std::string message;
  // A validity error about an attribute value that libxml2 reports without its element
  // (an ENTITY attribute naming an undeclared entity): the line is looked up afterwards.
  std::string attribute, value;
};

// What one call collects while libxml2 works for it.
struct CallState {
  std::vector<Problem> problems;
  size_t dropped = 0;
  bool refused = false;  // the DOCTYPE declared what a 公文 file may not: parsing stopped

  void Add(long line, std::string_view text, const char* attribute = nullptr,
           const char* value = nullptr) {
    std::string message = ToValidUtf8(text);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    std::replace(message.begin(), message.end(), '\n', ' ');  // one problem, one line
    if (message.empty()) return;
    for (const Problem& p : problems)
      if (p.line == line && p.message == message) return;
    if (problems.size() < kMaxProblems)
      problems.push_back({line, std::move(message), attribute != nullptr ? attribute : "",
                          value != nullptr ? value : ""});
    else
      ++dropped;
  }
};

// The call this thread is running, if any. libxml2 calls back into this file (entity
// loader, error callbacks) synchronously on the calling thread, so a thread-local pointer
// reaches the right call without any state shared between threads.
thread_local CallState* t_call = nullptr;

// libxml2 keeps its error state per thread only when built with thread support (Debian's
// is); without it every call is serialized here.
bool g_libxml_threaded = true;
std::mutex g_unthreaded_mutex;  // guards every libxml2 call of this file when !g_libxml_threaded
// The loader libxml2 had before ours: other code in the process that uses libxml2 (outside
// a call of this file) keeps its behavior. Written once, before any call reads it.
xmlExternalEntityLoader g_default_loader = nullptr;

void OnStructuredError(void* user, xmlErrorPtr error);

// Sets this thread up for one call and restores it after. Errors that libxml2 raises with
// no parser context at hand (a failed Big5 conversion, say) go to its handler of the
// calling thread: this one, for the length of the call only, so they are reported with
// the rest instead of printed. Other threads' handlers are theirs (libxml2 keeps them per
// thread); without thread support the process-wide one is left alone.
class CallScope {
 public:
  CallScope() {
    if (!g_libxml_threaded) lock_ = std::unique_lock<std::mutex>(g_unthreaded_mutex);
    previous_ = t_call;
    t_call = &state_;
    xmlResetLastError();
    if (g_libxml_threaded) {
      previous_handler_ = xmlStructuredError;
      previous_handler_context_ = xmlStructuredErrorContext;
      xmlSetStructuredErrorFunc(nullptr, OnStructuredError);
    }
  }
  ~CallScope() {
    if (g_libxml_threaded) xmlSetStructuredErrorFunc(previous_handler_context_, previous_handler_);
    t_call = previous_;
  }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;
  CallState& state() { return state_; }

 private:
  std::unique_lock<std::mutex> lock_;
  CallState state_;
  CallState* previous_ = nullptr;
  xmlStructuredErrorFunc previous_handler_ = nullptr;
  void* previous_handler_context_ = nullptr;
};

std::string Text(const xmlChar* s) {
  return s == nullptr ? std::string() : ToValidUtf8(reinterpret_cast<const char*>(s));
}

long CurrentLine(const xmlParserCtxt* ctxt) {
  return ctxt != nullptr && ctxt->input != nullptr ? ctxt->input->line : 0;
}

const EmbeddedDtdFile* FindEmbedded(std::string_view system_id) {
  for (const EmbeddedDtdFile& file : EmbeddedDtdFiles())
    if (file.system_id == system_id) return &file;
  return nullptr;
}

// The only external entities a call of this file loads: the compiled-in DTD files, by
// their exact system ids. Everything else is refused and said so.
xmlParserInputPtr LoadEntity(const char* url, const char* id, xmlParserCtxtPtr ctxt) {
  if (t_call == nullptr)
    return g_default_loader != nullptr ? g_default_loader(url, id, ctxt) : nullptr;
  if (url != nullptr) {
    if (const EmbeddedDtdFile* file = FindEmbedded(url)) {
      xmlParserInputBufferPtr buffer = xmlParserInputBufferCreateMem(
          file->text.data(), static_cast<int>(file->text.size()), XML_CHAR_ENCODING_NONE);
      if (buffer == nullptr) return nullptr;
      xmlParserInputPtr input = xmlNewIOInputStream(ctxt, buffer, XML_CHAR_ENCODING_NONE);
      if (input == nullptr) {
        xmlFreeParserInputBuffer(buffer);
        return nullptr;
      }
      input->filename = reinterpret_cast<const char*>(xmlStrdup(BAD_CAST url));
      return input;
    }
  }
  const char* what = url != nullptr ? url : (id != nullptr ? id : "(unnamed)");
  t_call->Add(CurrentLine(ctxt), "refused to load the external entity \"" + ToValidUtf8(what) +
                                     "\": a 公文 file may refer to no file but the DTDs of "
                                     "data/di-dtd");
  return nullptr;
}

void InitLibxml() {
  static std::once_flag once;
  std::call_once(once, [] {
    xmlInitParser();
    g_libxml_threaded = xmlHasFeature(XML_WITH_THREAD) != 0;
    g_default_loader = xmlGetExternalEntityLoader();
    xmlSetExternalEntityLoader(&LoadEntity);
  });
}

// --- error callbacks: every one reports into the current call, none prints

void OnStructuredError(void* /*user*/, xmlErrorPtr error) {
  if (t_call == nullptr || error == nullptr || error->level < XML_ERR_ERROR) return;
  const char* message = error->message != nullptr ? error->message : "XML error";
  if (error->line <= 0 && error->domain == XML_FROM_VALID)
    t_call->Add(0, message, error->str1, error->str2);
  else
    t_call->Add(error->line, message);
}

void OnParserError(void* ctx, const char* format, ...) {
  if (t_call == nullptr) return;
  char text[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  t_call->Add(CurrentLine(static_cast<xmlParserCtxt*>(ctx)), text);
}

void OnIgnoredMessage(void* /*ctx*/, const char* /*format*/, ...) {}

// libxml2 hands a validation error to this callback as text alone, after recording the
// whole error (with the line of the element at fault) as this thread's last error.
void OnValidityError(void* /*ctx*/, const char* format, ...) {
  if (t_call == nullptr) return;
  const xmlError* last = xmlGetLastError();
  if (last != nullptr && last->message != nullptr) {
    if (last->line <= 0)
      t_call->Add(0, last->message, last->str1, last->str2);
    else
      t_call->Add(last->line, last->message);
    return;
  }
  char text[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  t_call->Add(0, text);
}

// --- the DOCTYPE of the document itself (inSubset == 1) may declare attachments only

constexpr const char* kSubsetRule =
    "a 公文 file's DOCTYPE may declare only attachments (<!ENTITY name SYSTEM \"file\" NDATA "
    "notation>) and notations";

void Refuse(xmlParserCtxtPtr ctxt, const std::string& what) {
  if (t_call != nullptr) {
    t_call->Add(CurrentLine(ctxt), what + "; " + kSubsetRule);
    t_call->refused = true;
  }
  xmlStopParser(ctxt);
}

void OnEntityDecl(void* ctx, const xmlChar* name, int type, const xmlChar* public_id,
                  const xmlChar* system_id, xmlChar* content) {
  auto* ctxt = static_cast<xmlParserCtxtPtr>(ctx);
  if (ctxt->inSubset == 1) {
    const bool parameter =
        type == XML_INTERNAL_PARAMETER_ENTITY || type == XML_EXTERNAL_PARAMETER_ENTITY;
    std::string what = std::string("the DOCTYPE declares the ") +
                       (parameter ? "parameter entity \"" : "parsed entity \"") + Text(name) + "\"";
    if (system_id != nullptr) what += " (SYSTEM \"" + Text(system_id) + "\")";
    Refuse(ctxt, what);
    return;
  }
  xmlSAX2EntityDecl(ctx, name, type, public_id, system_id, content);
}

void OnElementDecl(void* ctx, const xmlChar* name, int type, xmlElementContentPtr content) {
  auto* ctxt = static_cast<xmlParserCtxtPtr>(ctx);
  if (ctxt->inSubset == 1) {
    Refuse(ctxt, "the DOCTYPE declares the element " + Text(name));
    return;
  }
  xmlSAX2ElementDecl(ctx, name, type, content);
}

void OnAttributeDecl(void* ctx, const xmlChar* element, const xmlChar* name, int type, int def,
                     const xmlChar* default_value, xmlEnumerationPtr tree) {
  auto* ctxt = static_cast<xmlParserCtxtPtr>(ctx);
  if (ctxt->inSubset == 1) {
    xmlFreeEnumeration(tree);  // xmlSAX2AttributeDecl would have taken it
    Refuse(ctxt, "the DOCTYPE declares the attribute " + Text(name) + " of " + Text(element));
    return;
  }
  xmlSAX2AttributeDecl(ctx, element, name, type, def, default_value, tree);
}

xmlParserInputPtr OnResolveEntity(void* ctx, const xmlChar* public_id, const xmlChar* system_id) {
  auto* ctxt = static_cast<xmlParserCtxtPtr>(ctx);
  const xmlChar* what = system_id != nullptr ? system_id : public_id;
  if (t_call != nullptr)
    t_call->Add(CurrentLine(ctxt), "refused to load the external entity \"" + Text(what) + "\"");
  return nullptr;
}

xmlSAXHandler Handler(bool for_document) {
  xmlSAXHandler h;
  std::memset(&h, 0, sizeof h);
  xmlSAXVersion(&h, 2);
  h.serror = OnStructuredError;
  h.error = OnParserError;
  h.fatalError = OnParserError;
  h.warning = OnIgnoredMessage;
  h.entityDecl = OnEntityDecl;
  h.elementDecl = OnElementDecl;
  h.attributeDecl = OnAttributeDecl;
  if (for_document) {
    // The DTD a document names is never read from where it says: it is chosen here.
    h.externalSubset = nullptr;
    h.resolveEntity = OnResolveEntity;
  }
  return h;
}

// --- which DTD

struct DtdChoice {
  DtdKind kind;
  std::string_view element;    // the root element
  std::string_view file;       // the compiled-in DTD
  std::string_view described;  // for messages
};
constexpr DtdChoice kChoices[] = {
    {DtdKind::kLetter, "函", "104_2_utf8.dtd", "a 函 (DI)"},
    {DtdKind::kMemo, "簽", "104_5_utf8.dtd", "a 簽 (DI)"},
    {DtdKind::kRoster, "交換表單", "104_roster_utf8.dtd", "a 交換表單 (SW)"},
};

const DtdChoice* ChoiceForElement(std::string_view element) {
  for (const DtdChoice& c : kChoices)
    if (c.element == element) return &c;
  return nullptr;
}
const DtdChoice& ChoiceFor(DtdKind kind) {
  for (const DtdChoice& c : kChoices)
    if (c.kind == kind) return c;
  return kChoices[0];
}

// A 公文 DTD's system id: <version>_<2|5|roster>[_<encoding>].dtd, as 104_2_utf8.dtd,
// 99_2_big5.dtd, 91_2.dtd. Only the name counts: it chooses a compiled-in DTD.
struct DtdName {
  int version = 0;
  DtdKind kind = DtdKind::kLetter;
};
std::optional<DtdName> ParseDtdName(std::string_view system_id) {
  std::string_view name = system_id;
  constexpr std::string_view kSuffix = ".dtd";
  if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) return std::nullopt;
  name.remove_suffix(kSuffix.size());
  const size_t first = name.find('_');
  if (first == 0 || first == std::string_view::npos || first > 4) return std::nullopt;
  DtdName out;
  for (char c : name.substr(0, first)) {
    if (c < '0' || c > '9') return std::nullopt;
    out.version = out.version * 10 + (c - '0');
  }
  std::string_view rest = name.substr(first + 1);
  const size_t second = rest.find('_');
  const std::string_view kind = rest.substr(0, second);
  if (kind == "2")
    out.kind = DtdKind::kLetter;
  else if (kind == "5")
    out.kind = DtdKind::kMemo;
  else if (kind == "roster")
    out.kind = DtdKind::kRoster;
  else
    return std::nullopt;
  return out;
}

std::string KnownDtds() {
  std::string out;
  for (const DtdChoice& c : kChoices) {
    if (!out.empty()) out += ", ";
    out += std::string(c.file) + " for " + std::string(c.element);
  }
  return out;
}

std::string Described(std::span<const DtdKind> accepted) {
  std::string out;
  for (size_t i = 0; i < accepted.size(); ++i) {
    if (i > 0) out += i + 1 == accepted.size() ? " or " : ", ";
    out += ChoiceFor(accepted[i]).described;
  }
  return out;
}

Status Failure(const CallState& state, std::string_view file_name, std::string_view fallback,
               std::string_view note = {}) {
  std::string message;
  for (const Problem& p : state.problems) {
    if (!message.empty()) message += "; ";
    message += Where(file_name, p.line) + ": " + p.message;
  }
  if (state.dropped > 0) message += " (and " + std::to_string(state.dropped) + " more)";
  if (message.empty()) message = std::string(file_name) + ": " + std::string(fallback);
  if (!note.empty()) message += " " + std::string(note);
  return Status::InvalidArgument(std::move(message));
}

// Defense behind the declaration hooks: what the parsed DOCTYPE holds.
std::optional<std::string> SubsetViolation(const xmlDtd* subset) {
  if (subset == nullptr) return std::nullopt;
  for (const xmlNode* n = subset->children; n != nullptr; n = n->next) {
    switch (n->type) {
      case XML_ENTITY_DECL: {
        const auto* entity = reinterpret_cast<const xmlEntity*>(n);
        if (entity->etype != XML_EXTERNAL_GENERAL_UNPARSED_ENTITY)
          return "the DOCTYPE declares the parsed entity \"" + Text(entity->name) + "\"";
        break;
      }
      case XML_COMMENT_NODE:
      case XML_PI_NODE:
        break;
      case XML_ELEMENT_DECL:
      case XML_ATTRIBUTE_DECL:
      default:
        return "the DOCTYPE declares " + Text(n->name);
    }
  }
  auto size = [](void* table) {
    return table == nullptr ? 0 : xmlHashSize(static_cast<xmlHashTablePtr>(table));
  };
  if (size(subset->elements) > 0 || size(subset->attributes) > 0 || size(subset->pentities) > 0)
    return std::string("the DOCTYPE declares elements, attributes or parameter entities");
  return std::nullopt;
}

bool HasToken(std::string_view list, std::string_view token) {
  size_t i = 0;
  while (i < list.size()) {
    const size_t end = std::min(list.find_first_of(" \t\r\n", i), list.size());
    if (list.substr(i, end - i) == token) return true;
    i = end + 1;
  }
  return false;
}

// The line of the first element whose `attribute` holds `value` among its tokens.
long LineOfAttribute(const xmlNode* node, const std::string& attribute, const std::string& value) {
  for (; node != nullptr; node = node->next) {
    if (node->type != XML_ELEMENT_NODE) continue;
    for (const xmlAttr* a = node->properties; a != nullptr; a = a->next) {
      if (Text(a->name) != attribute) continue;
      xmlChar* text = xmlNodeListGetString(node->doc, a->children, 1);
      const bool match = text != nullptr && HasToken(reinterpret_cast<const char*>(text), value);
      xmlFree(text);
      if (match) return xmlGetLineNo(node);
    }
    if (long line = LineOfAttribute(node->children, attribute, value); line > 0) return line;
  }
  return 0;
}

void FindProblemLines(const xmlDoc* doc, CallState& state) {
  for (Problem& p : state.problems)
    if (p.line <= 0 && !p.attribute.empty())
      p.line = LineOfAttribute(doc->children, p.attribute, p.value);
}

struct ParserCtxtFree {
  void operator()(xmlParserCtxt* ctxt) const { xmlFreeParserCtxt(ctxt); }
};
struct DtdFree {
  void operator()(xmlDtd* dtd) const { xmlFreeDtd(dtd); }
};
using DtdPtr = std::unique_ptr<xmlDtd, DtdFree>;
struct ValidCtxtFree {
  void operator()(xmlValidCtxt* ctxt) const { xmlFreeValidCtxt(ctxt); }
};

Result<DtdPtr> LoadDtd(const DtdChoice& choice, CallState& state) {
  const EmbeddedDtdFile* file = FindEmbedded(choice.file);
  if (file == nullptr)
    return Status::Internal("the DTD " + std::string(choice.file) +
                            " is not compiled in: the build is broken");
  xmlParserInputBufferPtr buffer = xmlParserInputBufferCreateMem(
      file->text.data(), static_cast<int>(file->text.size()), XML_CHAR_ENCODING_NONE);
  if (buffer == nullptr) return Status::Internal("out of memory reading a DTD");
  xmlSAXHandler handler = Handler(/*for_document=*/false);
  DtdPtr dtd(xmlIOParseDTD(&handler, buffer, XML_CHAR_ENCODING_NONE));
  if (dtd == nullptr || !state.problems.empty())
    return Status::Internal(Failure(state, choice.file, "does not parse").message() +
                            " (the compiled-in DTD: the build is broken)");
  return dtd;
}

}  // namespace

std::string Where(std::string_view file_name, long line) {
  std::string out(file_name);
  if (line > 0) out += " line " + std::to_string(line);  // libxml2 says 0 or -1 for unknown
  return out;
}

Result<ValidatedXml> ParseValidated(ByteView data, std::string_view file_name,
                                    std::span<const DtdKind> accepted) {
  if (data.empty()) return Status::InvalidArgument(std::string(file_name) + ": the file is empty");
  if (data.size() > kMaxDocumentBytes)
    return Status::InvalidArgument(std::string(file_name) + ": " + std::to_string(data.size()) +
                                   " bytes, more than a 公文 XML file may have (" +
                                   std::to_string(kMaxDocumentBytes >> 20) +
                                   " MiB); attachments belong in their own files");
  InitLibxml();
  CallScope scope;
  CallState& state = scope.state();

  // 1. Parse, without loading the DTD the document names: declarations of its own that
  //    could load or expand anything stop the parse where they stand.
  XmlDocument doc;
  {
    std::unique_ptr<xmlParserCtxt, ParserCtxtFree> ctxt(xmlCreateMemoryParserCtxt(
        reinterpret_cast<const char*>(data.data()), static_cast<int>(data.size())));
    if (ctxt == nullptr) return Status::Internal("out of memory parsing " + std::string(file_name));
    *ctxt->sax = Handler(/*for_document=*/true);
    ctxt->userData = ctxt.get();
    xmlCtxtUseOptions(ctxt.get(), XML_PARSE_NONET | XML_PARSE_BIG_LINES);
    ctxt->loadsubset = 0;
    ctxt->validate = 0;
    ctxt->replaceEntities = 0;
    xmlParseDocument(ctxt.get());
    doc.reset(ctxt->myDoc);
    ctxt->myDoc = nullptr;
    if (state.refused || !ctxt->wellFormed || doc == nullptr)
      return Failure(state, file_name, "is not well-formed XML");
  }
  // What libxml2 recorded without stopping (a system id that is no proper URI, say) is not
  // what makes a 公文 file valid or not: the DTD and the checks below are.
  state.problems.clear();
  state.dropped = 0;
  if (std::optional<std::string> violation = SubsetViolation(doc->intSubset))
    return Status::InvalidArgument(std::string(file_name) + ": " + *violation + "; " + kSubsetRule);

  // 2. Which DTD: the DOCTYPE's, else the root element's.
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr)
    return Status::InvalidArgument(std::string(file_name) + ": the document has no element");
  const std::string declared =
      doc->intSubset != nullptr ? Text(doc->intSubset->name) : std::string();
  const std::string element = declared.empty() ? Text(root->name) : declared;
  const DtdChoice* choice = ChoiceForElement(element);
  const bool accepted_kind = choice != nullptr && std::find(accepted.begin(), accepted.end(),
                                                            choice->kind) != accepted.end();
  if (!accepted_kind)
    return Status::InvalidArgument(
        Where(file_name, xmlGetLineNo(root)) + ": the document is " +
        (choice != nullptr ? std::string(choice->described) : "a <" + element + ">") + ", where " +
        Described(accepted) + " was expected");
  std::string note;
  if (doc->intSubset != nullptr && doc->intSubset->SystemID != nullptr) {
    const std::string system_id = Text(doc->intSubset->SystemID);
    if (system_id.find_first_of("/\\:") != std::string::npos)
      return Status::InvalidArgument(std::string(file_name) + ": its DOCTYPE names the DTD \"" +
                                     system_id +
                                     "\"; a 公文 file names its DTD by file name alone (as "
                                     "104_2_utf8.dtd), and nothing is fetched from elsewhere");
    std::optional<DtdName> name = ParseDtdName(system_id);
    if (!name)
      return Status::InvalidArgument(std::string(file_name) + ": its DOCTYPE names the DTD \"" +
                                     system_id +
                                     "\", which is not a 公文 DTD (known: " + KnownDtds() + ")");
    if (name->kind != choice->kind)
      return Status::InvalidArgument(std::string(file_name) + ": its DOCTYPE names the DTD \"" +
                                     system_id + "\", which is that of " +
                                     std::string(ChoiceFor(name->kind).described) + ", for " +
                                     std::string(choice->described));
    if (name->version != 104 && name->version != 99)
      return Status::InvalidArgument(
          std::string(file_name) + ": its DOCTYPE names \"" + system_id + "\", DTD version " +
          std::to_string(name->version) +
          "; this program checks versions 104 and 99 only: have the sending system write "
          "version 104");
    if (name->version == 99)
      note =
          "(a DTD version 99 document, checked against version 104: " + std::string(choice->file) +
          ")";
  }

  // 3. Validate against the compiled-in DTD, beside the document's own declarations (its
  //    attachments), which the ENTITY attributes refer to.
  TESSERA_ASSIGN_OR_RETURN(DtdPtr dtd, LoadDtd(*choice, state));
  std::unique_ptr<xmlValidCtxt, ValidCtxtFree> vctxt(xmlNewValidCtxt());
  if (vctxt == nullptr)
    return Status::Internal("out of memory validating " + std::string(file_name));
  vctxt->userData = nullptr;
  vctxt->error = OnValidityError;
  vctxt->warning = OnIgnoredMessage;
  doc->extSubset = dtd.get();
  const int valid = xmlValidateDocument(vctxt.get(), doc.get());
  doc->extSubset = nullptr;
  FindProblemLines(doc.get(), state);
  if (valid != 1 || !state.problems.empty())
    return Failure(state, file_name, "is not valid against " + std::string(choice->file), note);
  return ValidatedXml{std::move(doc), choice->kind};
}

}  // namespace tessera::exchange
