// generation.h -- a whole VAR generation: the step program over every scale, guidance, sampling.
//
// For N labels the batch is doubled for classifier-free guidance ([labels, null class × N])
// and run in chunks of the build's static batch B (the last chunk padded by repeating its
// first row), as fpqc/runtime/var_runtime.py does: per chunk @prologue once, then @step_k for
// k = 0 .. K-1 against the chunk's KV caches.  After each scale the host guides and samples
// the tokens, and the host library turns them into the next scale's input; at the end it
// decodes the images and writes the output.
#ifndef FPQC_HOST_GENERATION_H
#define FPQC_HOST_GENERATION_H

#include <cstdint>
#include <string>
#include <vector>

#include "device.h"

namespace fpqc_host {

struct GenerationOptions {
  std::string build;                        // the build directory
  std::vector<long long> labels;            // one image per label
  std::uint64_t seed = 0;                   // numpy.random.default_rng(seed) draws the tokens
  double cfg = 1.5;                         // guidance strength
  int top_k = 0;                            // 0: keep every token
  double top_p = 0.0;                       // 0: keep every token
  std::string output;                       // .npz the host library writes (+ .png)
  DeviceOptions device;
  std::vector<std::string> host_library;    // the command serving host_library.h's protocol
};

struct GenerationSummary {
  long long launches = 0;          // kernel launches
  double library_seconds = 0.0;    // spent waiting for the host library
};

GenerationSummary generate(const GenerationOptions& options);

}  // namespace fpqc_host

#endif
