#include "auth/policy_engine.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "common/crypto.h"

namespace porthole::auth {
namespace {

using json = nlohmann::json;

// ---- Error types and messages ------------------------------------------------------------------
// The strings IAM answers with, where IAM has one (AWS IAM API reference,
// CreatePolicy / PutRolePolicy errors); ours follow the same style.

constexpr char kMalformed[] = "MalformedPolicyDocument";
constexpr char kLimitExceeded[] = "LimitExceeded";
constexpr char kSyntaxErrors[] = "Syntax errors in policy.";
constexpr char kLegacyParsing[] = "The policy failed legacy parsing";
constexpr char kNoPrincipalAllowed[] = "Policy document should not specify a principal.";
constexpr char kNeedsVendor[] = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
constexpr char kSidNotAlnum[] =
    "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*";
constexpr char kSidNotUnique[] = "Statement IDs (SID) in a single policy must be unique.";
constexpr char kNoActions[] = "Policy statement must contain actions.";
constexpr char kNoResources[] = "Policy statement must contain resources.";

constexpr char kVersion2012[] = "2012-10-17";
constexpr char kVersion2008[] = "2008-10-17";

// Deeper than any valid policy (Statement > Condition > operator > key > array).
constexpr int kMaxJsonDepth = 32;

Error Malformed(std::string message) { return MakeError(kMalformed, std::move(message), 400); }
Error Syntax(std::string_view detail) { return Malformed(std::string(kSyntaxErrors) + " " + std::string(detail)); }

// ---- Text helpers ------------------------------------------------------------------------------

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = LowerAscii(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

bool EndsWithIgnoreCase(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && EqualsIgnoreCase(s.substr(s.size() - suffix.size()), suffix);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// Index of the next UTF-8 character after the one starting at `i`.
size_t NextChar(std::string_view s, size_t i) {
  ++i;
  while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
  return i;
}

// Characters IAM counts towards the size quota: all but white space outside strings.
size_t CountPolicyChars(std::string_view text) {
  size_t n = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) == 0x80) continue;  // UTF-8 continuation byte
    if (in_string) {
      ++n;
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    if (c == '"') in_string = true;
    ++n;
  }
  return n;
}

// ---- Request keys (rule 3: names are case-insensitive) -----------------------------------------

class KeyIndex {
 public:
  explicit KeyIndex(const std::map<std::string, std::vector<std::string>>& keys) {
    for (const auto& [name, values] : keys) index_.emplace(Lower(name), &values);
  }
  // The values of `name`, or nullptr when it is absent or has no values.
  const std::vector<std::string>* Find(std::string_view name) const {
    auto it = index_.find(Lower(name));
    if (it == index_.end() || it->second->empty()) return nullptr;
    return it->second;
  }

 private:
  std::map<std::string, const std::vector<std::string>*, std::less<>> index_;
};

// ---- Wildcard patterns (rule 2) ----------------------------------------------------------------

// A string in which some '*' and '?' are wildcards. Characters that came from
// a policy variable's value, or from ${*} / ${?}, are literal.
struct Pattern {
  std::string text;
  std::vector<uint8_t> wild;  // wild[i] != 0: text[i] is a wildcard

  void AppendWild(std::string_view s) {
    for (char c : s) {
      text += c;
      wild.push_back(c == '*' || c == '?');
    }
  }
  void AppendLiteral(std::string_view s) {
    text += s;
    wild.insert(wild.end(), s.size(), 0);
  }
};

struct PatternView {
  std::string_view text;
  const uint8_t* wild;

  explicit PatternView(const Pattern& p) : text(p.text), wild(p.wild.data()) {}
  PatternView(std::string_view t, const uint8_t* w) : text(t), wild(w) {}
  size_t size() const { return text.size(); }
  bool IsStar(size_t i) const { return wild[i] && text[i] == '*'; }
  bool IsQuestion(size_t i) const { return wild[i] && text[i] == '?'; }
  PatternView Sub(size_t pos, size_t n = std::string_view::npos) const {
    return PatternView(text.substr(pos, n), wild + pos);
  }
};

// '*' matches any run of characters (none included), '?' exactly one.
// Iterative with single-star backtracking: O(|pattern| * |s|), no recursion.
bool GlobMatch(PatternView p, std::string_view s, bool ignore_case) {
  constexpr size_t kNone = std::string_view::npos;
  size_t pi = 0, si = 0;
  size_t star = kNone, resume = 0;
  while (si < s.size()) {
    if (pi < p.size() && p.IsStar(pi)) {
      star = pi++;
      resume = si;
      continue;
    }
    if (pi < p.size() && p.IsQuestion(pi)) {
      ++pi;
      si = NextChar(s, si);
      continue;
    }
    if (pi < p.size() && !p.wild[pi] &&
        (ignore_case ? LowerAscii(p.text[pi]) == LowerAscii(s[si]) : p.text[pi] == s[si])) {
      ++pi;
      ++si;
      continue;
    }
    if (star == kNone) return false;
    pi = star + 1;
    resume = NextChar(s, resume);
    si = resume;
  }
  while (pi < p.size() && p.IsStar(pi)) ++pi;
  return pi == p.size();
}

// Splits at the first five ':' into arn, partition, service, region, account
// and resource; false when there are fewer than five.
template <typename Fn>
bool SplitArnFields(std::string_view s, Fn&& on_field) {
  size_t start = 0;
  for (int field = 0; field < 5; ++field) {
    size_t colon = s.find(':', start);
    if (colon == std::string_view::npos) return false;
    on_field(field, start, colon - start);
    start = colon + 1;
  }
  on_field(5, start, s.size() - start);
  return true;
}

// Rule 2 (Resource) and rule 3 (ArnEquals/ArnLike): a lone '*' matches
// anything; otherwise each of the first five fields is globbed on its own and
// the resource part is globbed whole (there '*' spans ':' and '/').
bool ArnMatch(PatternView p, std::string_view value) {
  if (p.size() == 1 && p.IsStar(0)) return true;
  std::array<std::pair<size_t, size_t>, 6> pf{}, vf{};
  if (!SplitArnFields(p.text, [&](int i, size_t pos, size_t n) { pf[i] = {pos, n}; })) return false;
  if (!SplitArnFields(value, [&](int i, size_t pos, size_t n) { vf[i] = {pos, n}; })) return false;
  for (size_t i = 0; i < 6; ++i) {
    if (!GlobMatch(p.Sub(pf[i].first, pf[i].second), value.substr(vf[i].first, vf[i].second), false)) return false;
  }
  return true;
}

// ---- Policy variables (rule 5) -----------------------------------------------------------------

// "'text'" with '' standing for one quote.
std::optional<std::string> ParseQuotedDefault(std::string_view s) {
  if (s.size() < 2 || s.front() != '\'' || s.back() != '\'') return std::nullopt;
  s = s.substr(1, s.size() - 2);
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\'') {
      if (i + 1 >= s.size() || s[i + 1] != '\'') return std::nullopt;
      ++i;
    }
    out += s[i];
  }
  return out;
}

// The body of "${...}": a key, optionally ", 'default'", or one of * ? $.
std::optional<std::string> ResolveVariable(std::string_view body, const KeyIndex& keys) {
  body = Trim(body);
  if (body == "*" || body == "?" || body == "$") return std::string(body);
  size_t comma = body.find(',');
  std::string_view key = Trim(body.substr(0, comma));
  if (key.empty()) return std::nullopt;
  if (const auto* values = keys.Find(key); values != nullptr && values->size() == 1) return values->front();
  if (comma != std::string_view::npos) return ParseQuotedDefault(Trim(body.substr(comma + 1)));
  return std::nullopt;
}

// `raw` as a pattern: with `variables`, "${...}" are replaced (one round; the
// replacement is literal). nullopt when a variable cannot be resolved.
std::optional<Pattern> Expand(std::string_view raw, bool variables, const KeyIndex& keys) {
  Pattern out;
  if (!variables) {
    out.AppendWild(raw);
    return out;
  }
  size_t i = 0;
  while (i < raw.size()) {
    size_t start = raw.find("${", i);
    // The closing '}' is the first one outside a quoted default value.
    size_t end = std::string_view::npos;
    if (start != std::string_view::npos) {
      bool quoted = false;
      for (size_t j = start + 2; j < raw.size(); ++j) {
        if (raw[j] == '\'') quoted = !quoted;
        if (raw[j] == '}' && !quoted) {
          end = j;
          break;
        }
      }
    }
    if (end == std::string_view::npos) {  // no (complete) variable left: the rest is plain text
      out.AppendWild(raw.substr(i));
      break;
    }
    out.AppendWild(raw.substr(i, start - i));
    std::optional<std::string> value = ResolveVariable(raw.substr(start + 2, end - start - 2), keys);
    if (!value) return std::nullopt;
    out.AppendLiteral(*value);
    i = end + 1;
  }
  return out;
}

// ---- Typed condition values --------------------------------------------------------------------

// -?digits(.digits)?
std::optional<double> ParseNumber(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  size_t digits = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i == digits) return std::nullopt;
  if (i < s.size() && s[i] == '.') {
    size_t fraction = ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == fraction) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

int64_t DaysFromCivil(int64_t y, int m, int d) {  // H. Hinnant's algorithm
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// Milliseconds since the epoch, from epoch seconds ("1700000000") or ISO 8601:
// YYYY-MM-DD[Thh:mm[:ss[.fff]][Z|+hh:mm|-hh:mm|+hhmm|-hhmm]] (no zone: UTC).
std::optional<int64_t> ParseDateMillis(std::string_view s) {
  if (s.empty()) return std::nullopt;
  {
    size_t i = s[0] == '-' ? 1 : 0;
    if (i < s.size() && s.size() - i <= 12 && std::all_of(s.begin() + i, s.end(), IsDigit)) {
      int64_t seconds = 0;
      std::from_chars(s.data(), s.data() + s.size(), seconds);
      return seconds * 1000;
    }
  }
  size_t i = 0;
  auto digits = [&](int n, int& out) {
    if (i + n > s.size()) return false;
    out = 0;
    for (int k = 0; k < n; ++k) {
      if (!IsDigit(s[i + k])) return false;
      out = out * 10 + (s[i + k] - '0');
    }
    i += n;
    return true;
  };
  auto literal = [&](char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, offset_minutes = 0;
  int64_t millis = 0;
  if (!digits(4, year) || !literal('-') || !digits(2, month) || !literal('-') || !digits(2, day)) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return std::nullopt;
  if (i < s.size()) {
    if (!literal('T') && !literal('t')) return std::nullopt;
    if (!digits(2, hour) || !literal(':') || !digits(2, minute)) return std::nullopt;
    if (literal(':')) {
      if (!digits(2, second)) return std::nullopt;
      if (literal('.')) {
        size_t start = i;
        int kept = 0;
        for (; i < s.size() && IsDigit(s[i]); ++i) {
          if (kept < 3) {
            millis = millis * 10 + (s[i] - '0');
            ++kept;
          }
        }
        if (i == start) return std::nullopt;
        for (; kept < 3; ++kept) millis *= 10;
      }
    }
    if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
    if (literal('Z') || literal('z')) {
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      int sign = s[i] == '-' ? -1 : 1;
      ++i;
      int oh = 0, om = 0;
      if (!digits(2, oh)) return std::nullopt;
      literal(':');
      if (!digits(2, om) || oh > 23 || om > 59) return std::nullopt;
      offset_minutes = sign * (oh * 60 + om);
    }
  }
  if (i != s.size()) return std::nullopt;
  int64_t seconds = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return seconds * 1000 + millis;
}

struct IpRange {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};
  int prefix = 0;  // leading bits that must match
};

// "a.b.c.d", IPv6 text, optionally with "/prefix" when `allow_prefix`.
std::optional<IpRange> ParseIp(std::string_view s, bool allow_prefix) {
  int prefix = -1;
  if (size_t slash = s.find('/'); slash != std::string_view::npos) {
    std::string_view bits = s.substr(slash + 1);
    if (!allow_prefix || bits.empty() || bits.size() > 3 || !std::all_of(bits.begin(), bits.end(), IsDigit)) {
      return std::nullopt;
    }
    std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
    s = s.substr(0, slash);
  }
  IpRange range;
  const std::string address(s);  // inet_pton wants a NUL-terminated string
  if (address.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, address.c_str(), range.bytes.data()) != 1) return std::nullopt;
  } else {
    if (inet_pton(AF_INET6, address.c_str(), range.bytes.data()) != 1) return std::nullopt;
    range.v6 = true;
  }
  const int max_bits = range.v6 ? 128 : 32;
  if (prefix > max_bits) return std::nullopt;
  range.prefix = prefix < 0 ? max_bits : prefix;
  return range;
}

// A request address "::ffff:a.b.c.d" is the IPv4 address a.b.c.d.
IpRange UnmapIpv4(IpRange a) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (a.v6 && std::memcmp(a.bytes.data(), kMapped, sizeof kMapped) == 0) {
    IpRange v4;
    std::copy(a.bytes.begin() + 12, a.bytes.end(), v4.bytes.begin());
    v4.prefix = 32;
    return v4;
  }
  return a;
}

bool IpInRange(const IpRange& range, const IpRange& address) {
  if (range.v6 != address.v6) return false;
  const int whole = range.prefix / 8;
  if (std::memcmp(range.bytes.data(), address.bytes.data(), whole) != 0) return false;
  const int rest = range.prefix % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (range.bytes[whole] & mask) == (address.bytes[whole] & mask);
}

// ---- Condition operators (rules 3 and 4) -------------------------------------------------------

enum class Family { kString, kStringIgnoreCase, kStringLike, kNumeric, kDate, kBool, kBinary, kIp, kArn, kNull };
enum class Compare { kEq, kLt, kLe, kGt, kGe };
enum class SetOp { kNone, kForAnyValue, kForAllValues };

struct OperatorInfo {
  std::string_view name;
  Family family;
  Compare compare;
  bool negated;  // true when the key is absent; otherwise "matches none of the values"
};

// AWS IAM User Guide, "IAM JSON policy elements: Condition operators".
constexpr OperatorInfo kOperators[] = {
    {"StringEquals", Family::kString, Compare::kEq, false},
    {"StringNotEquals", Family::kString, Compare::kEq, true},
    {"StringEqualsIgnoreCase", Family::kStringIgnoreCase, Compare::kEq, false},
    {"StringNotEqualsIgnoreCase", Family::kStringIgnoreCase, Compare::kEq, true},
    {"StringLike", Family::kStringLike, Compare::kEq, false},
    {"StringNotLike", Family::kStringLike, Compare::kEq, true},
    {"NumericEquals", Family::kNumeric, Compare::kEq, false},
    {"NumericNotEquals", Family::kNumeric, Compare::kEq, true},
    {"NumericLessThan", Family::kNumeric, Compare::kLt, false},
    {"NumericLessThanEquals", Family::kNumeric, Compare::kLe, false},
    {"NumericGreaterThan", Family::kNumeric, Compare::kGt, false},
    {"NumericGreaterThanEquals", Family::kNumeric, Compare::kGe, false},
    {"DateEquals", Family::kDate, Compare::kEq, false},
    {"DateNotEquals", Family::kDate, Compare::kEq, true},
    {"DateLessThan", Family::kDate, Compare::kLt, false},
    {"DateLessThanEquals", Family::kDate, Compare::kLe, false},
    {"DateGreaterThan", Family::kDate, Compare::kGt, false},
    {"DateGreaterThanEquals", Family::kDate, Compare::kGe, false},
    {"Bool", Family::kBool, Compare::kEq, false},
    {"BinaryEquals", Family::kBinary, Compare::kEq, false},
    {"IpAddress", Family::kIp, Compare::kEq, false},
    {"NotIpAddress", Family::kIp, Compare::kEq, true},
    {"ArnEquals", Family::kArn, Compare::kEq, false},
    {"ArnLike", Family::kArn, Compare::kEq, false},
    {"ArnNotEquals", Family::kArn, Compare::kEq, true},
    {"ArnNotLike", Family::kArn, Compare::kEq, true},
    {"Null", Family::kNull, Compare::kEq, false},
};

template <typename T>
bool Compares(Compare op, const T& request, const T& policy) {
  switch (op) {
    case Compare::kEq:
      return request == policy;
    case Compare::kLt:
      return request < policy;
    case Compare::kLe:
      return request <= policy;
    case Compare::kGt:
      return request > policy;
    case Compare::kGe:
      return request >= policy;
  }
  return false;
}

struct ConditionValue {
  std::string text;  // as written; JSON numbers and booleans in their JSON spelling
  double number = 0;
  int64_t millis = 0;
  bool boolean = false;
  std::string bytes;
  IpRange ip;
};

struct ConditionClause {
  const OperatorInfo* op = nullptr;
  SetOp set = SetOp::kNone;
  bool if_exists = false;
  std::string key;
  std::vector<ConditionValue> values;
};

struct PrincipalSpec {
  bool present = false;
  bool negated = false;                                      // NotPrincipal
  bool any = false;                                          // "Principal": "*"
  std::vector<std::pair<std::string, std::string>> entries;  // {"AWS", "arn:..."}
};

struct Statement {
  std::string sid;
  bool allow = false;
  bool not_action = false;
  std::vector<std::string> actions;
  bool has_resource = false;  // false only in trust policies
  bool not_resource = false;
  std::vector<std::string> resources;
  PrincipalSpec principal;
  std::vector<ConditionClause> conditions;
};

}  // namespace

struct Policy::Rep {
  PolicyKind kind = PolicyKind::kIdentity;
  std::string version;
  bool variables = false;  // Version 2012-10-17
  std::vector<Statement> statements;
};

struct PolicyAccess {
  static Policy Make(std::shared_ptr<const Policy::Rep> rep) { return Policy(std::move(rep)); }
  static const Policy::Rep& Get(const Policy& policy) { return *policy.rep_; }
};

PolicyKind Policy::kind() const { return rep_->kind; }
const std::string& Policy::version() const { return rep_->version; }
size_t Policy::statement_count() const { return rep_->statements.size(); }

namespace {

// ---- Parsing -----------------------------------------------------------------------------------

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A string, or a non-empty array of strings.
std::optional<std::vector<std::string>> StringOrStrings(const json& j) {
  std::vector<std::string> out;
  if (j.is_string()) {
    out.push_back(j.get<std::string>());
    return out;
  }
  if (!j.is_array() || j.empty()) return std::nullopt;
  for (const json& item : j) {
    if (!item.is_string()) return std::nullopt;
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::optional<std::pair<const OperatorInfo*, std::pair<SetOp, bool>>> ParseOperatorName(std::string_view name) {
  SetOp set = SetOp::kNone;
  if (StartsWithIgnoreCase(name, "ForAnyValue:")) {
    set = SetOp::kForAnyValue;
    name.remove_prefix(std::string_view("ForAnyValue:").size());
  } else if (StartsWithIgnoreCase(name, "ForAllValues:")) {
    set = SetOp::kForAllValues;
    name.remove_prefix(std::string_view("ForAllValues:").size());
  }
  bool if_exists = false;
  if (EndsWithIgnoreCase(name, "IfExists")) {
    if_exists = true;
    name.remove_suffix(std::string_view("IfExists").size());
  }
  for (const OperatorInfo& op : kOperators) {
    if (!EqualsIgnoreCase(op.name, name)) continue;
    if (op.family == Family::kNull && (if_exists || set != SetOp::kNone)) return std::nullopt;
    return std::make_pair(&op, std::make_pair(set, if_exists));
  }
  return std::nullopt;
}

// Checks and pre-parses one condition value for `op`.
Status ParseConditionValue(const OperatorInfo& op, std::string_view operator_name, ConditionValue& value) {
  auto invalid = [&](std::string_view why) {
    return Malformed("Invalid value " + Quoted(value.text) + " for condition " + std::string(operator_name) + ": " +
                     std::string(why) + ".");
  };
  switch (op.family) {
    case Family::kNumeric: {
      auto number = ParseNumber(value.text);
      if (!number) return invalid("not a number");
      value.number = *number;
      break;
    }
    case Family::kDate: {
      auto millis = ParseDateMillis(value.text);
      if (!millis) return invalid("not an ISO 8601 date or epoch seconds");
      value.millis = *millis;
      break;
    }
    case Family::kBool:
    case Family::kNull:
      if (EqualsIgnoreCase(value.text, "true")) {
        value.boolean = true;
      } else if (EqualsIgnoreCase(value.text, "false")) {
        value.boolean = false;
      } else {
        return invalid("must be true or false");
      }
      break;
    case Family::kBinary: {
      auto bytes = crypto::Base64Decode(value.text);
      if (!bytes || value.text.empty()) return invalid("not base64");
      value.bytes = std::move(*bytes);
      break;
    }
    case Family::kIp: {
      auto ip = ParseIp(value.text, /*allow_prefix=*/true);
      if (!ip) return invalid("not an IPv4 or IPv6 address or CIDR block");
      value.ip = *ip;
      break;
    }
    case Family::kString:
    case Family::kStringIgnoreCase:
    case Family::kStringLike:
    case Family::kArn:
      break;
  }
  return OkStatus();
}

Result<std::vector<ConditionClause>> ParseCondition(const json& block) {
  if (!block.is_object()) return Syntax("Condition must be an object.");
  std::vector<ConditionClause> clauses;
  for (const auto& [operator_name, keys] : block.items()) {
    auto parsed = ParseOperatorName(operator_name);
    if (!parsed) return Malformed("Invalid Condition type : " + operator_name);
    if (!keys.is_object() || keys.empty()) {
      return Syntax("Condition " + operator_name + " must map condition keys to values.");
    }
    for (const auto& [key, raw_values] : keys.items()) {
      size_t colon = key.find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == key.size()) return Malformed(kNeedsVendor);
      ConditionClause clause;
      clause.op = parsed->first;
      clause.set = parsed->second.first;
      clause.if_exists = parsed->second.second;
      clause.key = key;
      std::vector<const json*> items;
      if (raw_values.is_array()) {
        for (const json& item : raw_values) items.push_back(&item);
      } else {
        items.push_back(&raw_values);
      }
      if (items.empty()) return Syntax("Condition " + operator_name + " has no values for " + key + ".");
      for (const json* item : items) {
        ConditionValue value;
        if (item->is_string()) {
          value.text = item->get<std::string>();
        } else if (item->is_number() || item->is_boolean()) {
          value.text = item->dump();
        } else {
          return Syntax("Condition values for " + operator_name + " " + key + " must be strings, numbers or booleans.");
        }
        if (Status s = ParseConditionValue(*clause.op, operator_name, value); !s.ok()) return s.error();
        clause.values.push_back(std::move(value));
      }
      clauses.push_back(std::move(clause));
    }
  }
  return clauses;
}

bool IsAccountId(std::string_view s) { return s.size() == 12 && std::all_of(s.begin(), s.end(), IsDigit); }

Result<PrincipalSpec> ParsePrincipal(const json& j, bool negated) {
  PrincipalSpec spec;
  spec.present = true;
  spec.negated = negated;
  if (j.is_string()) {
    if (j.get<std::string>() != "*") return Malformed("Invalid principal in policy: " + j.dump());
    spec.any = true;
    return spec;
  }
  if (!j.is_object() || j.empty()) return Malformed("Invalid principal in policy: " + j.dump());
  for (const auto& [type, raw] : j.items()) {
    if (type != "AWS" && type != "Service" && type != "Federated" && type != "CanonicalUser") {
      return Malformed("Invalid principal in policy: " + Quoted(type));
    }
    auto values = StringOrStrings(raw);
    if (!values) return Malformed("Invalid principal in policy: " + Quoted(type) + ":" + raw.dump());
    for (const std::string& value : *values) {
      bool ok = !value.empty();
      if (type == "AWS") ok = value == "*" || IsAccountId(value) || value.rfind("arn:", 0) == 0;
      if (!ok) return Malformed("Invalid principal in policy: " + Quoted(type) + ":" + Quoted(value));
      spec.entries.emplace_back(type, value);
    }
  }
  return spec;
}

bool IsAlphanumeric(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsDigit(c) || (LowerAscii(c) >= 'a' && LowerAscii(c) <= 'z'); });
}

// "*", or text in ARN format: "arn:" and at least six ':'-separated fields.
bool IsResourceFormat(std::string_view s) {
  return s == "*" || (s.rfind("arn:", 0) == 0 && std::count(s.begin(), s.end(), ':') >= 5);
}

Result<Statement> ParseStatement(const json& j, PolicyKind kind) {
  if (!j.is_object()) return Syntax("Each Statement must be an object.");
  static const std::set<std::string, std::less<>> kElements = {
      "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"};
  for (const auto& [name, value] : j.items()) {
    if (!kElements.count(name)) return Syntax("Unknown field " + Quoted(name) + " in Statement.");
  }
  Statement st;

  if (auto it = j.find("Sid"); it != j.end()) {
    if (!it->is_string()) return Syntax("Sid must be a string.");
    st.sid = it->get<std::string>();
    if (kind != PolicyKind::kResource && !IsAlphanumeric(st.sid)) return Malformed(kSidNotAlnum);
  }

  auto effect = j.find("Effect");
  if (effect == j.end()) return Malformed("Missing required field Effect");
  if (!effect->is_string()) return Malformed("Invalid effect: " + effect->dump());
  if (*effect == "Allow") {
    st.allow = true;
  } else if (*effect != "Deny") {
    return Malformed("Invalid effect: " + effect->get<std::string>());
  }

  // Principal / NotPrincipal.
  auto principal = j.find("Principal");
  auto not_principal = j.find("NotPrincipal");
  if (kind == PolicyKind::kIdentity) {
    if (principal != j.end() || not_principal != j.end()) return Malformed(kNoPrincipalAllowed);
  } else {
    if (principal != j.end() && not_principal != j.end()) {
      return Syntax("Statement cannot contain both Principal and NotPrincipal.");
    }
    if (principal == j.end() && not_principal == j.end()) return Malformed("Missing required field Principal");
    bool negated = principal == j.end();
    // NotPrincipal with Allow grants everyone but the listed principals: refused.
    if (negated && st.allow) return Malformed("NotPrincipal cannot be used with \"Effect\": \"Allow\".");
    auto spec = ParsePrincipal(negated ? *not_principal : *principal, negated);
    if (!spec.ok()) return spec.error();
    st.principal = std::move(*spec);
  }

  // Action / NotAction.
  auto action = j.find("Action");
  auto not_action = j.find("NotAction");
  if (action != j.end() && not_action != j.end()) return Syntax("Statement cannot contain both Action and NotAction.");
  if (action == j.end() && not_action == j.end()) return Malformed(kNoActions);
  st.not_action = action == j.end();
  const json& actions = st.not_action ? *not_action : *action;
  if (actions.is_array() && actions.empty()) return Malformed(kNoActions);
  auto action_list = StringOrStrings(actions);
  if (!action_list)
    return Syntax(std::string(st.not_action ? "NotAction" : "Action") + " must be a string or an array of strings.");
  for (const std::string& a : *action_list) {
    if (a == "*") continue;
    size_t colon = a.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == a.size()) return Malformed(kNeedsVendor);
  }
  st.actions = std::move(*action_list);

  // Resource / NotResource.
  auto resource = j.find("Resource");
  auto not_resource = j.find("NotResource");
  if (kind == PolicyKind::kTrust) {
    if (resource != j.end()) return Malformed("Has prohibited field Resource");
    if (not_resource != j.end()) return Malformed("Has prohibited field NotResource");
  } else {
    if (resource != j.end() && not_resource != j.end()) {
      return Syntax("Statement cannot contain both Resource and NotResource.");
    }
    if (resource == j.end() && not_resource == j.end()) return Malformed(kNoResources);
    st.has_resource = true;
    st.not_resource = resource == j.end();
    const json& resources = st.not_resource ? *not_resource : *resource;
    if (resources.is_array() && resources.empty()) return Malformed(kNoResources);
    auto resource_list = StringOrStrings(resources);
    if (!resource_list) {
      return Syntax(std::string(st.not_resource ? "NotResource" : "Resource") +
                    " must be a string or an array of strings.");
    }
    for (const std::string& r : *resource_list) {
      if (!IsResourceFormat(r)) return Malformed("Resource " + r + " must be in ARN format or \"*\".");
    }
    st.resources = std::move(*resource_list);
  }

  if (auto it = j.find("Condition"); it != j.end()) {
    auto clauses = ParseCondition(*it);
    if (!clauses.ok()) return clauses.error();
    st.conditions = std::move(*clauses);
  }
  return st;
}

// Parses `text` as JSON, refusing duplicate keys and deep nesting.
Result<json> ParseJson(std::string_view text) {
  std::vector<std::set<std::string>> keys_at_depth;
  std::string duplicate;
  bool too_deep = false;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    const size_t d = static_cast<size_t>(depth);
    switch (event) {
      case json::parse_event_t::object_start:
        if (depth >= kMaxJsonDepth) too_deep = true;
        // The keys of this object are reported at depth + 1.
        if (keys_at_depth.size() < d + 2) keys_at_depth.resize(d + 2);
        keys_at_depth[d + 1].clear();
        break;
      case json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth) too_deep = true;
        break;
      case json::parse_event_t::key:
        if (keys_at_depth.size() < d + 1) keys_at_depth.resize(d + 1);
        if (!keys_at_depth[d].insert(parsed.get<std::string>()).second && duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true);
  } catch (const json::parse_error& e) {
    return Syntax("(invalid JSON at byte " + std::to_string(e.byte) + ")");
  } catch (const json::exception&) {
    return Malformed(kSyntaxErrors);
  }
  if (too_deep) return Syntax("(nested too deeply)");
  if (!duplicate.empty()) return Syntax("(duplicate key " + Quoted(duplicate) + ")");
  return doc;
}

// ---- Evaluation --------------------------------------------------------------------------------

bool PrincipalMatches(const PrincipalSpec& spec, const std::optional<std::pair<std::string, std::string>>& caller) {
  if (spec.any) return true;
  if (!caller) return false;
  // Plain references rather than structured bindings: the lambdas below
  // capture them, which clang before 16 does not allow for bindings.
  const std::string& type = caller->first;
  const std::string& id = caller->second;
  for (const auto& entry : spec.entries) {
    const std::string& entry_type = entry.first;
    const std::string& value = entry.second;
    if (entry_type != type) continue;
    if (value == "*" || value == id) return true;
    if (type != "AWS") continue;
    // An account id, or the account's root ARN, stands for every principal in the account.
    std::string_view account = value;
    if (!IsAccountId(account)) {
      std::array<std::string_view, 6> f;
      if (!SplitArnFields(value, [&](int i, size_t pos, size_t n) { f[i] = std::string_view(value).substr(pos, n); }) ||
          f[2] != "iam" || f[5] != "root") {
        continue;
      }
      account = f[4];
    }
    if (id == account) return true;
    std::array<std::string_view, 6> g;
    if (SplitArnFields(id, [&](int i, size_t pos, size_t n) { g[i] = std::string_view(id).substr(pos, n); }) &&
        g[4] == account) {
      return true;
    }
  }
  return false;
}

bool ActionMatches(const Statement& st, std::string_view action) {
  bool any = std::any_of(st.actions.begin(), st.actions.end(), [&](const std::string& a) {
    Pattern p;
    p.AppendWild(a);
    return GlobMatch(PatternView(p), action, /*ignore_case=*/true);
  });
  return st.not_action ? !any : any;
}

bool ResourceMatches(const Policy::Rep& rep, const Statement& st, std::string_view resource, const KeyIndex& keys) {
  if (!st.has_resource) return true;
  bool any = std::any_of(st.resources.begin(), st.resources.end(), [&](const std::string& r) {
    std::optional<Pattern> p = Expand(r, rep.variables, keys);
    return p && ArnMatch(PatternView(*p), resource);
  });
  return st.not_resource ? !any : any;
}

// One request value against one policy value, before negation.
bool ValueMatches(const ConditionClause& c, const ConditionValue& v, const Pattern* pattern, std::string_view request) {
  switch (c.op->family) {
    case Family::kString:
      return request == pattern->text;
    case Family::kStringIgnoreCase:
      return EqualsIgnoreCase(request, pattern->text);
    case Family::kStringLike:
      return GlobMatch(PatternView(*pattern), request, false);
    case Family::kArn:
      return ArnMatch(PatternView(*pattern), request);
    case Family::kNumeric: {
      auto n = ParseNumber(request);
      return n && Compares(c.op->compare, *n, v.number);
    }
    case Family::kDate: {
      auto t = ParseDateMillis(request);
      return t && Compares(c.op->compare, *t, v.millis);
    }
    case Family::kBool:
      return EqualsIgnoreCase(request, v.boolean ? "true" : "false");
    case Family::kBinary:
      return request == v.bytes;
    case Family::kIp: {
      auto ip = ParseIp(request, /*allow_prefix=*/false);
      return ip && IpInRange(v.ip, UnmapIpv4(*ip));
    }
    case Family::kNull:
      return false;  // handled by the caller
  }
  return false;
}

bool ClauseHolds(const ConditionClause& c, bool variables, const KeyIndex& keys) {
  const std::vector<std::string>* request = keys.Find(c.key);
  if (c.op->family == Family::kNull) {  // "true": the key is absent
    return std::any_of(c.values.begin(), c.values.end(),
                       [&](const ConditionValue& v) { return v.boolean == (request == nullptr); });
  }
  if (request == nullptr) {
    if (c.if_exists) return true;
    switch (c.set) {
      case SetOp::kForAllValues:
        return true;
      case SetOp::kForAnyValue:
        return false;
      case SetOp::kNone:
        return c.op->negated;
    }
  }
  // Rule 5: string and ARN values may hold variables; unresolvable ones match nothing.
  const bool textual = c.op->family == Family::kString || c.op->family == Family::kStringIgnoreCase ||
                       c.op->family == Family::kStringLike || c.op->family == Family::kArn;
  std::vector<std::pair<const ConditionValue*, std::optional<Pattern>>> values;
  for (const ConditionValue& v : c.values) {
    if (!textual) {
      values.emplace_back(&v, std::nullopt);
      continue;
    }
    std::optional<Pattern> p = Expand(v.text, variables, keys);
    if (p) values.emplace_back(&v, std::move(p));
  }
  if (values.empty()) return false;

  auto holds_for = [&](std::string_view request_value) {
    bool any = std::any_of(values.begin(), values.end(), [&](const auto& v) {
      return ValueMatches(c, *v.first, v.second ? &*v.second : nullptr, request_value);
    });
    return c.op->negated ? !any : any;
  };
  switch (c.set) {
    case SetOp::kNone:
      return request->size() == 1 && holds_for(request->front());
    case SetOp::kForAnyValue:
      return std::any_of(request->begin(), request->end(), holds_for);
    case SetOp::kForAllValues:
      return std::all_of(request->begin(), request->end(), holds_for);
  }
  return false;
}

bool StatementApplies(const Policy::Rep& rep, const Statement& st, const RequestContext& request,
                      const KeyIndex& keys) {
  if (st.principal.present) {
    bool match = PrincipalMatches(st.principal, request.principal);
    if (st.principal.negated ? match : !match) return false;
  }
  if (!ActionMatches(st, request.action)) return false;
  if (!ResourceMatches(rep, st, request.resource, keys)) return false;
  return std::all_of(st.conditions.begin(), st.conditions.end(),
                     [&](const ConditionClause& c) { return ClauseHolds(c, rep.variables, keys); });
}

}  // namespace

Result<Policy> ParsePolicy(std::string_view text, PolicyKind kind, size_t max_chars) {
  if (CountPolicyChars(text) > max_chars) {
    return MakeError(kLimitExceeded, "Cannot exceed quota for PolicySize: " + std::to_string(max_chars), 409);
  }
  Result<json> parsed = ParseJson(text);
  if (!parsed.ok()) return parsed.error();
  const json& doc = *parsed;
  if (!doc.is_object()) return Syntax("(the document must be a JSON object)");

  auto rep = std::make_shared<Policy::Rep>();
  rep->kind = kind;
  rep->version = kVersion2008;
  for (const auto& [name, value] : doc.items()) {
    if (name != "Version" && name != "Id" && name != "Statement") {
      return Syntax("Unknown field " + Quoted(name) + " in policy.");
    }
  }
  if (auto it = doc.find("Version"); it != doc.end()) {
    if (!it->is_string() || (*it != kVersion2012 && *it != kVersion2008)) {
      return Malformed(std::string(kLegacyParsing) + ": Version must be \"2012-10-17\" or \"2008-10-17\", not " +
                       it->dump() + ".");
    }
    rep->version = it->get<std::string>();
  }
  rep->variables = rep->version == kVersion2012;
  if (auto it = doc.find("Id"); it != doc.end() && !it->is_string()) return Syntax("Id must be a string.");

  auto statements = doc.find("Statement");
  if (statements == doc.end()) return Malformed("Missing required field Statement");
  if (!statements->is_object() && !statements->is_array()) {
    return Syntax("Statement must be an object or an array of objects.");
  }
  std::set<std::string> sids;
  auto add = [&](const json& j) -> Status {
    Result<Statement> st = ParseStatement(j, kind);
    if (!st.ok()) return st.error();
    if (!st->sid.empty() && !sids.insert(st->sid).second) return Malformed(kSidNotUnique);
    rep->statements.push_back(std::move(*st));
    return OkStatus();
  };
  if (statements->is_object()) {
    if (Status s = add(*statements); !s.ok()) return s.error();
  } else {
    for (const json& j : *statements) {
      if (Status s = add(j); !s.ok()) return s.error();
    }
  }
  return PolicyAccess::Make(std::move(rep));
}

std::string_view DecisionName(Decision decision) {
  switch (decision) {
    case Decision::kAllow:
      return "Allow";
    case Decision::kExplicitDeny:
      return "ExplicitDeny";
    case Decision::kImplicitDeny:
      return "ImplicitDeny";
  }
  return "ImplicitDeny";
}

EvaluationResult Evaluate(const std::vector<NamedPolicy>& policies, const RequestContext& request) {
  const KeyIndex keys(request.keys);
  std::optional<EvaluationResult> allow;
  for (const NamedPolicy& named : policies) {
    if (named.policy == nullptr) continue;
    const Policy::Rep& rep = PolicyAccess::Get(*named.policy);
    for (size_t i = 0; i < rep.statements.size(); ++i) {
      const Statement& st = rep.statements[i];
      if (!StatementApplies(rep, st, request, keys)) continue;
      EvaluationResult hit{st.allow ? Decision::kAllow : Decision::kExplicitDeny, named.name, st.sid,
                           static_cast<int>(i)};
      if (!st.allow) return hit;  // rule 1: an explicit deny wins
      if (!allow) allow = std::move(hit);
    }
  }
  if (allow) return *allow;
  return EvaluationResult{};
}

}  // namespace porthole::auth
