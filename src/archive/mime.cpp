#include "archive/mime.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "archive/charset.hpp"
#include "archive/tnef.hpp"
#include "base/utf8.hpp"

namespace tessera::archive {

namespace {

struct GObjectUnref {
  void operator()(gpointer p) const {
    if (p) g_object_unref(p);
  }
};
template <typename T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
  void operator()(gpointer p) const { g_free(p); }
};
using GString = std::unique_ptr<char, GFree>;

// GMime decodes headers to UTF-8, but passes some malformed input through: what the
// archive stores and indexes must be text.
std::string Utf8(const char* s) {
  return IsValidUtf8(s) ? std::string(s) : ToValidUtf8(s);
}

void InitGMime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

// Raw 8-bit headers are read as UTF-8 when they are, else as Big5 (the usual case in
// Taiwanese mail), else as GB18030.
GMimeParserOptions* ParserOptions() {
  static GMimeParserOptions* options = [] {
    GMimeParserOptions* o = g_mime_parser_options_new();
    static const char* fallback[] = {"UTF-8", "CP950", "GB18030", nullptr};
    g_mime_parser_options_set_fallback_charsets(o, fallback);
    g_mime_parser_options_set_rfc2047_compliance_mode(o, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_parameter_compliance_mode(o, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_address_compliance_mode(o, GMIME_RFC_COMPLIANCE_LOOSE);
    return o;
  }();
  return options;
}

void AddAddresses(InternetAddressList* list, std::vector<MailAddress>& out) {
  if (!list) return;
  for (int i = 0; i < internet_address_list_length(list); ++i) {
    InternetAddress* a = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(a)) {
      AddAddresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)), out);
      continue;
    }
    MailAddress m;
    if (const char* name = internet_address_get_name(a)) m.name = Utf8(name);
    if (const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)))
      m.email = Utf8(addr);
    out.push_back(std::move(m));
  }
}

// The addresses of header `name`. GMime gives none for a raw 8-bit Big5 display name
// ("From: <Big5 bytes> <a@b>", as old Outlook sent it): then the raw value is decoded
// (UTF-8, else Big5, else GB18030) and parsed again.
void AddAddresses(GMimeMessage* message, const char* name, InternetAddressList* parsed,
                  std::vector<MailAddress>& out) {
  const size_t before = out.size();
  AddAddresses(parsed, out);
  if (out.size() != before) return;
  GMimeHeaderList* headers = g_mime_object_get_header_list(GMIME_OBJECT(message));
  GMimeHeader* header = headers ? g_mime_header_list_get_header(headers, name) : nullptr;
  const char* raw = header ? g_mime_header_get_raw_value(header) : nullptr;
  if (!raw || IsValidUtf8(raw)) return;
  const std::string utf8 = DecodeText(raw, "").utf8;
  GPtr<InternetAddressList> list(internet_address_list_parse(ParserOptions(), utf8.c_str()));
  AddAddresses(list.get(), out);
}

Bytes PartContent(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (!content) return {};
  GPtr<GMimeStream> stream(g_mime_stream_mem_new());
  if (g_mime_data_wrapper_write_to_stream(content, stream.get()) < 0) return {};
  GByteArray* array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream.get()));
  return Bytes(array->data, array->data + array->len);
}

std::string MimeType(GMimeObject* object) {
  GMimeContentType* type = g_mime_object_get_content_type(object);
  if (!type) return "text/plain";
  GString mime(g_mime_content_type_get_mime_type(type));
  std::string s = mime ? mime.get() : "application/octet-stream";
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return Utf8(s.c_str());  // a type is ASCII, but mail may say anything
}

// The size of a part's content as sent (before its transfer encoding is undone).
uint64_t EncodedSize(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  GMimeStream* stream = content ? g_mime_data_wrapper_get_stream(content) : nullptr;
  const gint64 n = stream ? g_mime_stream_length(stream) : 0;
  return n > 0 ? static_cast<uint64_t>(n) : 0;
}

constexpr uint64_t kNoLimit = ~uint64_t{0};

void ParseInto(GMimeMessage* message, ParsedMessage& out, uint64_t max_part_bytes);

void ParseObject(GMimeObject* object, ParsedMessage& out, uint64_t max_part_bytes) {
  if (GMIME_IS_MULTIPART(object)) {
    GMimeMultipart* multipart = GMIME_MULTIPART(object);
    for (int i = 0; i < g_mime_multipart_get_count(multipart); ++i)
      ParseObject(g_mime_multipart_get_part(multipart, i), out, max_part_bytes);
    return;
  }
  if (GMIME_IS_MESSAGE_PART(object)) {
    GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
    if (inner) {
      ParsedMessage attached;
      ParseInto(inner, attached, max_part_bytes);
      out.attached_messages.push_back(std::move(attached));
    }
    return;
  }
  if (!GMIME_IS_PART(object)) return;
  GMimePart* part = GMIME_PART(object);
  const std::string type = MimeType(object);
  const char* filename = g_mime_part_get_filename(part);
  const bool text = type.rfind("text/", 0) == 0;
  const uint64_t encoded_size = max_part_bytes == kNoLimit ? 0 : EncodedSize(part);
  if (encoded_size > max_part_bytes) {
    if (text && !g_mime_part_is_attachment(part)) {
      out.problems.push_back(type + " part of " + std::to_string(encoded_size) +
                             " bytes: too large, its text was not read");
      return;
    }
    MailAttachment a;
    if (filename) a.filename = Utf8(filename);
    a.content_type = type;
    a.content_omitted = true;
    a.encoded_size = encoded_size;
    out.attachments.push_back(std::move(a));
    return;
  }
  if (text && !g_mime_part_is_attachment(part)) {
    const char* charset = g_mime_object_get_content_type_parameter(object, "charset");
    Bytes raw = PartContent(part);
    DecodedText decoded = DecodeText(AsString(raw), charset ? charset : "");
    if (!decoded.note.empty()) out.problems.push_back(type + " part: " + decoded.note);
    if (type == "text/html" && out.html.empty()) out.html = decoded.utf8;
    if (!out.text.empty()) out.text += "\n";
    out.text += decoded.utf8;
    return;
  }
  MailAttachment a;
  if (filename) a.filename = Utf8(filename);
  a.content_type = type;
  a.content = PartContent(part);
  const bool tnef = IsTnef(a);
  out.attachments.push_back(std::move(a));
  if (tnef) {
    // Outlook's winmail.dat: the files inside count as the message's attachments too.
    Result<std::vector<MailAttachment>> inner = UnpackTnef(out.attachments.back().content);
    if (!inner.ok()) {
      out.problems.push_back("TNEF attachment (winmail.dat) not unpacked: " +
                             inner.status().message());
      return;
    }
    for (MailAttachment& file : *inner) out.attachments.push_back(std::move(file));
  }
}

void ParseInto(GMimeMessage* message, ParsedMessage& out, uint64_t max_part_bytes) {
  if (const char* id = g_mime_message_get_message_id(message)) out.message_id = Utf8(id);
  if (const char* subject = g_mime_message_get_subject(message)) out.subject = Utf8(subject);
  AddAddresses(message, "From", g_mime_message_get_from(message), out.from);
  AddAddresses(message, "Sender", g_mime_message_get_sender(message), out.sender);
  AddAddresses(message, "To", g_mime_message_get_to(message), out.to);
  AddAddresses(message, "Cc", g_mime_message_get_cc(message), out.cc);
  AddAddresses(message, "Bcc", g_mime_message_get_bcc(message), out.bcc);
  AddAddresses(message, "Reply-To", g_mime_message_get_reply_to(message), out.reply_to);
  if (GDateTime* date = g_mime_message_get_date(message)) out.date = g_date_time_to_unix(date);
  if (GMimeObject* body = g_mime_message_get_mime_part(message))
    ParseObject(body, out, max_part_bytes);
}

// --- A GMime stream over a MessageSource ----------------------------------------------
// GMime's parser keeps a part's content as a substream of a seekable stream it parses
// (rather than a copy in memory), so a message read through this stream is parsed
// without being held: only the parts that are decoded are.

// What a stream and its substreams share: the source, and the first error it gave.
struct SourceState {
  std::shared_ptr<MessageSource> source;
  Status error;
};

struct TesseraSourceStream {
  GMimeStream parent;
  std::shared_ptr<SourceState>* state;
};
struct TesseraSourceStreamClass {
  GMimeStreamClass parent_class;
};

// The GType is named TesseraSourceStream (names are global in a process).
G_DEFINE_TYPE(TesseraSourceStream, tessera_source_stream, GMIME_TYPE_STREAM)

SourceState& StateOf(GMimeStream* stream) {
  return **reinterpret_cast<TesseraSourceStream*>(stream)->state;
}

gint64 EndOf(GMimeStream* stream) {
  return stream->bound_end != -1 ? stream->bound_end
                                 : static_cast<gint64>(StateOf(stream).source->size());
}

ssize_t SourceStreamRead(GMimeStream* stream, char* buf, size_t len) {
  SourceState& state = StateOf(stream);
  const gint64 end = EndOf(stream);
  if (stream->position >= end) return 0;
  len = static_cast<size_t>(std::min<gint64>(static_cast<gint64>(len), end - stream->position));
  auto got = state.source->ReadAt(static_cast<uint64_t>(stream->position),
                                  reinterpret_cast<uint8_t*>(buf), len);
  if (!got.ok()) {
    if (state.error.ok()) state.error = got.status();
    return -1;
  }
  stream->position += static_cast<gint64>(*got);
  return static_cast<ssize_t>(*got);
}

ssize_t SourceStreamWrite(GMimeStream*, const char*, size_t) {
  return -1;  // read only
}

int SourceStreamNothing(GMimeStream*) {
  return 0;
}

gboolean SourceStreamEos(GMimeStream* stream) {
  return stream->position >= EndOf(stream);
}

int SourceStreamReset(GMimeStream* stream) {
  stream->position = stream->bound_start;
  return 0;
}

gint64 SourceStreamSeek(GMimeStream* stream, gint64 offset, GMimeSeekWhence whence) {
  gint64 real = stream->position;
  switch (whence) {
    case GMIME_STREAM_SEEK_SET:
      real = offset;
      break;
    case GMIME_STREAM_SEEK_CUR:
      real = stream->position + offset;
      break;
    case GMIME_STREAM_SEEK_END:
      real = EndOf(stream) + offset;
      break;
  }
  stream->position =
      std::clamp(real, stream->bound_start, std::max(stream->bound_start, EndOf(stream)));
  return stream->position;
}

gint64 SourceStreamTell(GMimeStream* stream) {
  return stream->position;
}

gint64 SourceStreamLength(GMimeStream* stream) {
  return EndOf(stream) - stream->bound_start;
}

GMimeStream* NewSourceStream(std::shared_ptr<SourceState> state, gint64 start, gint64 end) {
  auto* stream =
      static_cast<TesseraSourceStream*>(g_object_new(tessera_source_stream_get_type(), nullptr));
  stream->state = new std::shared_ptr<SourceState>(std::move(state));
  g_mime_stream_construct(GMIME_STREAM(stream), start, end);
  return GMIME_STREAM(stream);
}

GMimeStream* SourceStreamSubstream(GMimeStream* stream, gint64 start, gint64 end) {
  return NewSourceStream(*reinterpret_cast<TesseraSourceStream*>(stream)->state, start, end);
}

void SourceStreamFinalize(GObject* object) {
  delete reinterpret_cast<TesseraSourceStream*>(object)->state;
  G_OBJECT_CLASS(tessera_source_stream_parent_class)->finalize(object);
}

void tessera_source_stream_init(TesseraSourceStream* stream) {
  stream->state = nullptr;
}

void tessera_source_stream_class_init(TesseraSourceStreamClass* klass) {
  G_OBJECT_CLASS(klass)->finalize = SourceStreamFinalize;
  GMimeStreamClass* s = GMIME_STREAM_CLASS(klass);
  s->read = SourceStreamRead;
  s->write = SourceStreamWrite;
  s->flush = SourceStreamNothing;
  s->close = SourceStreamNothing;
  s->eos = SourceStreamEos;
  s->reset = SourceStreamReset;
  s->seek = SourceStreamSeek;
  s->tell = SourceStreamTell;
  s->length = SourceStreamLength;
  s->substream = SourceStreamSubstream;
}

}  // namespace

std::string TextWithoutHtml(const ParsedMessage& m) {
  std::string text = m.text;
  if (m.html.empty()) return text;
  const size_t at = text.find(m.html);
  if (at == std::string::npos) return text;
  const size_t from = at > 0 && text[at - 1] == '\n' ? at - 1 : at;
  text.erase(from, at - from + m.html.size());
  return text;
}

Result<ParsedMessage> ParseMessage(ByteView raw) {
  if (raw.empty()) return Status::InvalidArgument("the message is empty");
  InitGMime();
  // The parser reads from a copy it owns: GMime's memory streams take the bytes over.
  GByteArray* bytes = g_byte_array_sized_new(static_cast<guint>(raw.size()));
  g_byte_array_append(bytes, raw.data(), static_cast<guint>(raw.size()));
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_byte_array(bytes));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  GPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), ParserOptions()));
  ParsedMessage out;
  if (!message) {  // no header GMime recognises: the whole input is the text
    DecodedText text = DecodeText(AsString(raw), "");
    out.text = std::move(text.utf8);
    out.problems.push_back("no message header: read as plain text" +
                           (text.note.empty() ? "" : " (" + text.note + ")"));
    return out;
  }
  ParseInto(message.get(), out, kNoLimit);
  return out;
}

Result<ParsedMessage> ParseMessage(std::shared_ptr<MessageSource> source, uint64_t max_part_bytes) {
  if (source->size() == 0) return Status::InvalidArgument("the message is empty");
  InitGMime();
  auto state = std::make_shared<SourceState>();
  state->source = std::move(source);
  GPtr<GMimeStream> stream(NewSourceStream(state, 0, -1));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  g_mime_parser_set_persist_stream(parser.get(), TRUE);
  GPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), ParserOptions()));
  ParsedMessage out;
  if (message) ParseInto(message.get(), out, max_part_bytes);
  if (!state->error.ok()) return state->error;
  if (!message) out.problems.push_back("no message header: its text was not read");
  return out;
}

std::string AddressKey(const std::string& address) {
  std::string email = address;
  const size_t open = address.rfind('<');
  const size_t close = address.rfind('>');
  if (open != std::string::npos && close != std::string::npos && close > open)
    email = address.substr(open + 1, close - open - 1);
  return AsciiLower(email);
}

}  // namespace tessera::archive
