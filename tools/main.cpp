// vatic: the command-line tool. CLI11 parses; commands.h does the work; this
// file maps every failure to one line on stderr and the exit-code contract of
// cli_util.h.
#include <CLI/CLI.hpp>

#include <csignal>
#include <exception>

#include <fmt/format.h>

#include "tools/cli_util.h"
#include "tools/commands.h"
#include "vat/error.h"

using namespace vatic::cli;

namespace {

void add_common(CLI::App* cmd, Common& c, bool json = true) {
  cmd->add_option("--store", c.store, "store directory (identity, keys; default $VATIC_STORE or ~/.local/share/vatic)");
  if (json) cmd->add_flag("--json", c.json, "machine-readable output (one JSON object)");
}

}  // namespace

int main(int argc, char** argv) {
  // A peer hanging up while we write must be an error, not a signal.
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"vatic: sturdy refs, attenuated tokens and scoped filesystem access"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "all subcommands' help");

  Common id_args;
  auto* id = app.add_subcommand("id", "print this store's vat id (creating the identity if missing)");
  add_common(id, id_args);

  ServeArgs serve;
  auto* sv = app.add_subcommand("serve", "serve DIR; print its root sturdy ref, write STORE/admin.ref");
  sv->add_option("DIR", serve.dir, "directory to serve")->required();
  sv->add_option("--listen", serve.listen, "host:port or unix:PATH (repeatable; default 127.0.0.1:7447)");
  sv->add_option("--advertise", serve.advertise, "address hints to put in sturdy refs (default: the bound ones)");
  sv->add_flag("--read-only", serve.read_only, "serve read-only (no token can write)");
  add_common(sv, serve.common);

  AttenuateArgs att;
  auto* at = app.add_subcommand("attenuate", "narrow a sturdy ref offline; print the narrower one");
  at->add_option("TOKEN", att.token, "sturdy ref (or a file holding one)")->required();
  at->add_option("--path", att.paths, "narrow to this subdirectory (repeatable: each narrows the last)");
  std::string att_ops, att_expires, att_not_before, att_methods, att_max_bytes;
  auto* o_ops = at->add_option("--ops", att_ops, "allowed operations: read,list,write,create,delete");
  auto* o_exp = at->add_option("--expires", att_expires, "expiry: a duration (90s, 15m, 1h, 7d) or RFC 3339 time");
  auto* o_nb = at->add_option("--not-before", att_not_before, "start of validity: a duration or RFC 3339 time");
  at->add_option("--for", att.holders, "bind to the holder with this vat id");
  auto* o_m = at->add_option("--methods", att_methods, "allowed methods on the root object: m1,m2");
  auto* o_max = at->add_option("--max-bytes", att_max_bytes, "largest file written, most bytes per read");
  at->add_flag("--json", att.common.json, "machine-readable output");

  Common rv_args;
  std::string admin_ref, revoke_token;
  auto* rv = app.add_subcommand("revoke", "revoke a sturdy ref (and all tokens derived from it)");
  rv->add_option("ADMIN-REF", admin_ref, "the admin sturdy ref (or STORE/admin.ref)")->required();
  rv->add_option("TOKEN", revoke_token, "the sturdy ref to revoke (or a file holding it)")->required();
  add_common(rv, rv_args);

  Common in_args;
  std::string inspect_ref, inspect_view = "stats";
  auto* in =
      app.add_subcommand("inspect", "show a serving vat's stats, objects, supervisors, crashes, recorder, sessions");
  in->add_option("ADMIN-REF", inspect_ref, "the admin sturdy ref (or STORE/admin.ref)")->required();
  in->add_option("VIEW", inspect_view, "stats (default), objects, tree, crashes, recorder or sessions");
  add_common(in, in_args);

  FsArgs fs;
  struct FsCmd {
    const char* name;
    const char* help;
    int (*run)(const FsArgs&);
    bool path_required;
    const char* local;  // the optional local file argument, or null
  };
  const FsCmd fs_cmds[] = {
      {"ls", "list a directory", cmd_ls, false, nullptr},
      {"cat", "print a file", cmd_cat, true, nullptr},
      {"get", "download a file", cmd_get, true, "OUT"},
      {"put", "upload a file (from IN or stdin)", cmd_put, true, "IN"},
      {"rm", "remove a file or empty directory", cmd_rm, true, nullptr},
      {"mkdir", "create a directory", cmd_mkdir, true, nullptr},
  };
  std::vector<std::pair<CLI::App*, const FsCmd*>> fs_apps;
  for (const auto& f : fs_cmds) {
    auto* cmd = app.add_subcommand(f.name, f.help);
    cmd->add_option("TOKEN", fs.token, "sturdy ref (or a file holding one)")->required();
    auto* p = cmd->add_option("PATH", fs.path, "path inside the directory the token grants");
    if (f.path_required) p->required();
    if (f.local) cmd->add_option(f.local, fs.local, "local file (- for stdout/stdin)");
    add_common(cmd, fs.common);
    fs_apps.emplace_back(cmd, &f);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    print_failure(fmt::format("{} (see vatic --help)", e.what()));
    return kUsage;
  }

  try {
    if (*id) return cmd_id(id_args);
    if (*sv) return cmd_serve(serve);
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
    for (auto [cmd, f] : fs_apps) {
      if (!*cmd) continue;
      fs.token = read_ref_arg(fs.token);
      return f->run(fs);
    }
    print_failure("no command given (see vatic --help)");
    return kUsage;
  } catch (const CliError& e) {
    print_failure(e.what());
    return e.code();
  } catch (const vatic::VatError& e) {
    print_failure(e.error().reason);
    return exit_code_for(e.error());
  } catch (const std::exception& e) {
    print_failure(e.what());
    return kOther;
  }
}
