// The `vatic` subcommands, one function each, called by main() once CLI11 has
// parsed the command line. Each returns an exit code (cli_util.h) or throws
// CliError; main() prints the one failure line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vatic::cli {

struct Common {
  std::string store;         // --store ("" = default)
  bool json = false;         // --json
  std::string idle_timeout;  // --idle-timeout ("" = the default, 30s)
};

struct ServeArgs {
  Common common;
  std::string dir;
  std::vector<std::string> listen;     // --listen, repeatable
  std::vector<std::string> advertise;  // --advertise: hints other than the bound addresses
  bool read_only = false;
  std::string log_level = "info";         // --log-level (vat/log.h names, or "off")
  bool log_json = false;                  // --log-json
  std::optional<std::string> clock_skew;  // --clock-skew: a duration ("60s"); unset: the Host's default
  bool init = false;                      // --init: may create a new identity in a store that had one
  std::size_t max_connections = 0;        // --max-connections (0 = the default)
};

struct AttenuateArgs {
  Common common;
  std::string token;
  std::vector<std::string> paths;
  // Set when the flag was given, even empty: an empty value is an error, never
  // a caveat silently left out (that would hand on the parent's authority).
  std::optional<std::string> ops, expires, not_before, methods, max_bytes;
  std::vector<std::string> holders;  // --for
};

struct FsArgs {
  Common common;
  std::string token;
  std::string path;
  std::string local;   // OUT for get, IN for put ("" = default, "-" = stdout/stdin)
  bool force = false;  // get: replace an existing OUT
  bool quiet = false;  // get, put: no progress line
};

struct CallArgs {
  Common common;
  std::string ref;
  std::string method;
  std::vector<std::string> args;  // one JSON document each (tools/value_json.h)
};

// `init`: --init, may create a new identity in a store that had one (sturdyrefs::Create).
int cmd_id(const Common& c, bool init);
int cmd_serve(const ServeArgs& a);
int cmd_attenuate(const AttenuateArgs& a);
int cmd_revoke(const Common& c, const std::string& admin_ref, const std::string& token);
// `view`: one of kInspectViews (tools/inspect_render.h); anything else is a usage error.
int cmd_inspect(const Common& c, const std::string& admin_ref, const std::string& view);
int cmd_ls(const FsArgs& a);
int cmd_cat(const FsArgs& a);
int cmd_get(const FsArgs& a);
int cmd_put(const FsArgs& a);
int cmd_rm(const FsArgs& a);
int cmd_mkdir(const FsArgs& a);
int cmd_call(const CallArgs& a);

}  // namespace vatic::cli
