#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace normtrain {

// How a child process ended: its exit code, or the signal that ended it.
struct ExitStatus {
  int code = 0;
  int signal = 0;  // 0 when it exited
};

// Reads a waitpid() status.
ExitStatus exit_status_from_wait(int wait_status);

// How spawn() starts a child.
struct SpawnOptions {
  // Its stdout and stderr are appended to this file (created when missing); empty: inherited.
  std::filesystem::path output;
  // In a process group of its own, so that Ctrl-C in the terminal reaches only the parent,
  // which decides what to pass on.
  bool own_process_group = false;
};

// Starts `program` (a path, not looked up on PATH) with `args` (args[0] is the name it sees),
// stdin from /dev/null and SIGINT/SIGTERM at their default actions. Returns its pid; throws a
// runtime Error naming the program when it cannot be started.
pid_t spawn(const std::filesystem::path& program, const std::vector<std::string>& args,
            const SpawnOptions& options);

// Reaps the child `pid` once it has ended: fills `status` and returns true. With `block` false
// it returns false at once while the child still runs.
bool reap(pid_t pid, bool block, ExitStatus& status);

// What a finished command printed and how it ended.
struct CommandResult {
  ExitStatus status;
  std::string out;
  std::string err;
};

// Runs args[0], looked up on PATH, with `args`, stdin from /dev/null, and waits for it,
// collecting its output. Throws a runtime Error when it cannot be started.
CommandResult run_command(const std::vector<std::string>& args);

// True when `program` is an executable file in a folder of PATH.
bool on_path(const std::string& program);

// While it lives, SIGINT and SIGTERM are counted instead of ending the process, so that a
// sweep can pass them on to its runs or stop waiting cleanly; the previous handlers after.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Signals received so far, and the last one.
  int count() const;
  int last() const;
};

// A word quoted for a POSIX shell when it needs quoting ('a b' -> 'a b' in single quotes).
std::string shell_quote(const std::string& word);
// The words as one shell command line, for people to read and paste.
std::string shell_words(const std::vector<std::string>& words);

}  // namespace normtrain
