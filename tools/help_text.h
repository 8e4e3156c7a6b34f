// The help text that CLI11 does not generate: each verb's examples (real
// command lines) and the exit codes it may end with, shown as the footer of
// `vatic VERB --help`, and the footer of `vatic --help`. tools/man/vatic.1
// says the same at length; keep the two in step.
#pragma once

#include <string>
#include <string_view>

namespace vatic::cli {

// The footer of `vatic VERB --help` ("" for a verb without one).
std::string verb_footer(std::string_view verb);

// The footer of `vatic --help`.
std::string top_footer();

}  // namespace vatic::cli
