// host_library.cpp -- the pipe to the host library (host_library.h).
#include "host_library.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"

extern char** environ;

namespace fpqc_host {

namespace {

constexpr std::uint32_t kProtocolVersion = 1;
constexpr int kLogTailLines = 20;
constexpr std::uint64_t kMaxErrorBytes = 1 << 20;  // a longer "error message" is not one

// The last `lines` lines of the file at `path`.
std::string tail(const std::string& path, int lines) {
  std::ifstream file(path);
  std::vector<std::string> kept;
  std::string line;
  while (std::getline(file, line)) {
    kept.push_back(line);
    if (static_cast<int>(kept.size()) > lines) kept.erase(kept.begin());
  }
  std::string out;
  for (const std::string& l : kept) out += "\n  " + l;
  return out;
}

}  // namespace

HostLibrary::HostLibrary(const std::vector<std::string>& command) {
  if (command.empty()) throw HostError("no host library command: give it after `--` (see --help)");
  for (const std::string& word : command) command_text_ += (command_text_.empty() ? "" : " ") + word;
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/fpqc-host-library-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  const int log = mkstemp(name.data());
  if (log < 0) throw HostError("cannot create a log file for the host library in " + pattern);
  log_path_ = name.data();
  int requests[2], replies[2];
  if (pipe(requests) != 0 || pipe(replies) != 0) throw HostError("cannot create pipes for the host library");
  std::signal(SIGPIPE, SIG_IGN);  // a library that stops makes write() fail with EPIPE instead
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, requests[0], 0);
  posix_spawn_file_actions_adddup2(&actions, replies[1], 1);
  posix_spawn_file_actions_adddup2(&actions, log, 2);
  for (int fd : {requests[0], requests[1], replies[0], replies[1], log}) posix_spawn_file_actions_addclose(&actions, fd);
  std::vector<char*> argv;
  for (const std::string& word : command) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);
  const int spawned = posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(requests[0]);
  close(replies[1]);
  close(log);
  to_library_ = requests[1];
  from_library_ = replies[0];
  if (spawned != 0) {
    pid_ = -1;
    throw HostError("cannot start the host library `" + command_text_ + "`: " + std::strerror(spawned));
  }
  const auto start = std::chrono::steady_clock::now();
  char magic[4];
  read_bytes(magic, 4);
  std::uint32_t version = 0, scales = 0, cvae = 0;
  read_bytes(&version, 4);
  if (std::memcmp(magic, "FPQH", 4) != 0 || version != kProtocolVersion)
    stopped("answered with something other than protocol " + std::to_string(kProtocolVersion));
  read_bytes(&scales, 4);
  read_bytes(&cvae, 4);
  for (std::uint32_t k = 0; k < scales; ++k) {
    std::uint32_t pn = 0;
    read_bytes(&pn, 4);
    patch_nums_.push_back(pn);
  }
  cvae_ = static_cast<int>(cvae);
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

HostLibrary::~HostLibrary() {
  if (to_library_ >= 0) close(to_library_);
  if (from_library_ >= 0) close(from_library_);
  if (pid_ > 0) {
    int status = 0;
    waitpid(pid_, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) unlink(log_path_.c_str());
  }
}

void HostLibrary::stopped(const std::string& what) {
  std::ostringstream message;
  message << "the host library `" << command_text_ << "` " << what;
  if (pid_ > 0) {
    close(to_library_);
    to_library_ = -1;
    int status = 0;
    if (waitpid(pid_, &status, 0) == pid_) {
      if (WIFEXITED(status)) message << " (exit status " << WEXITSTATUS(status) << ")";
      if (WIFSIGNALED(status)) message << " (killed by signal " << WTERMSIG(status) << ")";
    }
    pid_ = -1;
  }
  message << "; the last lines of its log " << log_path_ << ":" << tail(log_path_, kLogTailLines);
  throw HostError(message.str());
}

void HostLibrary::write_bytes(const void* data, std::size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = write(to_library_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) refused_request();
    p += n;
    bytes -= static_cast<std::size_t>(n);
  }
}

// The library stopped reading a request: it may have answered it with an error before it stopped (a
// library may refuse a request from its first bytes and exit); that error, else "stopped reading".
void HostLibrary::refused_request() {
  std::uint32_t status = 0;
  std::uint64_t bytes = 0;
  if (read_until_end(&status, 4) && read_until_end(&bytes, 8) && status != 0 && bytes <= kMaxErrorBytes) {
    std::string message(static_cast<std::size_t>(bytes), '\0');
    if (read_until_end(&message[0], message.size())) throw HostError("host library: " + message);
  }
  stopped("stopped reading requests");
}

// `bytes` from the library, or false when it stops (end of its output) before they are all there.
bool HostLibrary::read_until_end(void* data, std::size_t bytes) {
  char* p = static_cast<char*>(data);
  while (bytes > 0) {
    const ssize_t n = read(from_library_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    bytes -= static_cast<std::size_t>(n);
  }
  return true;
}

void HostLibrary::read_bytes(void* data, std::size_t bytes) {
  if (!read_until_end(data, bytes)) stopped("stopped before it answered");
}

std::vector<unsigned char> HostLibrary::reply() {
  const auto start = std::chrono::steady_clock::now();
  std::uint32_t status = 0;
  std::uint64_t bytes = 0;
  read_bytes(&status, 4);
  read_bytes(&bytes, 8);
  std::vector<unsigned char> payload(static_cast<std::size_t>(bytes));
  if (bytes > 0) read_bytes(payload.data(), payload.size());
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (status != 0) throw HostError("host library: " + std::string(payload.begin(), payload.end()));
  return payload;
}

std::vector<float> HostLibrary::advance(int scale, int rows, const std::vector<long long>& tokens) {
  const std::uint32_t header[3] = {static_cast<std::uint32_t>(scale), static_cast<std::uint32_t>(rows),
                                   static_cast<std::uint32_t>(tokens.size() / static_cast<std::size_t>(rows))};
  write_bytes("ADVN", 4);
  write_bytes(header, sizeof header);
  write_bytes(tokens.data(), tokens.size() * sizeof(long long));
  const std::vector<unsigned char> payload = reply();
  std::vector<float> next(payload.size() / sizeof(float));
  if (!next.empty()) std::memcpy(next.data(), payload.data(), next.size() * sizeof(float));
  return next;
}

void HostLibrary::finish(const std::vector<long long>& labels, const std::string& output) {
  const std::uint32_t count = static_cast<std::uint32_t>(labels.size());
  const std::uint32_t path_bytes = static_cast<std::uint32_t>(output.size());
  write_bytes("DONE", 4);
  write_bytes(&count, 4);
  write_bytes(labels.data(), labels.size() * sizeof(long long));
  write_bytes(&path_bytes, 4);
  write_bytes(output.data(), output.size());
  reply();
}

}  // namespace fpqc_host
