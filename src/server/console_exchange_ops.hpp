// The exchange operators' changes in the console's REST API (docs/api.md, "Exchange",
// "Operators' changes"): what `tessera exchange registry suspend/resume/agency change/
// publish` do on the management host and `tessera exchange suspend/resume` on an exchange
// center, through the same library functions (exchange::ManagementStore::EditDraft and
// Publish, exchange::CenterStore::Suspend and Resume).
//
//   management host (its draft in <home>/exchange/management):
//     GET    /exchange/registry/draft                         the draft, what changed since
//                                                             the last publication, problems
//     POST   /exchange/registry/agencies/{code}/suspension    {reason, note}: 中止服務
//     DELETE /exchange/registry/agencies/{code}/suspension    {note}: resumed
//     PUT    /exchange/registry/agencies/{code}/addresses     {addresses: [...]}
//     POST   /exchange/registry/publications                  {valid_hours?}: publish
//   exchange center ([exchange] center_id; its state in <home>/exchange/center):
//     GET    /exchange/center/suspensions
//     POST   /exchange/center/suspensions/{code}              {reason, note}
//     DELETE /exchange/center/suspensions/{code}              {note}
//
// Operators and admins only (403 otherwise, recorded). 409 when this host does not have
// the role, saying where the change is made. Every change and every refusal is recorded
// in the audit log (console:<account>) under the command line's action names
// (exchange.registry.suspend, .resume, .publish; exchange.suspend, exchange.resume)
// before it is made; a change the audit log cannot record is not made. The registry's
// signing key is an unencrypted PKCS#8 file (mode 0600), as the command line uses it: no
// passphrase is asked for.
// Safe to call from several threads at once (the draft's lock and the center's database
// serialise the changes).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "server/console_call.hpp"

namespace tessera::server {

class ExchangeOpsApi {
 public:
  // `center_id`: this host's exchange center, "" when it is none. `management`: this host
  // is the management host (its draft is in <home>/exchange/management).
  ExchangeOpsApi(std::filesystem::path home, std::string center_id, bool management);

  // The calls answered here: /exchange/registry/{draft,publications,agencies/…} and
  // /exchange/center/…
  static bool Handles(const ApiCall& call);
  ApiResponse Handle(const ApiCall& call);

  // "center", "management": what this host can do, for the session's answer.
  std::vector<std::string> roles() const;

 private:
  ApiResponse Registry(const ApiCall& call);
  ApiResponse Center(const ApiCall& call);

  const std::filesystem::path home_;
  const std::string center_id_;
  const bool management_;
};

}  // namespace tessera::server
