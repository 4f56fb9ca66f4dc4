// `tessera console account ...`: the web console's local accounts (server/accounts.hpp) —
// how the first administrator is made, and how accounts are kept when the console is not
// at hand. Every change is recorded in the audit log; passwords and TOTP secrets never are.
#include <cstdio>

#include "base/clock.hpp"
#include "cli/cli.hpp"
#include "server/accounts.hpp"
#include "server/totp.hpp"

namespace tessera::cli {
namespace {

using nlohmann::json;

json AccountJson(const server::Account& a) {
  return {{"name", a.name},
          {"display_name", a.display_name},
          {"role", std::string(server::RoleName(a.role))},
          {"agency", a.agency},
          {"totp", a.totp},
          {"directory", a.directory},
          {"failures", a.failures},
          {"locked_until", a.locked_until},
          {"created_at", a.created_at},
          {"password_changed_at", a.password_changed_at}};
}

// The new password: $TESSERA_PASSWORD (for scripts), or asked twice on the terminal.
Result<std::string> NewPassword(const Context& ctx, const std::string& name) {
  std::optional<std::string> p =
      ctx.Secret("TESSERA_PASSWORD", "New password for " + name + ": ", /*confirm=*/true);
  if (!p)
    return Status::InvalidArgument(
        "no password: set TESSERA_PASSWORD, or run this on a terminal to be asked");
  return *p;
}

void Done(Context& ctx, const std::string& text, json j) {
  if (ctx.json) {
    j["ok"] = true;
    PrintJson(j);
  } else {
    std::printf("%s\n", text.c_str());
  }
}

}  // namespace

void AddConsoleCommands(CLI::App& app, Context& ctx) {
  auto* console = app.add_subcommand("console", "The web console (主控台) of `tessera serve`");
  console->require_subcommand(1);
  auto* account = console->add_subcommand(
      "account",
      "Local accounts: clerk, auditor, records, operator or admin, with an optional TOTP code");
  account->require_subcommand(1);

  {
    struct Options {
      std::string name, role, agency, display_name;
      bool directory = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = account->add_subcommand("add",
                                        "Add an account (its password from "
                                        "$TESSERA_PASSWORD, or asked on the terminal; with "
                                        "--directory, the directory's, [console.ldap])");
    cmd->add_option("name", o->name, "Sign-in name: a-z, 0-9, '.', '_', '-'")->required();
    cmd->add_option("--role", o->role, "clerk, auditor, records, operator or admin")->required();
    cmd->add_option("--agency", o->agency, "The agency code of a clerk (機關代碼)");
    cmd->add_option("--display-name", o->display_name, "The name shown, e.g. 王小明");
    cmd->add_flag("--directory", o->directory,
                  "The password is checked by the agency's directory ([console.ldap]); none is "
                  "kept here");
    cmd->callback([&ctx, o] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(server::Role role, server::ParseRole(o->role));
        TESSERA_ASSIGN_OR_RETURN(auto store, server::AccountStore::Open(ctx.home));
        std::string password;
        if (!o->directory) {
          TESSERA_ASSIGN_OR_RETURN(password, NewPassword(ctx, o->name));
        }
        server::Account a;
        a.directory = o->directory;
        a.name = o->name;
        a.display_name = o->display_name.empty() ? o->name : o->display_name;
        a.role = role;
        a.agency = o->agency;
        const std::string what = std::string(server::RoleName(role)) +
                                 (o->agency.empty() ? "" : " of " + o->agency) +
                                 (o->directory ? ", password in the directory" : "");
        TESSERA_RETURN_IF_ERROR(Audit(ctx, "console.account.add", o->name, what));
        TESSERA_RETURN_IF_ERROR(store->Add(a, password));
        TESSERA_ASSIGN_OR_RETURN(server::Account added, store->Get(o->name));
        Done(ctx, "account " + o->name + " added: " + what, {{"account", AccountJson(added)}});
        return Status::Ok();
      });
    });
  }
  {
    auto* cmd = account->add_subcommand("list", "The accounts, their roles and lockouts");
    cmd->callback([&ctx] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto store, server::AccountStore::Open(ctx.home));
        TESSERA_ASSIGN_OR_RETURN(std::vector<server::Account> all, store->List());
        if (ctx.json) {
          json list = json::array();
          for (const server::Account& a : all) list.push_back(AccountJson(a));
          PrintJson({{"accounts", list}});
          return Status::Ok();
        }
        const int64_t now = NowUnixSeconds();
        std::printf("%-20s %-9s %-12s %-5s %s\n", "NAME", "ROLE", "AGENCY", "TOTP", "NAME SHOWN");
        for (const server::Account& a : all)
          std::printf("%-20s %-9s %-12s %-5s %s%s\n", a.name.c_str(),
                      std::string(server::RoleName(a.role)).c_str(),
                      a.agency.empty() ? "-" : a.agency.c_str(), a.totp ? "yes" : "no",
                      a.display_name.c_str(),
                      a.locked_until > now
                          ? ("  LOCKED until " + FormatRfc3339(a.locked_until * 1000000000)).c_str()
                          : "");
        std::printf("%zu account(s)\n", all.size());
        return Status::Ok();
      });
    });
  }
  {
    struct Options {
      std::string name, role, agency;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = account->add_subcommand("role", "Give an account another role");
    cmd->add_option("name", o->name, "The account's sign-in name")->required();
    cmd->add_option("--role", o->role, "clerk, auditor, records, operator or admin")->required();
    cmd->add_option("--agency", o->agency, "The agency code of a clerk (機關代碼)");
    cmd->callback([&ctx, o] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(server::Role role, server::ParseRole(o->role));
        TESSERA_ASSIGN_OR_RETURN(auto store, server::AccountStore::Open(ctx.home));
        TESSERA_RETURN_IF_ERROR(store->Get(o->name).status());
        const std::string what =
            std::string(server::RoleName(role)) + (o->agency.empty() ? "" : " of " + o->agency);
        TESSERA_RETURN_IF_ERROR(Audit(ctx, "console.account.role", o->name, what));
        TESSERA_RETURN_IF_ERROR(store->SetRole(o->name, role, o->agency));
        Done(ctx, "account " + o->name + " is now " + what, {{"name", o->name}});
        return Status::Ok();
      });
    });
  }
  // The commands that take one account name and change one thing.
  struct Change {
    const char* command;
    const char* help;
    const char* action;
  };
  for (Change c :
       {Change{"passwd", "Set a new password (ends the account's sessions)",
               "console.account.password"},
        Change{"remove", "Remove an account (ends its sessions)", "console.account.remove"},
        Change{"unlock", "End a lockout after repeated failed sign-ins", "console.account.unlock"},
        Change{"totp-enable",
               "Require a TOTP code at sign-in: prints the secret and its otpauth:// "
               "address once, for the person's authenticator app",
               "console.account.totp-enable"},
        Change{"totp-disable", "Stop requiring a TOTP code", "console.account.totp-disable"}}) {
    auto name = std::make_shared<std::string>();
    auto* cmd = account->add_subcommand(c.command, c.help);
    cmd->add_option("name", *name, "The account's sign-in name")->required();
    const std::string command = c.command, action = c.action;
    cmd->callback([&ctx, name, command, action] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto store, server::AccountStore::Open(ctx.home));
        TESSERA_RETURN_IF_ERROR(store->Get(*name).status());
        if (command == "passwd") {
          TESSERA_ASSIGN_OR_RETURN(std::string password, NewPassword(ctx, *name));
          TESSERA_RETURN_IF_ERROR(Audit(ctx, action, *name, "password set"));
          TESSERA_RETURN_IF_ERROR(store->SetPassword(*name, password));
          Done(ctx, "password of " + *name + " set; its sessions ended", {{"name", *name}});
        } else if (command == "remove") {
          TESSERA_RETURN_IF_ERROR(Audit(ctx, action, *name, "removed"));
          TESSERA_RETURN_IF_ERROR(store->Remove(*name));
          Done(ctx, "account " + *name + " removed", {{"name", *name}});
        } else if (command == "unlock") {
          TESSERA_RETURN_IF_ERROR(Audit(ctx, action, *name, "unlocked"));
          TESSERA_RETURN_IF_ERROR(store->Unlock(*name));
          Done(ctx, "account " + *name + " unlocked", {{"name", *name}});
        } else if (command == "totp-enable") {
          TESSERA_RETURN_IF_ERROR(Audit(ctx, action, *name, "a new TOTP secret was made"));
          TESSERA_ASSIGN_OR_RETURN(std::string secret, store->EnableTotp(*name));
          const std::string uri = server::TotpUri("tessera", *name, secret);
          Done(ctx,
               "TOTP required for " + *name + ". Enter this secret in the authenticator app " +
                   "(shown once):\n  " + secret + "\n  " + uri,
               {{"name", *name}, {"secret", secret}, {"uri", uri}});
        } else {
          TESSERA_RETURN_IF_ERROR(Audit(ctx, action, *name, "TOTP no longer required"));
          TESSERA_RETURN_IF_ERROR(store->DisableTotp(*name));
          Done(ctx, "TOTP no longer required for " + *name, {{"name", *name}});
        }
        return Status::Ok();
      });
    });
  }
}

}  // namespace tessera::cli
