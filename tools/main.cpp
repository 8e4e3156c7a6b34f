// vatic: the command-line tool. CLI11 parses; commands.h does the work; this
// file maps every failure to one line on stderr (or, with --json, one JSON
// object on stdout) and the exit-code contract of cli_util.h, and turns a
// mistyped verb or flag into a suggestion.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "tools/cli_util.h"
#include "tools/commands.h"
#include "tools/help_text.h"
#include "tools/suggest.h"
#include "vat/error.h"
#include "vat/version.h"

using namespace vatic::cli;

namespace {

void add_common(CLI::App* cmd, Common& c) {
  cmd->add_option("--store", c.store, "store directory (identity, keys; default $VATIC_STORE or ~/.local/share/vatic)");
  cmd->add_flag("--json", c.json, "machine-readable output: one JSON object on stdout, failures too");
}

// The flags of the verbs that talk to a vat.
void add_network(CLI::App* cmd, Common& c) {
  cmd->add_option("--idle-timeout", c.idle_timeout,
                  "end a session that was silent this long (default 30s; both ends should agree)");
}

CLI::App* add_verb(CLI::App& app, const char* name, const char* help) {
  auto* cmd = app.add_subcommand(name, help);
  cmd->footer(verb_footer(name));
  // Leftover arguments are collected, not thrown: main() names them, with a
  // suggestion for a mistyped flag.
  cmd->allow_extras();
  return cmd;
}

std::string version_line() {
  std::string_view library = vatic::library_version();
  if (library == VATIC_VERSION_STRING) return fmt::format("vatic {}", VATIC_VERSION_STRING);
  return fmt::format("vatic {} (library {})", VATIC_VERSION_STRING, library);
}

// The top-level flags; none takes a value, so the verb is the first argument
// that is not a flag.
const std::vector<std::string> kTopFlags = {"-h", "--help", "--help-all", "--version"};

// Whether the command line asks for --json (before any "--"): failures in
// parsing, before a verb's flags are known, are reported as JSON too.
bool json_requested(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") break;
    if (a == "--json") return true;
  }
  return false;
}

std::vector<std::string> verb_names(const CLI::App& app) {
  std::vector<std::string> out;
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) out.push_back(sub->get_name());
  return out;
}

std::vector<std::string> flag_names(const CLI::App& cmd) {
  std::vector<std::string> out;
  for (const auto* o : cmd.get_options()) {
    for (const auto& l : o->get_lnames()) out.push_back("--" + l);
    for (const auto& s : o->get_snames()) out.push_back("-" + s);
  }
  return out;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& known) {
  auto best = closest(word, known);
  return best ? fmt::format("; did you mean '{}'?", *best) : std::string();
}

// A usage error found before CLI11 runs: a mistyped verb or top-level flag.
std::optional<std::string> misspelled_verb(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.starts_with("-")) {
      if (std::find(kTopFlags.begin(), kTopFlags.end(), a) != kTopFlags.end()) continue;
      return fmt::format("unknown option '{}'{} (see vatic --help)", a, did_you_mean(a, kTopFlags));
    }
    auto verbs = verb_names(app);
    if (std::find(verbs.begin(), verbs.end(), a) != verbs.end()) return std::nullopt;
    auto best = closest(a, verbs);
    if (best) return fmt::format("unknown command '{}'; did you mean '{}'?", a, *best);
    return fmt::format("unknown command '{}' (see vatic --help)", a);
  }
  return std::nullopt;
}

// What a verb was given and does not take (allow_extras collected it).
std::optional<std::string> leftover(const CLI::App& cmd) {
  auto extra = cmd.remaining();
  if (extra.empty()) return std::nullopt;
  const std::string& first = extra.front();
  const std::string& verb = cmd.get_name();
  if (first.starts_with("-") && first.size() > 1)
    return fmt::format("unknown option '{}' for 'vatic {}'{} (see vatic {} --help)", first, verb,
                       did_you_mean(first, flag_names(cmd)), verb);
  return fmt::format("unexpected argument '{}' for 'vatic {}' (see vatic {} --help)", first, verb, verb);
}

}  // namespace

int main(int argc, char** argv) {
  // A peer hanging up while we write must be an error, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
  const bool json = json_requested(argc, argv);

  CLI::App app{"vatic: sturdy refs, attenuated tokens and scoped filesystem access"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "all subcommands' help");
  app.set_version_flag("--version", version_line(), "print the version and exit");
  app.footer(top_footer());

  Common id_args;
  bool id_init = false;
  auto* id = add_verb(app, "id", "print this store's vat id (creating the identity in an empty store)");
  id->add_flag("--init", id_init, "create a new identity even where the store shows it lost one");
  add_common(id, id_args);

  ServeArgs serve;
  auto* sv = add_verb(app, "serve", "serve DIR; print its root sturdy ref, write STORE/admin.ref");
  sv->add_option("DIR", serve.dir, "directory to serve")->required();
  sv->add_option("--listen", serve.listen, "host:port or unix:PATH (repeatable; default 127.0.0.1:7447)");
  sv->add_option("--advertise", serve.advertise,
                 "address hints to put in sturdy refs and to announce to peers for handoffs (default: the bound ones)");
  sv->add_flag("--read-only", serve.read_only, "serve read-only (no token can write)");
  sv->add_option("--log-level", serve.log_level,
                 "least level logged on stderr: trace, debug, info (default), warn, "
                 "error or off");
  sv->add_flag("--log-json", serve.log_json, "log one JSON object per line on stderr");
  std::string serve_skew;
  auto* o_skew = sv->add_option("--clock-skew", serve_skew,
                                "tolerated clock difference for expires/not-before (a duration; default 60s)");
  sv->add_flag("--init", serve.init, "create a new identity even where the store shows it lost one");
  sv->add_option("--max-connections", serve.max_connections,
                 "connections held at once; more are closed at once (default 900)")
      ->check(CLI::PositiveNumber);
  add_common(sv, serve.common);
  add_network(sv, serve.common);

  AttenuateArgs att;
  auto* at = add_verb(app, "attenuate", "narrow a sturdy ref offline; print the narrower one");
  at->add_option("TOKEN", att.token, "sturdy ref (or a file holding one)")->required();
  at->add_option("--path", att.paths, "narrow to this subdirectory (repeatable: each narrows the last)");
  std::string att_ops, att_expires, att_not_before, att_methods, att_max_bytes;
  auto* o_ops = at->add_option("--ops", att_ops, "allowed operations: read,list,write,create,delete");
  auto* o_exp = at->add_option("--expires", att_expires, "expiry: a duration (90s, 15m, 1h, 7d) or RFC 3339 time");
  auto* o_nb = at->add_option("--not-before", att_not_before, "start of validity: a duration or RFC 3339 time");
  at->add_option("--for", att.holders, "bind to the holder with this vat id");
  auto* o_m = at->add_option("--methods", att_methods, "allowed methods on the root object: m1,m2");
  auto* o_max = at->add_option("--max-bytes", att_max_bytes, "largest file written, most bytes per read");
  at->add_flag("--json", att.common.json, "machine-readable output: one JSON object on stdout, failures too");

  Common rv_args;
  std::string admin_ref, revoke_token;
  auto* rv = add_verb(app, "revoke", "revoke a sturdy ref (and all tokens derived from it)");
  rv->add_option("ADMIN-REF", admin_ref, "the admin sturdy ref (or STORE/admin.ref)")->required();
  rv->add_option("TOKEN", revoke_token, "the sturdy ref to revoke (or a file holding it)")->required();
  add_common(rv, rv_args);
  add_network(rv, rv_args);

  Common in_args;
  std::string inspect_ref, inspect_view = "stats";
  auto* in =
      add_verb(app, "inspect",
               "show a serving vat's stats, objects, supervisors, crashes, recorder, sessions, persistent objects");
  in->add_option("ADMIN-REF", inspect_ref, "the admin sturdy ref (or STORE/admin.ref)")->required();
  in->add_option("VIEW", inspect_view, "stats (default), objects, tree, crashes, recorder, sessions or persist");
  add_common(in, in_args);
  add_network(in, in_args);

  CallArgs call;
  auto* ca = add_verb(app, "call", "call any method of the object a sturdy ref names; JSON in, JSON out");
  ca->add_option("REF", call.ref, "sturdy ref (or a file holding one)")->required();
  ca->add_option("METHOD", call.method, "method name, as the object spells it (e.g. list, stat)")->required();
  ca->add_option("ARGS", call.args, "arguments, one JSON value each ('\"notes\"', 42, null, {\"bytes\":\"00ff\"})");
  add_common(ca, call.common);
  add_network(ca, call.common);

  FsArgs fs;
  struct FsCmd {
    const char* name;
    const char* help;
    int (*run)(const FsArgs&);
    bool path_required;
    const char* local;  // the optional local file argument, or null
    bool transfer;      // get and put: a progress line, so --quiet
  };
  const FsCmd fs_cmds[] = {
      {"ls", "list a directory", cmd_ls, false, nullptr, false},
      {"cat", "print a file", cmd_cat, true, nullptr, false},
      {"get", "download a file (never over an existing one without --force)", cmd_get, true, "OUT", true},
      {"put", "upload a file (from IN or stdin)", cmd_put, true, "IN", true},
      {"rm", "remove a file or empty directory", cmd_rm, true, nullptr, false},
      {"mkdir", "create a directory", cmd_mkdir, true, nullptr, false},
  };
  std::vector<std::pair<CLI::App*, const FsCmd*>> fs_apps;
  for (const auto& f : fs_cmds) {
    auto* cmd = add_verb(app, f.name, f.help);
    cmd->add_option("TOKEN", fs.token, "sturdy ref (or a file holding one)")->required();
    auto* p = cmd->add_option("PATH", fs.path, "path inside the directory the token grants");
    if (f.path_required) p->required();
    if (f.local) cmd->add_option(f.local, fs.local, "local file (- for stdout/stdin)");
    if (std::string_view(f.name) == "get")
      cmd->add_flag("-f,--force", fs.force, "replace OUT if it exists (only once the whole file has arrived)");
    if (f.transfer) cmd->add_flag("-q,--quiet", fs.quiet, "no progress line on stderr");
    add_common(cmd, fs.common);
    add_network(cmd, fs.common);
    fs_apps.emplace_back(cmd, &f);
  }

  if (argc < 2) {
    report_failure(kUsage, "no command given (see vatic --help)", json);
    return kUsage;
  }
  if (auto wrong = misspelled_verb(app, argc, argv)) {
    report_failure(kUsage, *wrong, json);
    return kUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --help-all, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    report_failure(kUsage, fmt::format("{} (see vatic --help)", e.what()), json);
    return kUsage;
  }
  for (auto* cmd : app.get_subcommands()) {
    if (auto extra = leftover(*cmd)) {
      report_failure(kUsage, *extra, json);
      return kUsage;
    }
  }

  try {
    if (*id) return cmd_id(id_args, id_init);
    if (*sv) {
      if (o_skew->count()) serve.clock_skew = serve_skew;
      return cmd_serve(serve);
    }
    if (*at) {
      auto given = [](CLI::Option* o, std::string& v) { return o->count() ? std::optional(v) : std::nullopt; };
      att.ops = given(o_ops, att_ops);
      att.expires = given(o_exp, att_expires);
      att.not_before = given(o_nb, att_not_before);
      att.methods = given(o_m, att_methods);
      att.max_bytes = given(o_max, att_max_bytes);
      return cmd_attenuate(att);
    }
    if (*rv) return cmd_revoke(rv_args, admin_ref, revoke_token);
    if (*in) return cmd_inspect(in_args, inspect_ref, inspect_view);
    if (*ca) return cmd_call(call);
    for (auto [cmd, f] : fs_apps) {
      if (!*cmd) continue;
      fs.token = read_ref_arg(fs.token);
      return f->run(fs);
    }
    report_failure(kUsage, "no command given (see vatic --help)", json);
    return kUsage;
  } catch (const CliError& e) {
    report_failure(e.code(), e.what(), json);
    return e.code();
  } catch (const vatic::VatError& e) {
    report_failure(exit_code_for(e.error()), e.error().reason, json);
    return exit_code_for(e.error());
  } catch (const std::exception& e) {
    report_failure(kOther, e.what(), json);
    return kOther;
  }
}
