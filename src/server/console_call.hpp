// What the console API's handlers share (server/console_api.hpp routes to them): a request
// and its answer apart from HTTP, one signed-in call with its parsed address, and the
// answers in docs/api.md's form (JSON, errors as {"error": {"code", "message"}}).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.hpp"
#include "server/accounts.hpp"

namespace tessera::server {

struct ApiRequest {
  std::string method;          // "GET", "POST", ...
  std::string target;          // path and query, as sent: "/api/v1/archive/search?q=%E5%9C%8B"
  std::string body;            // as sent
  std::string cookie;          // the Cookie header, "" when none
  std::string csrf;            // the X-CSRF-Token header
  std::string client_address;  // the peer's IP address, for the sign-in limit and the log
  int64_t now = 0;             // Unix seconds
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // Set-Cookie, Content-Disposition…
};

// One request of a signed-in account, its CSRF token already checked for changes.
struct ApiCall {
  const ApiRequest& request;
  const Session& session;
  std::string path;                          // decoded: "/api/v1/vaults/main/snapshots"
  std::map<std::string, std::string> query;  // decoded parameters
  std::vector<std::string> parts;            // of the path after /api/v1: {"vaults", "main", …}
  // Records (console:<account>, action, target, outcome) in the audit log. An error means
  // it could not, and the action must then not be done.
  std::function<Status(const std::string& action, const std::string& target,
                       const std::string& outcome)>
      audit;
};

ApiResponse JsonResponse(int status, const nlohmann::json& body);
ApiResponse ErrorResponse(int status, std::string_view code, const std::string& message);
// The status of docs/api.md for `st` (InvalidArgument 400, PermissionDenied 403, NotFound
// 404, AlreadyExists and FailedPrecondition 409, Unavailable 503, else 500).
ApiResponse ErrorResponse(const Status& st);
// 400 naming the field that is wrong: the error body has "field", and its message starts
// with the field's name ("reason: is required"), so a page can show it at its place.
ApiResponse FieldError(const std::string& field, const std::string& message);
// 404 for a method and path this part of the API does not answer.
ApiResponse NoSuchResource(const ApiCall& call);
// A request refused before any work: recorded first (outcome "refused: <why>"), then
// `answer`; if the record cannot be made, that error instead.
ApiResponse Refused(const ApiCall& call, const std::string& action, const std::string& target,
                    const ApiResponse& answer, const std::string& why);

// Content-Disposition for downloading `name` (RFC 6266, RFC 8187): an ASCII fallback and the
// UTF-8 name, so Chinese names arrive intact and nothing in them can break the header.
std::string AttachmentDisposition(const std::string& name);
// Unix seconds as the API writes times: RFC 3339 in UTC, "2026-12-04T08:30:00Z".
std::string ApiTime(int64_t unix_seconds);
// The query's "limit": `fallback` when absent; InvalidArgument unless 1..max.
Result<size_t> LimitParameter(const std::map<std::string, std::string>& query, size_t fallback,
                              size_t max);
// A path part naming something by number (a message, a batch): nullopt unless digits only.
std::optional<int64_t> IdPart(std::string_view text);

}  // namespace tessera::server
