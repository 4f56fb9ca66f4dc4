#include "vault/forget.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <set>

#include "vault/lock.hpp"

namespace tessera::vault {

namespace {

namespace chr = std::chrono;
constexpr int64_t kNanosPerHour = int64_t{3600} * 1000000000;
constexpr int64_t kNanosPerDay = 24 * kNanosPerHour;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

chr::sys_days DayOf(int64_t t_ns) {
  return chr::sys_days(chr::days(FloorDiv(t_ns, kNanosPerDay)));
}

int64_t HourBucket(int64_t t) {
  return FloorDiv(t, kNanosPerHour);
}
int64_t DayBucket(int64_t t) {
  return FloorDiv(t, kNanosPerDay);
}
// ISO 8601 week: weeks start on Monday and belong to the year of their Thursday, so the
// last days of December can be week 1 of the next year.
int64_t WeekBucket(int64_t t) {
  chr::sys_days d = DayOf(t);
  unsigned iso_weekday = chr::weekday(d).iso_encoding();  // Monday 1 .. Sunday 7
  chr::sys_days thursday = d - chr::days(iso_weekday - 1) + chr::days(3);
  chr::year y = chr::year_month_day(thursday).year();
  chr::sys_days jan1 = chr::sys_days(y / chr::January / 1);
  int64_t week = (thursday - jan1).count() / 7 + 1;
  return static_cast<int64_t>(static_cast<int>(y)) * 100 + week;
}
int64_t MonthBucket(int64_t t) {
  chr::year_month_day ymd(DayOf(t));
  return static_cast<int64_t>(static_cast<int>(ymd.year())) * 12 +
         static_cast<unsigned>(ymd.month()) - 1;
}
int64_t YearBucket(int64_t t) {
  return static_cast<int>(chr::year_month_day(DayOf(t)).year());
}

struct GroupKey {
  std::string hostname;
  std::vector<std::string> paths;
  bool operator<(const GroupKey& o) const {
    return hostname != o.hostname ? hostname < o.hostname : paths < o.paths;
  }
};

GroupKey KeyOf(const Snapshot& s) {
  GroupKey k{s.hostname, s.paths};
  std::sort(k.paths.begin(), k.paths.end());
  return k;
}

bool OlderFirst(const Snapshot& a, const Snapshot& b) {
  return a.time_ns != b.time_ns ? a.time_ns < b.time_ns : a.id < b.id;
}

// Splits `snapshots` into groups and fills the result from a keep decision per snapshot.
PolicyResult Assemble(const std::vector<Snapshot>& snapshots,
                      const std::function<bool(const Snapshot&)>& kept,
                      std::map<std::string, std::vector<std::string>> reasons) {
  std::map<GroupKey, SnapshotGroup> groups;
  PolicyResult r;
  std::vector<Snapshot> sorted = snapshots;
  std::sort(sorted.begin(), sorted.end(), OlderFirst);
  for (const Snapshot& s : sorted) {
    GroupKey key = KeyOf(s);
    SnapshotGroup& g = groups[key];
    g.hostname = key.hostname;
    g.paths = key.paths;
    if (kept(s)) {
      g.keep.push_back(s);
      r.keep.push_back(s);
    } else {
      g.remove.push_back(s);
      r.remove.push_back(s);
    }
  }
  for (auto& [key, g] : groups) r.groups.push_back(std::move(g));
  r.reasons = std::move(reasons);
  return r;
}

// The group's snapshots, newest first: the calendar rules keep the newest of each bucket.
void ApplyToGroup(std::vector<const Snapshot*> group, const RetentionPolicy& p, int64_t now_ns,
                  std::map<std::string, std::vector<std::string>>& reasons,
                  std::map<std::string, bool>& keep) {
  std::sort(group.begin(), group.end(),
            [](const Snapshot* a, const Snapshot* b) { return OlderFirst(*b, *a); });
  struct Bucket {
    int count;
    const char* reason;
    std::function<int64_t(int64_t, int64_t)> of;  // (time, position) -> bucket
    std::optional<int64_t> last = std::nullopt;
  };
  Bucket buckets[] = {
      {p.last, "last snapshot", [](int64_t, int64_t pos) { return pos; }},
      {p.hourly, "hourly snapshot", [](int64_t t, int64_t) { return HourBucket(t); }},
      {p.daily, "daily snapshot", [](int64_t t, int64_t) { return DayBucket(t); }},
      {p.weekly, "weekly snapshot", [](int64_t t, int64_t) { return WeekBucket(t); }},
      {p.monthly, "monthly snapshot", [](int64_t t, int64_t) { return MonthBucket(t); }},
      {p.yearly, "yearly snapshot", [](int64_t t, int64_t) { return YearBucket(t); }},
  };
  std::optional<int64_t> cutoff;
  if (!p.within.zero() && !group.empty())
    cutoff = SubtractSpan(std::min(group.front()->time_ns, now_ns), p.within);
  int64_t pos = 0;
  for (const Snapshot* s : group) {
    std::vector<std::string>& why = reasons[s->id];
    for (const std::string& tag : p.tags)
      if (std::find(s->tags.begin(), s->tags.end(), tag) != s->tags.end())
        why.push_back("tagged '" + tag + "'");
    if (cutoff && s->time_ns >= *cutoff)
      why.push_back("within " + p.within.ToString() + " of the newest");
    for (Bucket& b : buckets) {
      if (b.count == 0) continue;
      int64_t v = b.of(s->time_ns, pos);
      if (b.last && *b.last == v) continue;
      b.last = v;
      if (b.count > 0) --b.count;
      why.push_back(b.reason);
    }
    keep[s->id] = !why.empty();
    if (why.empty()) why.push_back("not kept by any rule");
    ++pos;
  }
}

}  // namespace

std::string RetentionSpan::ToString() const {
  std::string out;
  if (years) out += std::to_string(years) + "y";
  if (months) out += std::to_string(months) + "m";
  if (days) out += std::to_string(days) + "d";
  if (hours) out += std::to_string(hours) + "h";
  return out.empty() ? "0h" : out;
}

Result<RetentionSpan> ParseRetentionSpan(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a duration like 30d, 12h or 1y2m (units y, m, d, h)");
  };
  RetentionSpan span;
  if (text.empty()) return bad();
  size_t i = 0;
  while (i < text.size()) {
    int64_t v = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      v = v * 10 + (text[i] - '0');
      if (v > 1000000) return bad();
      ++i;
      ++digits;
    }
    if (digits == 0 || i == text.size()) return bad();
    int n = static_cast<int>(v);
    switch (text[i++]) {
      case 'y':
        span.years += n;
        break;
      case 'm':
        span.months += n;
        break;
      case 'd':
        span.days += n;
        break;
      case 'h':
        span.hours += n;
        break;
      default:
        return bad();
    }
  }
  return span;
}

int64_t SubtractSpan(int64_t t_ns, const RetentionSpan& span) {
  chr::sys_days day = DayOf(t_ns);
  int64_t time_of_day = t_ns - int64_t{day.time_since_epoch().count()} * kNanosPerDay;
  chr::year_month_day ymd(day);
  // Month arithmetic on a zero-based month count, then the day added back from the 1st,
  // so that a day beyond the month's end rolls over as Go's AddDate does.
  int64_t months = static_cast<int64_t>(static_cast<int>(ymd.year())) * 12 +
                   (static_cast<unsigned>(ymd.month()) - 1) - int64_t{span.years} * 12 -
                   span.months;
  int y = static_cast<int>(FloorDiv(months, 12));
  unsigned m = static_cast<unsigned>(months - int64_t{y} * 12) + 1;
  chr::sys_days first = chr::sys_days(chr::year(y) / chr::month(m) / 1);
  chr::sys_days result =
      first + chr::days(static_cast<unsigned>(ymd.day()) - 1) - chr::days(span.days);
  return int64_t{result.time_since_epoch().count()} * kNanosPerDay + time_of_day -
         int64_t{span.hours} * kNanosPerHour;
}

bool RetentionPolicy::Empty() const {
  return last == 0 && hourly == 0 && daily == 0 && weekly == 0 && monthly == 0 && yearly == 0 &&
         within.zero() && tags.empty();
}

Result<PolicyResult> ApplyPolicy(const std::vector<Snapshot>& snapshots,
                                 const RetentionPolicy& policy, int64_t now_ns) {
  if (policy.Empty())
    return Status::InvalidArgument(
        "no retention rule given: it would forget every snapshot. Give --keep-last, "
        "--keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, "
        "--keep-within or --keep-tag, or name the snapshots to forget");
  for (int c :
       {policy.last, policy.hourly, policy.daily, policy.weekly, policy.monthly, policy.yearly})
    if (c < -1)
      return Status::InvalidArgument("a --keep count must be positive, or -1 for unlimited");
  std::map<GroupKey, std::vector<const Snapshot*>> groups;
  for (const Snapshot& s : snapshots) groups[KeyOf(s)].push_back(&s);
  std::map<std::string, std::vector<std::string>> reasons;
  std::map<std::string, bool> keep;
  for (auto& [key, group] : groups) ApplyToGroup(group, policy, now_ns, reasons, keep);
  return Assemble(
      snapshots, [&](const Snapshot& s) { return keep[s.id]; }, std::move(reasons));
}

Result<ForgetResult> Forget(Repository& repo, const ForgetOptions& options, int64_t now_ns) {
  if (!options.ids.empty() && !options.policy.Empty())
    return Status::InvalidArgument("give snapshot ids or a retention policy, not both");
  std::unique_ptr<VaultLock> lock;
  if (!options.dry_run) {
    TESSERA_ASSIGN_OR_RETURN(lock, VaultLock::Acquire(repo, false, "forget"));
  }
  TESSERA_ASSIGN_OR_RETURN(std::vector<Snapshot> all, repo.ListSnapshots());
  ForgetResult result;
  result.dry_run = options.dry_run;
  if (options.ids.empty()) {
    TESSERA_ASSIGN_OR_RETURN(result.plan, ApplyPolicy(all, options.policy, now_ns));
  } else {
    std::map<std::string, std::vector<std::string>> reasons;
    for (const std::string& ref : options.ids) {
      const Snapshot* found = nullptr;
      if (ref == "latest" && !all.empty()) {
        found = &all.back();
      } else if (ref.size() >= 4) {
        for (const Snapshot& s : all) {
          if (s.id.compare(0, ref.size(), ref) != 0) continue;
          if (found) return Status::InvalidArgument("snapshot id '" + ref + "' is ambiguous");
          found = &s;
        }
      } else {
        return Status::InvalidArgument("snapshot id '" + ref +
                                       "' is too short (4 digits at least)");
      }
      if (!found)
        return Status::InvalidArgument("no snapshot '" + ref +
                                       "' (see `tessera vault snapshots`); nothing was forgotten");
      reasons[found->id] = {"named on the command line"};
    }
    std::set<std::string> named;
    for (auto& [id, why] : reasons) named.insert(id);
    result.plan = Assemble(
        all, [&](const Snapshot& s) { return !named.count(s.id); }, std::move(reasons));
  }
  if (options.dry_run) return result;
  // Deleted in parallel: each is one request per store.
  std::vector<std::future<Status>> deletes;
  for (const Snapshot& s : result.plan.remove)
    deletes.push_back(repo.cpu().Submit(
        [&repo, name = "snapshots/" + s.id] { return repo.objects().Delete(name); }));
  Status first;
  for (auto& d : deletes) {
    Status st = d.get();
    if (st.ok())
      ++result.removed;
    else if (first.ok())
      first = st;
  }
  if (!first.ok())
    return first.WithContext("forgot " + std::to_string(result.removed) + " of " +
                             std::to_string(result.plan.remove.size()) + " snapshots");
  return result;  // the lock is released on return; a failure to release only delays others
}

}  // namespace tessera::vault
