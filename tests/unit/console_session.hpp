// A console session as the unit tests hold it after signing in through ConsoleApi: the cookie
// a browser would send back and the CSRF token that every change needs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "server/console_call.hpp"

namespace tessera::server {

struct SignedIn {
  std::string cookie, csrf;
};

// The session a successful sign-in answer gives: its cookie without the attributes, and the
// CSRF token from the body.
inline SignedIn SessionOf(const ApiResponse& sign_in) {
  SignedIn s;
  for (const auto& [header, value] : sign_in.headers)
    if (header == "Set-Cookie") s.cookie = value.substr(0, value.find(';'));
  s.csrf = nlohmann::json::parse(sign_in.body).value("csrf", "");
  return s;
}

}  // namespace tessera::server
