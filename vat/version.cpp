#include "vat/version.h"

namespace vatic {

const char* library_version() noexcept { return VATIC_VERSION_STRING; }

}  // namespace vatic
