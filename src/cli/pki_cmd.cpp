// `tessera pki init-ca | issue | show`: a test CA and its certificates (crypto/x509), for
// trials of the exchange without GCA certificates; real deployments bring their own.
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "cli/cli.hpp"
#include "crypto/x509.hpp"

namespace tessera::cli {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kDay = 24 * 60 * 60;

std::string Time(int64_t unix_seconds) {
  return FormatRfc3339(unix_seconds * 1000000000);
}

json CertificateJson(const crypto::Certificate& c) {
  return {{"subject", c.Subject()},
          {"common_name", c.CommonName()},
          {"issuer", c.Issuer()},
          {"serial", c.SerialHex()},
          {"not_before", Time(c.NotBefore())},
          {"not_after", Time(c.NotAfter())},
          {"key", c.KeyDescription()},
          {"ca", c.IsCa()},
          {"ip_addresses", c.IpAddresses()},
          {"dns_names", c.DnsNames()},
          {"fingerprint", c.Fingerprint()}};
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "-" : out;
}

void PrintCertificate(const crypto::Certificate& c) {
  std::printf("subject:     %s\n", c.Subject().c_str());
  std::printf("issuer:      %s\n", c.Issuer().c_str());
  std::printf("serial:      %s\n", c.SerialHex().c_str());
  std::printf("valid:       %s to %s\n", Time(c.NotBefore()).c_str(), Time(c.NotAfter()).c_str());
  std::printf("key:         %s%s\n", c.KeyDescription().c_str(), c.IsCa() ? " (CA)" : "");
  std::printf("IP:          %s\n", Joined(c.IpAddresses()).c_str());
  std::printf("DNS:         %s\n", Joined(c.DnsNames()).c_str());
  std::printf("fingerprint: %s\n", c.Fingerprint().c_str());
}

// A CA's key is RSA-3072 (it outlives its certificates); a leaf's RSA-2048.
crypto::KeyKind KindOf(const std::string& key_type, bool ca) {
  if (key_type == "ec") return crypto::KeyKind::kEcP256;
  return ca ? crypto::KeyKind::kRsa3072 : crypto::KeyKind::kRsa2048;
}

Status RefuseExisting(const std::vector<fs::path>& paths, const std::string& what) {
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::exists(p, ec))
      return Status::AlreadyExists(p.string() + " exists already; tessera does not overwrite " +
                                   what + " (choose another place, or remove it yourself)");
  }
  return Status::Ok();
}

// "2026-11-01" or RFC 3339, UTC, to Unix seconds.
Result<int64_t> ParseDate(const std::string& text, const char* option) {
  auto nanos = ParseRfc3339(text);
  if (!nanos.ok())
    return Status::InvalidArgument(std::string(option) + " \"" + text +
                                   "\" is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC)");
  return *nanos / 1000000000;
}

// A file name from a common name: ASCII letters, digits, '.', '-' and '_' kept, every
// run of other bytes (spaces, Chinese) one '_'.
std::string FileStem(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_')
      out += static_cast<char>(c);
    else if (out.empty() || out.back() != '_')
      out += '_';
  }
  return out.empty() || out[0] == '.' ? "cert" + out : out;
}

Status WriteNew(const fs::path& cert_path, const fs::path& key_path,
                const crypto::Certificate& cert, const crypto::PrivateKey& key) {
  // The key first: a certificate without its key is useless, a key without a
  // certificate harmless.
  TESSERA_RETURN_IF_ERROR(key.Save(key_path));
  return WriteFileAtomic(cert_path, std::string_view(cert.Pem()), 0644);
}

void PrintIssued(const Context& ctx, const crypto::Certificate& cert, const fs::path& cert_path,
                 const fs::path& key_path) {
  if (ctx.json) {
    json j = CertificateJson(cert);
    j["certificate_file"] = cert_path.string();
    j["key_file"] = key_path.string();
    PrintJson(j);
    return;
  }
  std::printf("certificate: %s\nprivate key: %s (mode 0600; keep it secret)\n", cert_path.c_str(),
              key_path.c_str());
  PrintCertificate(cert);
}

}  // namespace

void AddPkiCommands(CLI::App& app, Context& ctx) {
  auto* pki = app.add_subcommand(
      "pki",
      "A test CA and certificates for trials of the exchange (real deployments use "
      "certificates from the government CA)");
  pki->require_subcommand(1);
  const std::vector<std::string> key_types = {"rsa", "ec"};

  // init-ca
  {
    auto* cmd =
        pki->add_subcommand("init-ca", "Make a self-signed test CA: DIR/ca.pem, DIR/ca.key");
    struct Options {
      std::string dir, name = "Tessera Test CA", key_type = "ec";
      int days = 3650;
    };
    auto o = std::make_shared<Options>();
    cmd->add_option("--dir", o->dir, "Directory for the CA (made if missing)")->required();
    cmd->add_option("--name", o->name, "The CA's common name")->capture_default_str();
    cmd->add_option("--key-type", o->key_type, "rsa (RSA-3072) or ec (ECDSA P-256)")
        ->check(CLI::IsMember(key_types))
        ->capture_default_str();
    cmd->add_option("--days", o->days, "Days the CA certificate is valid")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->callback([&ctx, o] {
      Run(ctx, [&]() -> Status {
        const fs::path dir = o->dir;
        const fs::path cert_path = dir / "ca.pem";
        const fs::path key_path = dir / "ca.key";
        TESSERA_RETURN_IF_ERROR(RefuseExisting({cert_path, key_path}, "a CA"));
        TESSERA_RETURN_IF_ERROR(MakeDirs(dir, 0700));
        TESSERA_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                                 crypto::PrivateKey::Generate(KindOf(o->key_type, true)));
        crypto::CertificateRequest request;
        request.common_name = o->name;
        request.ca = true;
        request.not_before = NowUnixSeconds();
        request.not_after = request.not_before + o->days * kDay;
        TESSERA_ASSIGN_OR_RETURN(crypto::Certificate cert,
                                 crypto::IssueCertificate(request, key, nullptr, key));
        TESSERA_RETURN_IF_ERROR(WriteNew(cert_path, key_path, cert, key));
        PrintIssued(ctx, cert, cert_path, key_path);
        return Status::Ok();
      });
    });
  }

  // issue
  {
    auto* cmd = pki->add_subcommand(
        "issue", "Issue a certificate and its key from a test CA (TLS, signing, encryption)");
    struct Options {
      std::string ca, name, org, key_type = "ec", not_before, not_after, out;
      std::vector<std::string> ips, dns;
      int days = 365;
    };
    auto o = std::make_shared<Options>();
    cmd->add_option("--ca", o->ca, "The CA's directory (from init-ca)")->required();
    cmd->add_option("--name", o->name, "Common name: an agency's code and name, or a host")
        ->required();
    cmd->add_option("--org", o->org, "Organization (O=)");
    cmd->add_option("--ip", o->ips, "An IP address for subjectAltName (repeatable)");
    cmd->add_option("--dns", o->dns, "A DNS name for subjectAltName (repeatable)");
    cmd->add_option("--key-type", o->key_type, "rsa (RSA-2048) or ec (ECDSA P-256)")
        ->check(CLI::IsMember(key_types))
        ->capture_default_str();
    cmd->add_option("--days", o->days, "Days valid from --not-before (unless --not-after)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--not-before", o->not_before, "Start of validity (YYYY-MM-DD, UTC; now)");
    cmd->add_option("--not-after", o->not_after, "End of validity (YYYY-MM-DD, UTC)");
    cmd->add_option("--out", o->out, "Writes PREFIX.pem and PREFIX.key (default: from --name)");
    cmd->callback([&ctx, o] {
      Run(ctx, [&]() -> Status {
        const fs::path ca_dir = o->ca;
        TESSERA_ASSIGN_OR_RETURN(crypto::Certificate ca_cert,
                                 crypto::Certificate::Load(ca_dir / "ca.pem"));
        TESSERA_ASSIGN_OR_RETURN(crypto::PrivateKey ca_key,
                                 crypto::PrivateKey::Load(ca_dir / "ca.key", "the CA key"));
        if (!ca_key.Matches(ca_cert))
          return Status::InvalidArgument((ca_dir / "ca.key").string() + " is not the key of " +
                                         (ca_dir / "ca.pem").string());
        crypto::CertificateRequest request;
        request.common_name = o->name;
        request.organization = o->org;
        request.ip_addresses = o->ips;
        request.dns_names = o->dns;
        request.not_before = NowUnixSeconds();
        if (!o->not_before.empty()) {
          TESSERA_ASSIGN_OR_RETURN(request.not_before, ParseDate(o->not_before, "--not-before"));
        }
        request.not_after = request.not_before + static_cast<int64_t>(o->days) * kDay;
        if (!o->not_after.empty()) {
          TESSERA_ASSIGN_OR_RETURN(request.not_after, ParseDate(o->not_after, "--not-after"));
        }

        const std::string prefix = o->out.empty() ? FileStem(o->name) : o->out;
        const fs::path cert_path = prefix + ".pem";
        const fs::path key_path = prefix + ".key";
        TESSERA_RETURN_IF_ERROR(RefuseExisting({cert_path, key_path}, "certificates or keys"));
        TESSERA_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                                 crypto::PrivateKey::Generate(KindOf(o->key_type, false)));
        TESSERA_ASSIGN_OR_RETURN(crypto::Certificate cert,
                                 crypto::IssueCertificate(request, key, &ca_cert, ca_key));
        TESSERA_RETURN_IF_ERROR(WriteNew(cert_path, key_path, cert, key));
        PrintIssued(ctx, cert, cert_path, key_path);
        if (!ctx.json && cert.NotAfter() <= NowUnixSeconds())
          std::printf("note: this certificate has expired already (as asked)\n");
        return Status::Ok();
      });
    });
  }

  // show
  {
    auto* cmd = pki->add_subcommand("show", "Show the certificates in a PEM file");
    auto file = std::make_shared<std::string>();
    cmd->add_option("file", *file, "A PEM file (one certificate or a chain)")->required();
    cmd->callback([&ctx, file] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(std::string text, ReadTextFile(*file));
        auto certs = crypto::Certificate::AllFromPem(text);
        if (!certs.ok()) return Status::InvalidArgument(*file + ": " + certs.status().message());
        if (ctx.json) {
          json list = json::array();
          for (const auto& c : *certs) list.push_back(CertificateJson(c));
          PrintJson({{"certificates", list}});
          return Status::Ok();
        }
        for (size_t i = 0; i < certs->size(); ++i) {
          if (i > 0) std::printf("\n");
          PrintCertificate((*certs)[i]);
        }
        return Status::Ok();
      });
    });
  }
}

}  // namespace tessera::cli
