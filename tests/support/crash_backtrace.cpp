// A test binary that crashes prints the stack it crashed on before it dies, so that a crash on a
// machine without a debugger (the GPU check's) still says where it happened. Linked into every
// test executable; installs itself before main.

#include <csignal>
#include <cstring>
#include <initializer_list>

#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

namespace {

void print_backtrace_and_die(int signal_number) {
  // Only async-signal-safe calls from here on (backtrace is, once loaded: see below).
  const char* name = strsignal(signal_number);
  const char header[] = "\n*** crashed with signal ";
  [[maybe_unused]] ssize_t ignored = ::write(STDERR_FILENO, header, sizeof header - 1);
  ignored = ::write(STDERR_FILENO, name, std::strlen(name));
  ignored = ::write(STDERR_FILENO, "; stack:\n", 9);
  void* frames[64];
  const int count = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, count, STDERR_FILENO);
  // The default action again, so that the process still dies of the signal (exit status,
  // core dump) as it would have.
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

struct CrashBacktrace {
  CrashBacktrace() {
    // backtrace() loads libgcc on its first call, which is not safe inside a signal handler.
    void* warm_up[1];
    ::backtrace(warm_up, 1);
    for (const int signal_number : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) {
      // A handler already there (a sanitizer's) reports better: it stays.
      struct sigaction current {};
      if (::sigaction(signal_number, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
        std::signal(signal_number, print_backtrace_and_die);
      }
    }
  }
};

const CrashBacktrace install;

}  // namespace
