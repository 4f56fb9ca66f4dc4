#include "cli/cli.hpp"

#include <termios.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "base/json_fields.hpp"
#include "base/log.hpp"

namespace tessera::cli {

namespace {
std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string ReadHidden(const std::string& prompt) {
  std::fprintf(stderr, "%s", prompt.c_str());
  std::fflush(stderr);
  struct termios old {};
  bool tty = ::tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    struct termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
  std::fprintf(stderr, "\n");
  return line;
}
}  // namespace

Status Context::Resolve() {
  SetLogLevel(log_level);
  if (settings.empty()) settings = Env("TESSERA_CONFIG");
  bool explicit_settings = !settings.empty();
  std::string settings_home;
  if (settings.empty() && std::filesystem::exists("tessera.toml")) settings = "tessera.toml";
  if (!settings.empty()) {
    if (explicit_settings && !std::filesystem::exists(settings))
      return Status::NotFound("settings file " + settings + " does not exist");
    try {
      toml::table t = toml::parse_file(settings);
      settings_home = t["paths"]["home"].value_or(std::string());
      auto s3 = t["s3"];
      // Plain [s3] keys are defaults below the URL's own (profile "", see StoreOptions).
      if (auto* tbl = s3.as_table()) {
        for (auto& [key, value] : *tbl)
          if (auto v = value.value<std::string>())
            store_options.s3_profiles[""][std::string(key.str())] = *v;
      }
      if (auto* profiles = s3["profiles"].as_table()) {
        for (auto& [name, node] : *profiles) {
          auto* tbl = node.as_table();
          if (!tbl) continue;
          auto& p = store_options.s3_profiles[std::string(name.str())];
          for (auto& [key, value] : *tbl)
            if (auto v = value.value<std::string>()) p[std::string(key.str())] = *v;
        }
      }
    } catch (const toml::parse_error& e) {
      std::ostringstream where;
      where << e.source().begin;
      return Status::InvalidArgument("settings file " + settings + " is not valid TOML at " +
                                     where.str() + ": " + std::string(e.description()));
    }
  }
  // --home, then $TESSERA_HOME, then the settings file, then ./var.
  if (home.empty()) home = Env("TESSERA_HOME");
  if (home.empty()) home = settings_home;
  if (home.empty()) home = "var";
  return Status::Ok();
}

vault::VaultContext Context::Vault() const {
  vault::VaultContext v;
  v.home = home;
  v.name = vault_name;
  v.store_options = store_options;
  v.threads = threads;
  if (const char* p = std::getenv("TESSERA_PASSPHRASE")) v.passphrase = p;
  return v;
}

std::optional<std::string> Context::Passphrase(bool prompt, bool confirm) const {
  if (!prompt && !std::getenv("TESSERA_PASSPHRASE")) return std::nullopt;
  return Secret("TESSERA_PASSPHRASE", "Passphrase for the vault key: ", confirm);
}

std::optional<std::string> Context::Secret(const char* env, const std::string& prompt,
                                           bool confirm) const {
  if (const char* p = std::getenv(env)) return std::string(p);
  if (!::isatty(STDIN_FILENO)) return std::nullopt;
  std::string a = ReadHidden(prompt);
  if (confirm && ReadHidden("Repeat it: ") != a) {
    std::fprintf(stderr, "error: the two differ\n");
    return std::nullopt;
  }
  return a;
}

int Fail(Context& ctx, const Status& st) {
  int code = kExitError;
  if (st.code() == StatusCode::kInvalidArgument) code = kExitUsage;
  if (st.code() == StatusCode::kFailedPrecondition) code = kExitBusy;
  if (ctx.json) {
    PrintJson(
        {{"ok", false},
         {"error", {{"code", std::string(StatusCodeName(st.code()))}, {"message", st.message()}}}});
  }
  std::fprintf(stderr, "error: %s\n", st.message().c_str());
  ctx.exit_code = code;
  return code;
}

Result<std::vector<int>> ParseStoreNumbers(const std::string& text, const char* option) {
  std::vector<int> out;
  if (text.empty()) return out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      int v = std::stoi(item, &used);
      if (used != item.size() || v < 1) throw std::invalid_argument(item);
      out.push_back(v - 1);
    } catch (const std::exception&) {
      return Status::InvalidArgument(std::string(option) + " '" + text +
                                     "' should be store numbers like 1,3,4");
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void PrintJson(const nlohmann::json& j) {
  std::cout << JsonText(j, 2) << std::endl;
}

void Run(Context& ctx, const std::function<Status()>& fn) {
  Status st = ctx.Resolve();
  if (st.ok()) st = fn();
  if (!st.ok()) Fail(ctx, st);
}

}  // namespace tessera::cli
