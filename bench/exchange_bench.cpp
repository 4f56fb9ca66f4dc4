// The exchange benchmark (issue #4, item 12): one exchange center, run as a child process,
// carrying signed and encrypted documents from one agency to another over mutual TLS.
//   1. throughput: N documents of 100 KB, posted by several sender connections as fast as
//      the center accepts them, while the recipient pulls and acknowledges over as many;
//      documents/s from the first post to the last acknowledgement, with p50/p99
//      end-to-end latency (post start → recipient holds it). A center serves many agencies
//      at once, and one sender connection waits for each commit, so the run is repeated
//      with more connections (4, 8, 16 by default): the center's capacity is the best rate;
//   2. paced: the same at half that rate (with the connections that gave it), for the
//      latency a loaded center gives;
//   3. large: one document of 100 MB through the center, MB/s.
// The center's CPU time and peak RSS are reported from the child (getrusage). Signing and
// encryption (crypto/cms.hpp) are done by the senders before the timed runs start, and
// their cost per document is reported separately, measured on this machine in this run.
// Usage: exchange_bench [--docs N] [--senders N[,N...]] [--out FILE]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/files.hpp"
#include "crypto/cms.hpp"
#include "crypto/hash.hpp"
#include "crypto/random.hpp"
#include "crypto/x509.hpp"
#include "exchange/center_client.hpp"
#include "exchange/center_server.hpp"
#include "exchange/envelope.hpp"
#include "exchange/registry.hpp"

namespace fs = std::filesystem;
using namespace tessera;
using namespace tessera::exchange;

namespace {

struct Host {
  crypto::Certificate cert;
  crypto::PrivateKey key;
  fs::path cert_path, key_path;
};

Host MakeHost(const fs::path& dir, const std::string& name, const crypto::Certificate& ca,
              const crypto::PrivateKey& ca_key) {
  auto key = crypto::PrivateKey::Generate(crypto::KeyKind::kEcP256);
  crypto::CertificateRequest req;
  req.common_name = name;
  req.ip_addresses = {"127.0.0.1"};
  auto cert = crypto::IssueCertificate(req, *key, &ca, ca_key);
  if (!cert.ok()) {
    std::fprintf(stderr, "certificate: %s\n", cert.status().ToString().c_str());
    std::exit(1);
  }
  Host p{*cert, *key, dir / (name + ".pem"), dir / (name + ".key")};
  (void)WriteFileAtomic(p.cert_path, p.cert.Pem());
  (void)p.key.Save(p.key_path);
  return p;
}

struct Prepared {
  Bytes header;
  fs::path payload;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// A sealed document of `size` random bytes (as a bundle would be), signed by A and
// encrypted to B.
Prepared Prepare(const fs::path& dir, const Host& a, const Host& b, size_t size, int n) {
  Bytes content = crypto::RandomBytes(size);
  const fs::path plain = dir / ("plain-" + std::to_string(n));
  const fs::path payload = dir / ("doc-" + std::to_string(n));
  (void)WriteFileAtomic(plain, content);
  Status st = crypto::CmsSignAndEncryptFile(plain, payload, a.cert, a.key, {b.cert});
  if (!st.ok()) {
    std::fprintf(stderr, "sealing: %s\n", st.ToString().c_str());
    std::exit(1);
  }
  fs::remove(plain);
  RoutingHeader h;
  h.id = "bench-" + std::to_string(n) + "-" + HexEncode(crypto::RandomBytes(4));
  h.from = "A15060000H";
  h.to = {"376570000A"};
  h.created_at = NowUnixSeconds();
  Bytes bytes = *ReadFile(payload);
  h.payload_sha256 = HexEncode(crypto::Sha256(bytes));
  h.payload_size = bytes.size();
  return {*SealHeader(h, a.cert, a.key), payload};
}

struct RunResult {
  double seconds = 0;
  double docs_per_second = 0;
  double p50_ms = 0, p99_ms = 0;
  size_t delivered = 0;
};

// Posts `docs` from `senders` connections (at most `rate` per second when rate > 0) while
// the recipient pulls and acknowledges over as many connections.
RunResult Run(const std::vector<Prepared>& docs, int senders, double rate, const ClientTls& a_tls,
              const ClientTls& b_tls, const std::string& url, const fs::path& scratch) {
  std::vector<double> posted_at(docs.size(), 0), delivered_at(docs.size(), 0);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < docs.size(); ++i) index[Base64Encode(docs[i].header)] = i;
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  const double start = MonotonicSeconds();
  std::mutex seen_mu;  // guards delivered_at
  auto receive = [&] {
    auto client = CenterClient::Create(url, b_tls);
    const fs::path part = scratch / ("pulled-" + HexEncode(crypto::RandomBytes(6)));
    std::optional<int64_t> pulled_before;  // acknowledged with the next pull
    while (done < docs.size()) {
      auto item = (*client)->Pull(1, part, pulled_before);
      pulled_before.reset();
      if (!item.ok()) {
        std::fprintf(stderr, "pull: %s\n", item.status().ToString().c_str());
        std::exit(1);
      }
      if (!*item) continue;
      const double now = MonotonicSeconds();
      auto it = index.find(Base64Encode((*item)->header));
      if (it != index.end()) {
        std::lock_guard lock(seen_mu);
        if (delivered_at[it->second] == 0) {
          delivered_at[it->second] = now;
          ++done;
        }
      }
      pulled_before = (*item)->delivery;
    }
    if (pulled_before) {
      Status ack = (*client)->Acknowledge(*pulled_before);
      if (!ack.ok()) {
        std::fprintf(stderr, "ack: %s\n", ack.ToString().c_str());
        std::exit(1);
      }
    }
  };
  // The recipient pulls over as many connections as there are senders, as a busy
  // agency's gateway would; one connection alone waits out a commit per document.
  std::vector<std::thread> receivers;
  for (int r = 0; r < senders; ++r) receivers.emplace_back(receive);
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s)
    threads.emplace_back([&] {
      auto client = CenterClient::Create(url, a_tls);
      while (true) {
        const size_t i = next++;
        if (i >= docs.size()) break;
        if (rate > 0) {
          const double due = start + static_cast<double>(i) / rate;
          const double wait = due - MonotonicSeconds();
          if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait));
        }
        posted_at[i] = MonotonicSeconds();
        auto receipt = (*client)->PostItem(docs[i].header, docs[i].payload);
        if (!receipt.ok()) {
          std::fprintf(stderr, "post: %s\n", receipt.status().ToString().c_str());
          std::exit(1);
        }
      }
    });
  for (auto& t : threads) t.join();
  for (auto& t : receivers) t.join();
  RunResult r;
  // Until the last document arrived: receivers still waiting on a pull then are not counted.
  r.seconds = *std::max_element(delivered_at.begin(), delivered_at.end()) - start;
  r.delivered = done;
  r.docs_per_second = static_cast<double>(docs.size()) / r.seconds;
  std::vector<double> latency;
  for (size_t i = 0; i < docs.size(); ++i)
    latency.push_back((delivered_at[i] - posted_at[i]) * 1000);
  r.p50_ms = Percentile(latency, 0.50);
  r.p99_ms = Percentile(latency, 0.99);
  return r;
}

// The CPU time a process has used so far, user and system, from /proc (clock ticks), so
// that each phase's cost per document can be reported, not only the total at the end.
struct CpuTime {
  double user = 0, system = 0;
};

CpuTime ProcessCpu(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start at the last ')'.
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  return {static_cast<double>(utime) / tick, static_cast<double>(stime) / tick};
}

}  // namespace

int main(int argc, char** argv) {
  size_t count = 2000;
  std::vector<int> sender_counts = {4, 8, 16};
  std::string out = "bench/out/exchange.json";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--docs") count = std::stoul(argv[i + 1]);
    if (arg == "--senders") {
      sender_counts.clear();
      std::istringstream list(argv[i + 1]);
      for (std::string n; std::getline(list, n, ',');) sender_counts.push_back(std::stoi(n));
    }
    if (arg == "--out") out = argv[i + 1];
  }
  const fs::path dir =
      fs::temp_directory_path() / ("tessera-exchange-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir / "docs");
  auto ca_key = crypto::PrivateKey::Generate(crypto::KeyKind::kEcP256);
  crypto::CertificateRequest ca_req;
  ca_req.common_name = "bench CA";
  ca_req.ca = true;
  auto ca = crypto::IssueCertificate(ca_req, *ca_key, nullptr, *ca_key);
  Host center = MakeHost(dir, "center", *ca, *ca_key);
  Host a = MakeHost(dir, "a", *ca, *ca_key);
  Host b = MakeHost(dir, "b", *ca, *ca_key);

  Registry reg;
  reg.network = "bench";
  reg.serial = 1;
  reg.issued_at = NowUnixSeconds();
  reg.expires_at = reg.issued_at + 86400;
  reg.policy.max_message_bytes = uint64_t{200} << 20;
  reg.trust_anchors = {ca->Pem()};
  reg.centers = {{"center", "https://127.0.0.1:0", {"127.0.0.1"}, {center.cert.Pem()}}};
  reg.agencies = {
      {"A15060000H", "sender", "center", "", {a.cert.Pem()}, {"127.0.0.1"}, false, {}},
      {"376570000A", "recipient", "center", "", {b.cert.Pem()}, {"127.0.0.1"}, false, {}}};

  // The center runs in a child process, so that its CPU time and memory are its own.
  int ready[2];
  if (pipe(ready) != 0) return 1;
  const pid_t child = fork();
  if (child == 0) {
    close(ready[0]);
    CenterServerConfig config;
    config.center_id = "center";
    config.port = 0;
    config.dir = dir / "center";
    config.audit_dir = dir / "center-audit";
    config.certificate = center.cert_path;
    config.key = center.key_path;
    config.load_registry = [reg] { return Result<Registry>(reg); };
    auto server = CenterServer::Start(std::move(config));
    if (!server.ok()) {
      std::fprintf(stderr, "center: %s\n", server.status().ToString().c_str());
      _exit(1);
    }
    const uint16_t port = (*server)->port();
    if (write(ready[1], &port, sizeof port) != sizeof port) _exit(1);
    close(ready[1]);
    Status st = (*server)->Run(true);
    _exit(st.ok() ? 0 : 1);
  }
  close(ready[1]);
  uint16_t port = 0;
  if (read(ready[0], &port, sizeof port) != sizeof port) {
    std::fprintf(stderr, "the center did not start\n");
    return 1;
  }
  const std::string url = "https://127.0.0.1:" + std::to_string(port);
  ClientTls a_tls{a.cert_path, a.key_path, ca->Pem(), {center.cert}, false, ""};
  ClientTls b_tls{b.cert_path, b.key_path, ca->Pem(), {center.cert}, false, ""};

  std::printf("preparing %zu documents of 100 KB (signed by A, encrypted to B)...\n",
              count * sender_counts.size() + count / 2);
  const double seal_start = MonotonicSeconds();
  int serial = 0;
  auto prepare_batch = [&](size_t n) {
    std::vector<Prepared> batch;
    for (size_t i = 0; i < n; ++i)
      batch.push_back(Prepare(dir / "docs", a, b, 100 * 1024, serial++));
    return batch;
  };
  std::vector<std::vector<Prepared>> runs;
  for (size_t r = 0; r < sender_counts.size(); ++r) runs.push_back(prepare_batch(count));
  const double seal_ms =
      (MonotonicSeconds() - seal_start) * 1000 / static_cast<double>(count * sender_counts.size());
  std::vector<Prepared> paced = prepare_batch(count / 2);

  struct Measured {
    int senders = 0;
    RunResult run;
    double center_user_ms = 0, center_system_ms = 0, clients_ms = 0;  // CPU per document
  };
  std::vector<Measured> sweep;
  for (size_t r = 0; r < sender_counts.size(); ++r) {
    const CpuTime before = ProcessCpu(child);
    const CpuTime clients_before = ProcessCpu(::getpid());
    Measured m;
    m.senders = sender_counts[r];
    m.run = Run(runs[r], m.senders, 0, a_tls, b_tls, url, dir);
    const CpuTime after = ProcessCpu(child);
    const CpuTime clients_after = ProcessCpu(::getpid());
    // The senders and the recipient (libcurl over TLS) share the machine with the center.
    const double per_doc = 1000 / static_cast<double>(m.run.delivered);
    m.center_user_ms = (after.user - before.user) * per_doc;
    m.center_system_ms = (after.system - before.system) * per_doc;
    m.clients_ms =
        (clients_after.user + clients_after.system - clients_before.user - clients_before.system) *
        per_doc;
    std::printf(
        "%2d senders: %zu docs in %.2f s = %.0f docs/s; latency p50 %.1f ms, p99 %.1f ms; CPU "
        "per document: center %.2f ms (user %.2f, system %.2f), clients %.2f ms\n",
        m.senders, m.run.delivered, m.run.seconds, m.run.docs_per_second, m.run.p50_ms,
        m.run.p99_ms, m.center_user_ms + m.center_system_ms, m.center_user_ms, m.center_system_ms,
        m.clients_ms);
    sweep.push_back(m);
  }
  const Measured& best =
      *std::max_element(sweep.begin(), sweep.end(), [](const Measured& x, const Measured& y) {
        return x.run.docs_per_second < y.run.docs_per_second;
      });
  const RunResult& full = best.run;
  std::printf("throughput: %.0f docs/s (%d senders); latency p50 %.1f ms, p99 %.1f ms\n",
              full.docs_per_second, best.senders, full.p50_ms, full.p99_ms);
  const double half = full.docs_per_second / 2;
  RunResult at_half = Run(paced, best.senders, half, a_tls, b_tls, url, dir);
  std::printf("paced at %.0f docs/s: %.0f docs/s; latency p50 %.1f ms, p99 %.1f ms\n", half,
              at_half.docs_per_second, at_half.p50_ms, at_half.p99_ms);

  std::printf("preparing one 100 MB document...\n");
  std::vector<Prepared> large{Prepare(dir / "docs", a, b, size_t{100} << 20, 1 << 30)};
  const uint64_t large_bytes = fs::file_size(large[0].payload);
  RunResult big = Run(large, 1, 0, a_tls, b_tls, url, dir);
  const double mb_s = static_cast<double>(large_bytes) / (1 << 20) / big.seconds;
  std::printf("large: %.1f MB through the center in %.2f s = %.1f MB/s\n",
              static_cast<double>(large_bytes) / (1 << 20), big.seconds, mb_s);

  kill(child, SIGTERM);
  int status = 0;
  waitpid(child, &status, 0);
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  const double center_cpu =
      static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
      static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  const double center_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024;
  std::printf(
      "center: %.1f s CPU in all, peak RSS %.0f MiB; sealing cost %.2f ms per document (one "
      "core)\n",
      center_cpu, center_rss_mib, seal_ms);

  nlohmann::json by_senders = nlohmann::json::array();
  for (const Measured& m : sweep)
    by_senders.push_back({{"senders", m.senders},
                          {"docs_per_second", m.run.docs_per_second},
                          {"p50_ms", m.run.p50_ms},
                          {"p99_ms", m.run.p99_ms},
                          {"center_cpu_ms_per_document",
                           {{"user", m.center_user_ms},
                            {"system", m.center_system_ms},
                            {"total", m.center_user_ms + m.center_system_ms}}},
                          {"clients_cpu_ms_per_document", m.clients_ms}});
  nlohmann::json j = {
      {"documents", count},
      {"document_bytes", 100 * 1024},
      {"throughput",
       {{"docs_per_second", full.docs_per_second},
        {"senders", best.senders},
        {"p50_ms", full.p50_ms},
        {"p99_ms", full.p99_ms},
        {"by_senders", by_senders}}},
      {"paced",
       {{"target_docs_per_second", half},
        {"docs_per_second", at_half.docs_per_second},
        {"p50_ms", at_half.p50_ms},
        {"p99_ms", at_half.p99_ms}}},
      {"large", {{"bytes", large_bytes}, {"seconds", big.seconds}, {"mb_per_second", mb_s}}},
      {"center", {{"cpu_seconds", center_cpu}, {"peak_rss_mib", center_rss_mib}}},
      {"sealing_ms_per_document", seal_ms},
      {"targets", {{"docs_per_second", 500}, {"p99_ms_at_half_rate", 200}}}};
  fs::create_directories(fs::path(out).parent_path());
  std::ofstream(out) << j.dump(2) << "\n";
  std::printf("results written to %s\n", out.c_str());
  fs::remove_all(dir);
  return 0;
}
