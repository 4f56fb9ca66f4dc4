// The exchange part of the console's REST API (docs/api.md, "Exchange"): paths under
// /api/v1/exchange, answered for the agency gateway of this host (server/exchange_roles.hpp).
//
//   GET  /exchange/agencies                      the registry's agencies, to pick recipients
//   POST /exchange/documents                     compose a 函 from fields and send it
//   GET  /exchange/documents?box=sent|inbox      what was sent, what arrived
//   GET  /exchange/documents/{id}                one document: fields, rendering, receipts
//   GET  /exchange/documents/{id}/attachments/{n}
//   GET  /exchange/health                        (operator, admin) the recorded health checks
//   GET  /exchange/registry                      (operator, admin) the registry in full
// and the operators' changes of a management host or an exchange center, answered by
// server/console_exchange_ops.hpp on any host (409 where this host has not the role).
// On a host that is no agency gateway, the gateway's calls answer 503.
//
// Who may: a clerk works for their own agency only (the gateway's agency must be theirs);
// operators and admins see everything and the operator views; operators run the exchange
// and do not send 函 (clerks of the agency and admins do); auditors and records officers
// read, and may not send. Every send, view and download, and every refusal, is recorded in
// the audit log (console:<account>) before it is done.
//
// A 函 composed here is written as a DI file (and an SW file, 交換表單, when it goes to more
// than one agency), parsed back against the official DTDs as `tessera exchange validate`
// does, and handed to Gateway::Send as `tessera exchange send` hands a DI file. The files
// sent are kept in <home>/exchange/console/sent/<id>/ so that the document can be shown.
//
// Safe to call from several threads at once (the gateway is used by one at a time).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>

#include "base/status.hpp"
#include "exchange/gateway.hpp"
#include "exchange/registry.hpp"
#include "server/console_call.hpp"
#include "server/console_exchange_ops.hpp"
#include "server/exchange_roles.hpp"

namespace tessera::server {

class ExchangeApi {
 public:
  // Opens this host's gateway; `for_sending` needs the malware scanner loaded.
  using GatewayOpener = std::function<Result<std::unique_ptr<exchange::Gateway>>(bool for_sending)>;
  // Reads this host's current registry.
  using RegistryLoader = std::function<Result<exchange::Registry>()>;

  // `settings`: the [exchange] settings of the gateway role (agency, certificate, key,
  // malware_db, ...). `open` and `registry` replace OpenGateway / HostRegistry (for tests).
  ExchangeApi(std::filesystem::path home, ExchangeSettings settings, GatewayOpener open = nullptr,
              RegistryLoader registry = nullptr);
  ~ExchangeApi();

  // One call whose parts start with "exchange".
  ApiResponse Handle(const ApiCall& call);

  const std::string& agency() const { return settings_.agency; }

  // The operators' changes this host can make (a center's suspensions, the management
  // host's registry draft); none until set. Call before the console serves.
  void set_operations(std::shared_ptr<ExchangeOpsApi> ops) { ops_ = std::move(ops); }
  // "gateway", "center", "management": the exchange roles of this host's console.
  std::vector<std::string> roles() const;

 private:
  Result<exchange::Gateway*> Gateway(bool for_sending);  // requires mu_

  const std::filesystem::path home_;
  const ExchangeSettings settings_;
  GatewayOpener open_;
  RegistryLoader registry_;
  std::shared_ptr<ExchangeOpsApi> ops_;
  std::mutex mu_;
  std::unique_ptr<exchange::Gateway> reader_, sender_;  // guarded by mu_
};

}  // namespace tessera::server
