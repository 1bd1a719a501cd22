#include "normtrain/commands/sweep/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "normtrain/common/error.hpp"

extern char** environ;

namespace normtrain {
namespace {

// posix_spawn's attribute and file-action objects, released however spawning ends.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attributes_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attributes_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  posix_spawn_file_actions_t* actions() { return &actions_; }
  posix_spawnattr_t* attributes() { return &attributes_; }

  // Default SIGINT, SIGTERM and SIGPIPE and an empty signal mask, whatever the parent set;
  // optionally a process group of its own.
  void reset_signals(bool own_process_group) {
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int signal_number : {SIGINT, SIGTERM, SIGPIPE}) sigaddset(&defaults, signal_number);
    posix_spawnattr_setsigdefault(&attributes_, &defaults);
    sigset_t empty;
    sigemptyset(&empty);
    posix_spawnattr_setsigmask(&attributes_, &empty);
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (own_process_group) {
      flags |= POSIX_SPAWN_SETPGROUP;
      posix_spawnattr_setpgroup(&attributes_, 0);
    }
    posix_spawnattr_setflags(&attributes_, flags);
  }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attributes_;
};

volatile std::sig_atomic_t g_signal_count = 0;
volatile std::sig_atomic_t g_last_signal = 0;
struct sigaction g_previous_int {};
struct sigaction g_previous_term {};

extern "C" void count_signal(int signal_number) {
  g_last_signal = signal_number;
  g_signal_count = g_signal_count + 1;
}

std::vector<char*> c_args(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  return argv;
}

// A pipe whose ends close themselves.
struct Pipe {
  int read = -1;
  int write = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      throw RuntimeError(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
    }
    read = fds[0];
    write = fds[1];
  }
  ~Pipe() {
    if (read >= 0) ::close(read);
    if (write >= 0) ::close(write);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
};

}  // namespace

ExitStatus exit_status_from_wait(int wait_status) {
  ExitStatus status;
  if (WIFEXITED(wait_status)) status.code = WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) {
    status.signal = WTERMSIG(wait_status);
    status.code = 128 + status.signal;
  }
  return status;
}

pid_t spawn(const std::filesystem::path& program, const std::vector<std::string>& args,
            const SpawnOptions& options) {
  SpawnSetup setup;
  posix_spawn_file_actions_addopen(setup.actions(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (!options.output.empty()) {
    posix_spawn_file_actions_addopen(setup.actions(), STDOUT_FILENO, options.output.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(setup.actions(), STDOUT_FILENO, STDERR_FILENO);
  }
  setup.reset_signals(options.own_process_group);
  std::vector<char*> argv = c_args(args);
  pid_t pid = -1;
  const int error = ::posix_spawn(&pid, program.c_str(), setup.actions(), setup.attributes(),
                                  argv.data(), environ);
  if (error != 0) {
    throw RuntimeError(fmt::format("cannot start {}: {}", program.string(), std::strerror(error)));
  }
  return pid;
}

bool reap(pid_t pid, bool block, ExitStatus& status) {
  int wait_status = 0;
  while (true) {
    const pid_t got = ::waitpid(pid, &wait_status, block ? 0 : WNOHANG);
    if (got == pid) {
      status = exit_status_from_wait(wait_status);
      return true;
    }
    if (got == 0) return false;
    if (errno == EINTR) continue;
    throw RuntimeError(fmt::format("cannot wait for process {}: {}", pid, std::strerror(errno)));
  }
}

CommandResult run_command(const std::vector<std::string>& args) {
  Pipe out;
  Pipe err;
  SpawnSetup setup;
  posix_spawn_file_actions_addopen(setup.actions(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(setup.actions(), out.write, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(setup.actions(), err.write, STDERR_FILENO);
  setup.reset_signals(/*own_process_group=*/false);
  std::vector<char*> argv = c_args(args);
  pid_t pid = -1;
  const int error = ::posix_spawnp(&pid, args.at(0).c_str(), setup.actions(), setup.attributes(),
                                   argv.data(), environ);
  if (error != 0) {
    throw RuntimeError(fmt::format("cannot run {}: {}", args.at(0), std::strerror(error)));
  }
  ::close(out.write);
  out.write = -1;
  ::close(err.write);
  err.write = -1;

  CommandResult result;
  std::array<pollfd, 2> fds = {pollfd{out.read, POLLIN, 0}, pollfd{err.read, POLLIN, 0}};
  std::array<std::string*, 2> texts = {&result.out, &result.err};
  int open_fds = 2;
  char buffer[4096];
  while (open_fds > 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t got = ::read(fds[i].fd, buffer, sizeof(buffer));
      if (got > 0) {
        texts[i]->append(buffer, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  reap(pid, /*block=*/true, result.status);
  return result;
}

StopSignals::StopSignals() {
  g_signal_count = 0;
  g_last_signal = 0;
  struct sigaction action {};
  action.sa_handler = count_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

int StopSignals::count() const {
  return g_signal_count;
}

int StopSignals::last() const {
  return g_last_signal;
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string folders = path;
  std::size_t start = 0;
  while (start <= folders.size()) {
    const std::size_t colon = folders.find(':', start);
    const std::string folder =
        folders.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    const std::string candidate = (folder.empty() ? "." : folder) + "/" + program;
    struct stat info {};
    if (::stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return true;
    }
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return false;
}

std::string shell_quote(const std::string& word) {
  const bool plain = !word.empty() && word.find_first_not_of(
                                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_-+=.,:/@%") == std::string::npos;
  if (plain) return word;
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string shell_words(const std::vector<std::string>& words) {
  std::string line;
  for (const std::string& word : words) {
    if (!line.empty()) line += ' ';
    line += shell_quote(word);
  }
  return line;
}

}  // namespace normtrain
