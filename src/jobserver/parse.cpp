// MAKEFLAGS discovery: make's word splitting and the bad-input table of
// /work/shared/reference/jobserver.md §6.3. See design-notes/0007-jobserver.md.
#include "spindle/jobserver.hpp"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <limits>

namespace spindle {
namespace {

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n';
}

std::string quote(std::string_view s) {
    std::string out = "'";
    out += s;
    out += "'";
    return out;
}

std::string where(const JobserverAuth& a) {
    return a.variable + "=" + quote(a.value);
}

[[noreturn]] void cannot_parse(const JobserverAuth& a, std::string_view why) {
    throw JobserverError(JobserverErrorKind::CannotParse,
                         "spindle: cannot parse the jobserver word " + quote(a.word) + " in " +
                             where(a) + ": " + std::string(why));
}

// One decimal int, optionally negative; nullopt if not exactly that or out of int range.
std::optional<int> parse_int(std::string_view s) {
    if (s.empty())
        return std::nullopt;
    int v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size())
        return std::nullopt;
    return v;
}

bool looks_numeric(std::string_view s) {
    for (char c : s)
        if (!(c == '-' || c == ',' || c == '+' || (c >= '0' && c <= '9')))
            return false;
    return true;
}

}  // namespace

std::vector<std::string> split_makeflags(std::string_view value) {
    std::vector<std::string> words;
    std::string cur;
    bool in_word = false;
    for (std::size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        if (c == '\\' && i + 1 < value.size()) {
            cur += value[++i];
            in_word = true;
        } else if (is_blank(c)) {
            if (in_word) {
                if (cur == "--")
                    return words;  // variable overrides follow: not options
                words.push_back(std::move(cur));
                cur.clear();
                in_word = false;
            }
        } else {
            cur += c;
            in_word = true;
        }
    }
    if (in_word && cur != "--")
        words.push_back(std::move(cur));
    return words;
}

JobserverAuth parse_makeflags(std::string_view variable, std::string_view value) {
    JobserverAuth a;
    a.variable = std::string(variable);
    a.value = std::string(value);
    const std::vector<std::string> words = split_makeflags(value);
    // make puts its single-letter flags first, without a dash ("kn"); none: a leading blank.
    if (!words.empty() && !value.empty() && !is_blank(value.front()) &&
        words.front().front() != '-' && words.front().find('n') != std::string::npos)
        a.dry_run = true;

    constexpr std::string_view k_auth = "--jobserver-auth=";
    constexpr std::string_view k_fds = "--jobserver-fds=";
    const std::string* auth_word = nullptr;
    const std::string* fds_word = nullptr;
    for (const std::string& w : words) {
        std::string_view v = w;
        if (v.starts_with(k_auth))
            auth_word = &w;
        else if (v.starts_with(k_fds))
            fds_word = &w;
        else if (v.starts_with("-j") && v.size() > 2) {
            a.j_flag = true;
            if (auto n = parse_int(v.substr(2)); n && *n > 0)
                a.jobs = static_cast<std::size_t>(*n);
        } else if (v == "-j" || v == "--jobs") {
            a.j_flag = true;
        } else if (v.starts_with("--jobs=")) {
            a.j_flag = true;
            if (auto n = parse_int(v.substr(7)); n && *n > 0)
                a.jobs = static_cast<std::size_t>(*n);
        }
    }
    const bool legacy = auth_word == nullptr;
    const std::string* word = legacy ? fds_word : auth_word;
    if (word == nullptr)
        return a;  // Style::None
    a.word = *word;
    std::string_view arg = std::string_view(*word).substr(legacy ? k_fds.size() : k_auth.size());
    if (arg.empty())
        cannot_parse(a, "the value is empty; expected R,W (two fds) or fifo:PATH");
    if (!legacy && arg.starts_with("fifo:")) {
        a.path = std::string(arg.substr(5));
        if (a.path.empty())
            cannot_parse(a, "'fifo:' needs a path");
        a.style = JobserverAuth::Style::Fifo;
        return a;
    }
    if (!legacy && arg.find(',') == std::string_view::npos && !looks_numeric(arg))
        throw JobserverError(JobserverErrorKind::UnknownStyle,
                             "spindle: unknown jobserver style " + quote(a.word) + " in " +
                                 where(a) +
                                 " (a Windows semaphore name?); cannot connect on this system");
    const std::size_t comma = arg.find(',');
    if (comma == std::string_view::npos)
        cannot_parse(a, "expected two fds R,W separated by a comma");
    const auto r = parse_int(arg.substr(0, comma));
    const auto w = parse_int(arg.substr(comma + 1));
    if (!r || !w)
        cannot_parse(a, "R and W must be two decimal integers in int range");
    if (*r < 0 || *w < 0) {
        a.style = JobserverAuth::Style::Disabled;  // make 4.4: jobserver off for this process
        return a;
    }
    a.read_fd = *r;
    a.write_fd = *w;
    a.style = JobserverAuth::Style::Pipe;
    return a;
}

JobserverAuth discover_jobserver() {
    for (const char* name : {"CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS"}) {
        if (const char* v = std::getenv(name))
            return parse_makeflags(name, v);
    }
    return JobserverAuth{};
}

}  // namespace spindle
