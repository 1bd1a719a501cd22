#pragma once

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace normtrain::testing {

// An HTTP server on 127.0.0.1 for stopping tests: it answers every request with a 50 MB body
// that it sends a few bytes at a time (kTrickle) or not at all after the first bytes (kStall),
// so that a download is still running whenever a test decides to stop it.
class SlowServer {
 public:
  enum class Pace { kTrickle, kStall };

  explicit SlowServer(Pace pace) : pace_(pace) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listener_ < 0) throw std::runtime_error("socket() failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;  // any free port
    socklen_t length = sizeof address;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 8) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ::close(listener_);
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~SlowServer() {
    done_ = true;
    thread_.join();
    ::close(listener_);
  }
  SlowServer(const SlowServer&) = delete;
  SlowServer& operator=(const SlowServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/mnist/"; }
  int requests() const { return requests_; }

 private:
  // Waits up to 20 ms for `fd` to have `events`; false when the server is shutting down.
  bool wait_for(int fd, short events) {
    pollfd entry{fd, events, 0};
    while (!done_) {
      if (::poll(&entry, 1, 20) > 0) return true;
    }
    return false;
  }

  void serve() {
    while (wait_for(listener_, POLLIN)) {
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) continue;
      ++requests_;
      answer(client);
      ::close(client);
    }
  }

  void answer(int client) {
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      if (!wait_for(client, POLLIN)) return;
      const ssize_t got = ::recv(client, buffer, sizeof buffer, 0);
      if (got <= 0) return;
      request.append(buffer, static_cast<std::size_t>(got));
    }
    const std::string head =
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        "Content-Length: 50000000\r\n\r\n";
    if (!send_all(client, head)) return;
    const std::string piece(64, '\x1f');
    if (!send_all(client, piece)) return;
    while (!done_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      // The client hung up: the download was stopped.
      pollfd entry{client, POLLIN, 0};
      if (::poll(&entry, 1, 0) > 0 && ::recv(client, buffer, sizeof buffer, MSG_DONTWAIT) <= 0) {
        return;
      }
      if (pace_ == Pace::kTrickle && !send_all(client, piece)) return;
    }
  }

  static bool send_all(int client, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(client, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  Pace pace_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> done_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

}  // namespace normtrain::testing
