// Search latency of the archive, measured inside one process (no start-up or open cost):
// runs each query of a file REPEAT times against an index, asking for the newest 50 as a
// result page does, and prints, as JSON, each query's median and slowest time, and every
// Message-ID it matches (for exactness checks).
//
//   archive_search_bench INDEX_DIR QUERIES_FILE [REPEAT]   (one query per line)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "archive/search_index.hpp"

using namespace tessera;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s INDEX_DIR QUERIES_FILE [REPEAT]\n", argv[0]);
    return 2;
  }
  const int repeat = argc > 3 ? std::max(1, std::atoi(argv[3])) : 20;
  auto index = archive::SearchIndex::OpenForReading(argv[1]);
  if (!index.ok()) {
    std::fprintf(stderr, "%s\n", index.status().ToString().c_str());
    return 1;
  }
  std::ifstream in(argv[2]);
  nlohmann::json out = nlohmann::json::array();
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto q = archive::ParseSearchQuery(line);
    if (!q.ok()) {
      std::fprintf(stderr, "%s: %s\n", line.c_str(), q.status().ToString().c_str());
      return 1;
    }
    q->limit = 50;
    std::vector<double> ms;
    archive::SearchResults last;
    for (int i = 0; i < repeat; ++i) {
      auto start = std::chrono::steady_clock::now();
      auto r = (*index)->Search(*q);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
      if (!r.ok()) {
        std::fprintf(stderr, "%s: %s\n", line.c_str(), r.status().ToString().c_str());
        return 1;
      }
      last = std::move(*r);
    }
    std::sort(ms.begin(), ms.end());
    q->limit = 10000000;
    if (auto all = (*index)->Search(*q); all.ok()) last = std::move(*all);
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& h : last.hits) ids.push_back(h.message_id);
    out.push_back({{"query", line},
                   {"median_ms", ms[ms.size() / 2]},
                   {"max_ms", ms.back()},
                   {"matches", last.matches},
                   {"message_ids", ids}});
  }
  std::cout << out.dump() << std::endl;
  return 0;
}
