#include "archive/access.hpp"

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>

#include "archive/search_index.hpp"
#include "base/json_fields.hpp"

namespace tessera::archive {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS archive_users(
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  addresses TEXT NOT NULL,
  granted_by TEXT NOT NULL,
  granted_at INTEGER NOT NULL);
)sql";

}  // namespace

Result<Role> ParseRole(std::string_view name) {
  if (name == "clerk") return Role::kClerk;
  if (name == "auditor") return Role::kAuditor;
  if (name == "records") return Role::kRecords;
  if (name == "admin") return Role::kAdmin;
  return Status::InvalidArgument("'" + std::string(name) +
                                 "' is not a role (clerk, auditor, records, admin)");
}

std::string RoleName(Role role) {
  switch (role) {
    case Role::kClerk:
      return "clerk";
    case Role::kAuditor:
      return "auditor";
    case Role::kRecords:
      return "records";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

bool Allows(Role role, Permission p) {
  switch (role) {
    case Role::kAdmin:
      return true;
    case Role::kClerk:
      return p == Permission::kReadOwnMail || p == Permission::kRestoreMail;
    case Role::kAuditor:
      return p == Permission::kReadOwnMail || p == Permission::kReadAllMail ||
             p == Permission::kReadRetention || p == Permission::kReadAuditLog;
    case Role::kRecords:
      return p == Permission::kReadOwnMail || p == Permission::kReadAllMail ||
             p == Permission::kReadRetention || p == Permission::kChangeRetention;
  }
  return false;
}

AccessRegistry::~AccessRegistry() = default;

Result<std::unique_ptr<AccessRegistry>> AccessRegistry::Open(MessageStore& store) {
  TESSERA_RETURN_IF_ERROR(store.database().Exec(kSchema));
  return std::unique_ptr<AccessRegistry>(new AccessRegistry(store.database()));
}

Status AccessRegistry::Grant(const std::string& name, Role role,
                             const std::vector<std::string>& addresses,
                             const std::string& granted_by) {
  if (name.empty()) return Status::InvalidArgument("a role is granted to a login name");
  if (role == Role::kClerk && addresses.empty())
    return Status::InvalidArgument(
        "a clerk needs at least one address (--address): it decides "
        "which mail is theirs");
  std::vector<std::string> lower;
  for (const std::string& a : addresses) {
    if (a.find('@') == std::string::npos)
      return Status::InvalidArgument("'" + a + "' is not a mail address");
    lower.push_back(AddressKey(a));
  }
  TESSERA_ASSIGN_OR_RETURN(
      Statement q, db_.Prepare("INSERT OR REPLACE INTO archive_users(name, role, addresses, "
                               "granted_by, granted_at) VALUES(?,?,?,?,?)"));
  return q.Bind(1, name)
      .Bind(2, RoleName(role))
      .Bind(3, JsonText(nlohmann::json(lower)))
      .Bind(4, granted_by)
      .Bind(5, static_cast<int64_t>(std::time(nullptr)))
      .Run();
}

Status AccessRegistry::Revoke(const std::string& name) {
  TESSERA_ASSIGN_OR_RETURN(Statement q, db_.Prepare("DELETE FROM archive_users WHERE name=?"));
  TESSERA_RETURN_IF_ERROR(q.Bind(1, name).Run());
  if (db_.Changes() == 0) return Status::NotFound(name + " holds no role in the archive");
  return Status::Ok();
}

Result<std::vector<Principal>> AccessRegistry::Users() {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q, db_.Prepare("SELECT name, role, addresses FROM archive_users ORDER BY name"));
  std::vector<Principal> out;
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    Principal p;
    p.name = q.Text(0);
    TESSERA_ASSIGN_OR_RETURN(p.role, ParseRole(q.Text(1)));
    auto list = nlohmann::json::parse(q.Text(2), nullptr, false);
    if (list.is_array())
      for (const auto& a : list)
        if (a.is_string()) p.addresses.push_back(a.get<std::string>());
    p.access_control_on = true;
    out.push_back(std::move(p));
  }
  return out;
}

Result<Principal> AccessRegistry::Resolve(const std::string& name) {
  TESSERA_ASSIGN_OR_RETURN(std::vector<Principal> users, Users());
  if (users.empty()) {
    Principal p;
    p.name = name;
    p.role = Role::kAdmin;
    return p;
  }
  for (Principal& p : users)
    if (p.name == name) return std::move(p);
  return Status::PermissionDenied(name +
                                  " holds no role in the archive; an administrator "
                                  "grants one with `tessera archive users grant " +
                                  name + " --role clerk --address ...`");
}

Result<bool> Involves(MessageStore& store, SearchIndex& index, int64_t message,
                      const std::vector<std::string>& addresses) {
  std::set<std::string> mine;
  for (const std::string& a : addresses) mine.insert(AddressKey(a));
  auto is_mine = [&](const std::string& a) { return mine.count(AddressKey(a)) > 0; };
  TESSERA_ASSIGN_OR_RETURN(StoredMessage m, store.Find(message));
  if (is_mine(m.from)) return true;
  TESSERA_ASSIGN_OR_RETURN(std::vector<StoredDelivery> deliveries, store.Deliveries(message));
  for (const StoredDelivery& d : deliveries) {
    if (is_mine(d.delivery.envelope_from)) return true;
    for (const std::string& r : d.delivery.recipients)
      if (is_mine(r)) return true;
  }
  // To, Cc and Bcc headers, and any other From, are in the index.
  Result<SearchHit> summary = index.Summary(message);
  if (!summary.ok()) {
    if (summary.status().code() == StatusCode::kNotFound) return false;
    return summary.status();
  }
  if (is_mine(summary->from)) return true;
  return std::any_of(summary->recipients.begin(), summary->recipients.end(), is_mine);
}

Result<std::vector<int64_t>> MessagesOf(MessageStore& store, SearchIndex& index,
                                        const std::vector<std::string>& addresses) {
  // The index narrows down (an address is a phrase of its words there, so it may also
  // match a longer address); each candidate is then checked exactly.
  std::set<int64_t> candidates;
  for (const std::string& a : addresses) {
    SearchQuery by_sender, by_recipient;
    by_sender.from.push_back(a);
    by_recipient.to.push_back(a);
    for (const SearchQuery* q : {&by_sender, &by_recipient}) {
      TESSERA_ASSIGN_OR_RETURN(std::vector<int64_t> ids, index.AllMatches(*q));
      candidates.insert(ids.begin(), ids.end());
    }
  }
  std::vector<int64_t> out;
  for (int64_t id : candidates) {
    Result<bool> involved = Involves(store, index, id, addresses);
    if (!involved.ok() && involved.status().code() == StatusCode::kNotFound) continue;  // destroyed
    TESSERA_RETURN_IF_ERROR(involved.status());
    if (*involved) out.push_back(id);
  }
  return out;
}

}  // namespace tessera::archive
