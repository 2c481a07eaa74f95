// main.cpp -- the fpqc host program: generate images with a build's step program on a device.
//
//   fpqc_host BUILD --labels 0,1,2 [--seed S] [--cfg F] [--top-k K] [--top-p P] --output samples.npz
//             [--xclbin FILE] [--device-index I] -- HOST LIBRARY COMMAND ...
//
// It checks the build (manifest, schedule, device), runs the prologue and every scale's step
// on the device this program was built for (the C simulation, or XRT), guides and samples the
// tokens, and calls back the host library for the VQVAE (host_library.h).  Any failure is one
// `error: ...` line on stderr and exit status 1 (2 for a bad command line).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "error.h"
#include "generation.h"

namespace {

const char kUsage[] =
    "usage: fpqc_host BUILD --labels L1,L2,... --output FILE.npz [--seed S] [--cfg F] [--top-k K] [--top-p P]\n"
    "                 [--xclbin FILE] [--device-index I] -- HOST_LIBRARY_COMMAND...\n";

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr, "%serror: %s\n", kUsage, problem.c_str());
  std::exit(2);
}

long long to_integer(const std::string& option, const std::string& text) {
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0') usage(option + " expects an integer, got '" + text + "'");
  return value;
}

double to_number(const std::string& option, const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') usage(option + " expects a number, got '" + text + "'");
  return value;
}

fpqc_host::GenerationOptions parse(int argc, char** argv) {
  fpqc_host::GenerationOptions options;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) {
      if (!options.build.empty()) usage("one build directory, got '" + options.build + "' and '" + arg + "'");
      options.build = arg;
      continue;
    }
    if (i + 1 >= argc) usage(arg + " needs a value");
    const std::string value = argv[++i];
    if (arg == "--labels") {
      std::size_t begin = 0;
      while (begin <= value.size()) {
        const std::size_t end = value.find(',', begin);
        options.labels.push_back(to_integer(arg, value.substr(begin, end - begin)));
        if (end == std::string::npos) break;
        begin = end + 1;
      }
    } else if (arg == "--seed") {
      const long long seed = to_integer(arg, value);
      if (seed < 0) usage("--seed must not be negative");
      options.seed = static_cast<std::uint64_t>(seed);
    } else if (arg == "--cfg") {
      options.cfg = to_number(arg, value);
    } else if (arg == "--top-k") {
      options.top_k = static_cast<int>(to_integer(arg, value));
    } else if (arg == "--top-p") {
      options.top_p = to_number(arg, value);
    } else if (arg == "--output") {
      options.output = value;
    } else if (arg == "--xclbin") {
      options.device.xclbin = value;
    } else if (arg == "--device-index") {
      options.device.device_index = static_cast<unsigned>(to_integer(arg, value));
    } else {
      usage("unknown option " + arg);
    }
  }
  for (++i; i < argc; ++i) options.host_library.push_back(argv[i]);
  if (options.build.empty()) usage("no build directory");
  if (options.labels.empty()) usage("no --labels");
  if (options.output.empty()) usage("no --output");
  if (options.host_library.empty()) usage("no host library command after --");
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const fpqc_host::GenerationOptions options = parse(argc, argv);
  try {
    const auto start = std::chrono::steady_clock::now();
    const fpqc_host::GenerationSummary summary = fpqc_host::generate(options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("generated %zu images with %lld kernel launches in %.2f s (%.2f s in the host library); wrote %s\n",
                options.labels.size(), summary.launches, seconds, summary.library_seconds, options.output.c_str());
    return 0;
  } catch (const fpqc_host::HostError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s (an internal error of the host program)\n", e.what());
  }
  return 1;
}
