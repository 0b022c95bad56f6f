// Job tokens: how many workers of this process (and of its sibling processes under make or
// cargo) may run at once. See design-notes/0007-jobserver.md.
//
//   // Under `make -jN` (recipe with a '+' prefix or $(MAKE)) or cargo: share make's tokens.
//   spindle::PoolOptions opts;
//   spindle::use_token_source(opts, spindle::jobserver_from_env());  // null: no jobserver
//   spindle::ThreadPool pool(opts);
//
// A TokenSource hands out *explicit* tokens. Every process also owns one *implicit* token that
// no source ever hands out and that is never given back (the GNU make rule): a pool always
// finishes its work on the implicit token alone, whatever the source does.
#pragma once

#include "spindle/detail/config.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace spindle {

struct PoolOptions;

/// An explicit token, as read from its source. `byte` is the exact byte read from a GNU make
/// jobserver (any value 0-255; it is written back unchanged); other sources leave it 0.
struct Token {
    /// The byte read from the jobserver (written back on release); 0 for an in-process token.
    std::uint8_t byte = 0;
};

/// Why a jobserver could not be used. The message names the variable, its value and the likely
/// cause.
enum class JobserverErrorKind {
    CannotParse,     ///< malformed --jobserver-auth / --jobserver-fds value
    UnknownStyle,    ///< not R,W and not fifo:PATH (a Windows semaphore name?)
    ClosedFd,        ///< R or W is not an open fd (recipe without '+' or $(MAKE))
    NotAPipe,        ///< R or W is open but not a pipe (stale fd numbers)
    BadAccessMode,   ///< R is not readable or W is not writable (reversed?)
    CannotOpenPath,  ///< fifo:PATH cannot be opened (ENOENT, EACCES, ...)
    NotAFifo,        ///< fifo:PATH is a regular file, a directory, ...
    Io,              ///< a system call failed while setting up (server side)
};

/// A jobserver that cannot be used: bad MAKEFLAGS, closed or wrong descriptors, a missing fifo.
class SPINDLE_API JobserverError : public std::runtime_error {
public:
    /// An error of the given kind with its message.
    JobserverError(JobserverErrorKind kind, const std::string& message)
        : std::runtime_error(message), m_kind(kind) {}
    /// What went wrong.
    JobserverErrorKind kind() const noexcept { return m_kind; }

private:
    JobserverErrorKind m_kind;
};

/// Source of explicit tokens. Implementations must be thread-safe: several threads may call any
/// member at once. The implicit token never passes through a TokenSource.
class SPINDLE_API TokenSource {
public:
    virtual ~TokenSource() = default;
    /// A token if one is free now; never blocks.
    virtual std::optional<Token> try_acquire() = 0;
    /// Waits for a token. Returns nullopt early when `wake_fd` (if >= 0) becomes readable (the
    /// caller drains it) or when the source is dead (see alive()). Never waits for anything else.
    virtual std::optional<Token> acquire(int wake_fd = -1);
    /// Gives back a token obtained from this source (its exact byte). Never blocks for long and
    /// never throws; a dead source drops it.
    virtual void release(Token t) noexcept = 0;
    /// An fd that polls readable when a token may be free, or -1 if try_acquire() never fails.
    virtual int poll_fd() const noexcept { return -1; }
    /// False once the source is gone (server died, EOF, EPIPE): only the implicit token is left.
    virtual bool alive() const noexcept { return true; }
    /// For messages: "GNU make jobserver (pipe 3,4 from MAKEFLAGS)", ...
    virtual std::string describe() const = 0;
    /// An upper bound on tokens worth asking for (e.g. N - 1 for `-jN`), if known.
    virtual std::optional<std::size_t> limit_hint() const noexcept { return std::nullopt; }
};

/// try_acquire() always succeeds: no limit beyond the pool's worker count.
SPINDLE_API std::shared_ptr<TokenSource> make_unlimited_tokens();
/// An in-process counting semaphore with `tokens` explicit tokens (an eventfd: pollable).
SPINDLE_API std::shared_ptr<TokenSource> make_counting_tokens(std::size_t tokens);

// ------------------------------------------------------------------------------------------
// GNU make jobserver: discovery
// ------------------------------------------------------------------------------------------

/// Where a jobserver is, as MAKEFLAGS names it (parse_makeflags, discover_jobserver).
struct JobserverAuth {
    /// None: no jobserver; Disabled: make said not to use one; Pipe: two inherited descriptors;
    /// Fifo: a named pipe.
    enum class Style { None, Disabled, Pipe, Fifo };
    /// Which kind of jobserver MAKEFLAGS names.
    Style style = Style::None;
    int read_fd = -1;                 ///< Pipe
    int write_fd = -1;                ///< Pipe
    std::string path;                 ///< Fifo
    std::string variable;             ///< where it came from: CARGO_MAKEFLAGS, MAKEFLAGS or MFLAGS
    std::string value;                ///< that variable's whole value
    std::string word;                 ///< the jobserver word used, e.g. "--jobserver-auth=3,4"
    bool dry_run = false;             ///< make -n
    bool j_flag = false;              ///< a -j / -jN / --jobs word was seen
    std::optional<std::size_t> jobs;  ///< N from the last -jN, if any (a bound, not a count)
};

/// Splits a MAKEFLAGS value as make does: unescaped blanks separate words, a backslash escapes
/// the next character, and the word "--" ends the options (variable overrides follow).
SPINDLE_API std::vector<std::string> split_makeflags(std::string_view value);

/// Parses one variable's value. Style::None: no jobserver word; Style::Disabled: negative fd.
/// Throws JobserverError (CannotParse, UnknownStyle) for a jobserver word it cannot use.
SPINDLE_API JobserverAuth parse_makeflags(std::string_view variable, std::string_view value);

/// Looks at CARGO_MAKEFLAGS, then MAKEFLAGS, then MFLAGS (the first one set wins).
SPINDLE_API JobserverAuth discover_jobserver();

/// How connect_jobserver and jobserver_from_env use a jobserver.
struct JobserverClientOptions {
    /// Accept sockets as well as pipes for R,W (some servers use socketpairs).
    bool allow_sockets = false;
    /// jobserver_from_env() only: under a serial make (MAKELEVEL set, MAKEFLAGS present with no
    /// -j word or -j1: `make` or `make -j1`), return a source with no explicit tokens, so the
    /// process runs one job at a time as make was asked to. Off by default: a plain `make` then
    /// leaves the pool unlimited, as rustc and cargo do.
    bool respect_serial_make = false;
};

/// Connects to the jobserver described by `auth` (Style::Pipe or Style::Fifo). Never changes the
/// flags of inherited fds: on Linux it reopens /proc/self/fd/N for a private description; fifos
/// are opened O_NONBLOCK. Every fd it opens is close-on-exec. Throws JobserverError.
SPINDLE_API std::shared_ptr<TokenSource> connect_jobserver(
    const JobserverAuth& auth, const JobserverClientOptions& options = {});

/// What jobserver_from_env() does when MAKEFLAGS names a jobserver it cannot use.
enum class JobserverPolicy {
    Warn,   ///< print one "spindle: warning: ..." line on stderr and return nullptr
    Throw,  ///< throw the JobserverError
    Quiet,  ///< return nullptr silently
};

/// discover_jobserver() + connect_jobserver(). nullptr when there is no jobserver, it is disabled
/// (negative fds), or make -n; errors follow `policy`.
SPINDLE_API std::shared_ptr<TokenSource> jobserver_from_env(
    JobserverPolicy policy = JobserverPolicy::Warn, const JobserverClientOptions& options = {});

// ------------------------------------------------------------------------------------------
// GNU make jobserver: server (what cargo does for its children)
// ------------------------------------------------------------------------------------------

/// A jobserver for child processes (as cargo makes one): N-1 tokens in a pipe or fifo, and the
/// MAKEFLAGS that tells children where.
class SPINDLE_API JobserverServer {
public:
    /// Pipe: inherited descriptors (make before 4.4); Fifo: a named pipe (make 4.4 and later).
    enum class Style { Pipe, Fifo };
    /// Creates a jobserver preloaded with `tokens` bytes of `byte`. Pipe: pipe2(O_CLOEXEC); Fifo:
    /// mkfifo 0600 in $TMPDIR (else /tmp), unlinked by the destructor. Throws JobserverError.
    explicit JobserverServer(std::size_t tokens,
                             Style style = Style::Pipe,
                             std::uint8_t byte = '|');
    ~JobserverServer();
    JobserverServer(const JobserverServer&) = delete;
    JobserverServer& operator=(const JobserverServer&) = delete;

    /// "--jobserver-auth=R,W" or "--jobserver-auth=fifo:PATH".
    std::string auth() const;
    /// The MAKEFLAGS / CARGO_MAKEFLAGS value for children: "-j --jobserver-fds=R,W
    /// --jobserver-auth=R,W" (both spellings, as cargo), or "-j --jobserver-auth=fifo:PATH".
    std::string makeflags() const;
    /// `base` (NAME=VALUE strings) with MAKEFLAGS, MFLAGS and CARGO_MAKEFLAGS replaced.
    std::vector<std::string> child_environment(const std::vector<std::string>& base) const;
    /// In a forked child before exec: clears FD_CLOEXEC on the pipe fds (async-signal-safe).
    /// posix_spawn users: posix_spawn_file_actions_adddup2(&a, fd, fd) for each of fds().
    void prepare_child() const noexcept;
    /// The pipe's two fds (read, write); empty for a fifo.
    std::vector<int> fds() const;
    /// The fifo's path; empty for a pipe.
    const std::string& fifo_path() const noexcept { return m_path; }
    /// The number of tokens the server was made with.
    std::size_t tokens() const noexcept { return m_tokens; }

    /// A client of this server for this process (shares the same tokens).
    std::shared_ptr<TokenSource> client() const;

    /// Reads every token now in the jobserver without blocking and returns their bytes (the
    /// tokens are gone afterwards). Call once all children have exited: size() == tokens()
    /// means nobody leaked one.
    std::vector<std::uint8_t> drain();

private:
    Style m_style;
    std::size_t m_tokens;
    int m_read = -1;
    int m_write = -1;
    std::string m_path;
};

// ------------------------------------------------------------------------------------------
// Pool integration
// ------------------------------------------------------------------------------------------

/// Counters of a pool's token gate, for tests and benchmarks.
struct TokenStats {
    std::uint64_t acquired = 0;      ///< explicit tokens read from the source
    std::uint64_t released = 0;      ///< explicit tokens written back to the source
    std::uint64_t handoffs = 0;      ///< a stopping worker's token passed to a waiting one
    std::uint64_t waits = 0;         ///< a worker had to wait for a token
    std::uint64_t dropped_late = 0;  ///< a token arrived after demand was gone (given back)
};

/// The token gate of a pool (opaque): use_token_source makes one, token_stats reads it.
class TokenGate;

/// Makes a pool built from `options` run only workers that hold a token from `source` (or the
/// process's implicit token): installs acquire/release thread handlers (chaining any already
/// set). A null source leaves the options unchanged. Returns a handle to read the statistics.
SPINDLE_API std::shared_ptr<TokenGate> use_token_source(PoolOptions& options,
                                                        std::shared_ptr<TokenSource> source);
/// The token statistics of a gate made by use_token_source.
SPINDLE_API TokenStats token_stats(const TokenGate& gate);

}  // namespace spindle
