// Who may do what in the archive (archive/access.hpp), as the commands ask it, and
// `tessera archive users ...`, which grants the roles. People are told apart by login:
// the sudo user behind root (a clerk runs `sudo tessera archive search ...` under a
// sudoers rule), or the login of a user who can open the archive's files; root and the
// archive's owner, running it directly, are its administrators.
#include <sys/stat.h>

#include <cstdio>
#include <memory>

#include "archive/access.hpp"
#include "archive/search_index.hpp"
#include "cli/cli.hpp"
#include "guard/audit_log.hpp"

namespace tessera::cli {

using nlohmann::json;

namespace {

uid_t ArchiveOwner(const Context& ctx) {
  struct stat st {};
  if (::stat((ctx.home + "/archive").c_str(), &st) == 0) return st.st_uid;
  return ::geteuid();
}

}  // namespace

Result<archive::Principal> Authorize(const Context& ctx, archive::MessageStore& store,
                                     archive::Permission permission, const std::string& action,
                                     const std::string& target) {
  const std::string person = guard::CurrentPerson(ArchiveOwner(ctx));
  TESSERA_ASSIGN_OR_RETURN(auto registry, archive::AccessRegistry::Open(store));
  Result<archive::Principal> who = [&]() -> Result<archive::Principal> {
    if (person.empty()) {  // the archive's owner, directly
      archive::Principal admin;
      admin.name = "owner";
      return admin;
    }
    return registry->Resolve(person);
  }();
  Status denied = who.status();
  if (who.ok() && !archive::Allows(who->role, permission))
    denied = Status::PermissionDenied(person + " (" + archive::RoleName(who->role) +
                                      ") may not do this (" + action + ")");
  if (!denied.ok()) {
    // A refusal is recorded: it may be someone trying what they should not.
    Status logged = Audit(ctx, action, target, "denied: " + denied.message());
    if (!logged.ok()) return logged;
    return denied;
  }
  return who;
}

Status AuthorizeMessages(const Context& ctx, archive::MessageStore& store,
                         const archive::Principal& who, const std::vector<int64_t>& ids,
                         const std::string& action) {
  if (archive::Allows(who.role, archive::Permission::kReadAllMail)) return Status::Ok();
  auto index = archive::SearchIndex::OpenForReading(ctx.home + "/archive/index");
  TESSERA_RETURN_IF_ERROR(index.status());
  for (int64_t id : ids) {
    Result<bool> mine = archive::Involves(store, **index, id, who.addresses);
    if (mine.ok() && *mine) continue;
    if (!mine.ok() && mine.status().code() != StatusCode::kNotFound) return mine.status();
    // Not theirs, or not there: the same answer, so that ids do not leak what exists.
    const std::string reason =
        "message " + std::to_string(id) + " is not " + who.name + "'s mail (or does not exist)";
    TESSERA_RETURN_IF_ERROR(Audit(ctx, action, std::to_string(id), "denied: " + reason));
    return Status::PermissionDenied(reason);
  }
  return Status::Ok();
}

void AddArchiveUsersCommands(CLI::App& archive, Context& ctx) {
  auto* users = archive.add_subcommand(
      "users", "Who may do what: clerks (own mail), auditors, records officers, admins");
  users->require_subcommand(1);
  {
    auto* cmd = users->add_subcommand("grant", "Give a login a role (replacing any other)");
    auto name = std::make_shared<std::string>();
    auto role = std::make_shared<std::string>();
    auto addresses = std::make_shared<std::vector<std::string>>();
    cmd->add_option("name", *name, "Login name")->required();
    cmd->add_option("--role", *role, "clerk, auditor, records or admin")->required();
    cmd->add_option("--address", *addresses, "A mail address that is theirs; repeat");
    cmd->callback([&ctx, name, role, addresses] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(archive::Role r, archive::ParseRole(*role));
        TESSERA_ASSIGN_OR_RETURN(auto store, archive::MessageStore::Open(ctx.home + "/archive"));
        TESSERA_RETURN_IF_ERROR(
            Authorize(ctx, *store, archive::Permission::kAdminister, "archive.users.grant", *name)
                .status());
        TESSERA_ASSIGN_OR_RETURN(auto registry, archive::AccessRegistry::Open(*store));
        TESSERA_RETURN_IF_ERROR(Audit(ctx, "archive.users.grant", *name, *role));
        TESSERA_RETURN_IF_ERROR(registry->Grant(*name, r, *addresses, guard::CurrentActor()));
        std::printf("%s is %s%s\n", name->c_str(), role->c_str(),
                    addresses->empty() ? ""
                                       : (" of " +
                                          [&] {
                                            std::string all;
                                            for (const auto& a : *addresses)
                                              all += (all.empty() ? "" : ", ") + a;
                                            return all;
                                          }())
                                             .c_str());
        return Status::Ok();
      });
    });
  }
  {
    auto* cmd = users->add_subcommand("revoke", "Take a login's role away");
    auto name = std::make_shared<std::string>();
    cmd->add_option("name", *name, "Login name")->required();
    cmd->callback([&ctx, name] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto store, archive::MessageStore::Open(ctx.home + "/archive"));
        TESSERA_RETURN_IF_ERROR(
            Authorize(ctx, *store, archive::Permission::kAdminister, "archive.users.revoke", *name)
                .status());
        TESSERA_ASSIGN_OR_RETURN(auto registry, archive::AccessRegistry::Open(*store));
        TESSERA_RETURN_IF_ERROR(Audit(ctx, "archive.users.revoke", *name, "revoked"));
        TESSERA_RETURN_IF_ERROR(registry->Revoke(*name));
        std::printf("%s holds no role now\n", name->c_str());
        return Status::Ok();
      });
    });
  }
  {
    auto* cmd = users->add_subcommand("list", "List who holds which role");
    cmd->callback([&ctx] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto store, archive::MessageStore::Open(ctx.home + "/archive"));
        TESSERA_RETURN_IF_ERROR(
            Authorize(ctx, *store, archive::Permission::kAdminister, "archive.users.list", "")
                .status());
        TESSERA_ASSIGN_OR_RETURN(auto registry, archive::AccessRegistry::Open(*store));
        TESSERA_ASSIGN_OR_RETURN(auto list, registry->Users());
        if (ctx.json) {
          json out = json::array();
          for (const auto& p : list)
            out.push_back({{"name", p.name},
                           {"role", archive::RoleName(p.role)},
                           {"addresses", p.addresses}});
          PrintJson({{"users", out}, {"access_control", !list.empty()}});
          return Status::Ok();
        }
        if (list.empty())
          std::printf(
              "no roles granted: access control is off (whoever can open the archive "
              "runs it)\n");
        for (const auto& p : list) {
          std::string addresses;
          for (const auto& a : p.addresses) addresses += " " + a;
          std::printf("%-16s %-8s%s\n", p.name.c_str(), archive::RoleName(p.role).c_str(),
                      addresses.c_str());
        }
        return Status::Ok();
      });
    });
  }
}

}  // namespace tessera::cli
