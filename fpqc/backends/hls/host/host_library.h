// host_library.h -- the steps the host program calls back: the VQVAE, served by fpqc over a pipe.
//
// The multi-scale VQVAE (codebook, φ convs, bicubic and area resampling, decoder) stays in
// fpqc's Python runtime (fpqc/runtime/host_library.py), so its float arithmetic is the one
// `fpqc generate` runs.  The host program starts the command given after `--`, writes requests
// to its stdin and reads replies from its stdout; its stderr goes to a log file whose last
// lines an error shows.  The protocol (little-endian):
//
//   hello   library → host  "FPQH", u32 version, u32 K, u32 Cvae, K × u32 patch_nums
//   advance host → library  "ADVN", u32 scale k, u32 rows N, u32 tokens per row T, N·T × i64 tokens
//           reply           u32 status 0, u64 bytes, next scale's input [N, pn_(k+1)², Cvae] f32 (none after the last)
//   finish  host → library  "DONE", u32 N, N × i64 labels, u32 bytes, the output path
//           reply           u32 status 0, u64 0: the library decoded the images and wrote OUTPUT(.npz, .png)
//   any reply may instead be u32 status 1, u64 bytes, a UTF-8 error message.
#ifndef FPQC_HOST_HOST_LIBRARY_H
#define FPQC_HOST_HOST_LIBRARY_H

#include <string>
#include <sys/types.h>
#include <vector>

namespace fpqc_host {

class HostLibrary {
 public:
  explicit HostLibrary(const std::vector<std::string>& command);
  ~HostLibrary();
  HostLibrary(const HostLibrary&) = delete;
  HostLibrary& operator=(const HostLibrary&) = delete;

  const std::vector<long long>& patch_nums() const { return patch_nums_; }
  int cvae() const { return cvae_; }
  // Seconds spent waiting for the library: its start-up (Python importing PyTorch) and its replies.
  double seconds() const { return seconds_; }

  // Add scale `scale`'s tokens ([rows, T]) into f_hat; the next scale's input [rows, pn², Cvae] (empty after the last).
  std::vector<float> advance(int scale, int rows, const std::vector<long long>& tokens);
  // Decode the images and write `output` (.npz of images, labels and tokens, and a .png grid).
  void finish(const std::vector<long long>& labels, const std::string& output);

 private:
  void write_bytes(const void* data, std::size_t bytes);
  void read_bytes(void* data, std::size_t bytes);
  bool read_until_end(void* data, std::size_t bytes);
  std::vector<unsigned char> reply();
  [[noreturn]] void refused_request();
  [[noreturn]] void stopped(const std::string& what);

  std::string command_text_;
  std::string log_path_;
  pid_t pid_ = -1;
  int to_library_ = -1;
  int from_library_ = -1;
  std::vector<long long> patch_nums_;
  int cvae_ = 0;
  double seconds_ = 0.0;
};

}  // namespace fpqc_host

#endif
