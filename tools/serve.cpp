// `vatic serve DIR`: serves a directory through sturdy refs until SIGINT or
// SIGTERM. The root ref goes to stdout, the admin ref to STORE/admin.ref
// (mode 0600). Both are the same across restarts on the same store.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <initializer_list>

#include <fmt/format.h>

#include "caps/fs/file_io.h"
#include "caps/fs/upload.h"
#include "captp/node.h"
#include "sturdyrefs/fs_kind.h"
#include "sturdyrefs/host.h"
#include "sturdyrefs/store.h"
#include "tools/cli_util.h"
#include "tools/client.h"
#include "tools/commands.h"
#include "tools/serve_log.h"
#include "tools/store_lock.h"
#include "vat/json.h"
#include "vat/vat.h"

namespace vatic::cli {
namespace {

constexpr const char* kDefaultListen = "127.0.0.1:7447";

void write_private_file(const std::filesystem::path& p, const std::string& text) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw CliError(kOther, fmt::format("cannot write {}: {}", p.string(), std::strerror(errno)));
  std::string line = text + "\n";
  bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok) throw CliError(kOther, fmt::format("cannot write {}: {}", p.string(), std::strerror(errno)));
}

// Asio installs its handlers without SA_RESTART, so a signal arriving while
// we block writing to a full stderr pipe would fail that write with EINTR
// (and end the server with an error instead of a clean stop).
void restart_interrupted_calls(std::initializer_list<int> signals) {
  for (int sig : signals) {
    struct sigaction sa {};
    if (::sigaction(sig, nullptr, &sa) == 0) {
      sa.sa_flags |= SA_RESTART;
      ::sigaction(sig, &sa, nullptr);
    }
  }
}

// --clock-skew (spec/token.md, Clock skew), or the Host's default.
std::int64_t clock_skew_of(const ServeArgs& a) {
  if (!a.clock_skew) return sturdyrefs::kDefaultClockSkewSeconds;
  auto s = parse_duration(*a.clock_skew);
  if (!s) throw CliError(kUsage, fmt::format("--clock-skew: {:?} is not a duration (0s, 60s, 5m)", *a.clock_skew));
  return *s;
}

}  // namespace

int cmd_serve(const ServeArgs& a) {
  // First: a bad --log-level is a usage error before anything is opened. Made
  // before the vat, so it outlives what the vat's release logs.
  ServeLog log(a.log_level, a.log_json);
  const std::int64_t clock_skew = clock_skew_of(a);  // a usage error before anything starts
  std::error_code ec;
  auto dir = std::filesystem::canonical(a.dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    throw CliError(kOther, fmt::format("cannot serve {:?}: not a directory", a.dir));
  auto store_path = store_dir(a.common.store);
  // Before anything in the store is read or written (admin.ref included):
  // a second server on this store stops here.
  StoreLock lock = StoreLock::acquire(store_path);
  auto store =
      sturdyrefs::Store::open(store_path, a.init ? sturdyrefs::Create::explicitly : sturdyrefs::Create::if_empty);
  // Uploads a killed server left half-written (caps/fs/upload.h), before serving.
  if (std::size_t n = caps::sweep_partial_uploads(dir); n > 0)
    fmt::print(stderr, "vatic: removed {} unfinished upload{} in {}\n", n, n == 1 ? "" : "s", dir.string());

  // An operator's vat records what it serves: its cost (tens of ns a
  // delivery) is noise beside a network call, and `vatic inspect` reads it.
  Vat vat(VatOptions{.name = "vatic-serve", .recorder = {.enabled = true}, .log = log.options()});
  caps::FileIo io(vat);
  captp::NodeOptions node_opts = node_options(a.common);
  if (a.max_connections > 0) node_opts.max_connections = a.max_connections;
  // A server does not dial on a client's word: a reference a client passes
  // in (a sink for File.stream_to, say) that names a third vat is used
  // through that client's proxy, never by connecting to addresses the client
  // chose from the server's network position (spec/captp.md 11.5, H6).
  node_opts.handoff_dial = false;
  // The advertised addresses are also what the vat announces to its peers
  // for three-party handoffs (spec/captp.md 11, H1).
  for (const std::string& at : a.advertise)
    if (auto parsed = captp::Address::parse(at)) node_opts.announce.push_back(*parsed);
  captp::Node node(vat, store->identity(), node_opts);

  // Handlers go in before anything is printed: whoever reads the root ref may
  // stop the server at once, and must get a clean exit, not a default kill.
  boost::asio::signal_set signals(vat.io(), SIGINT, SIGTERM);
  restart_interrupted_calls({SIGINT, SIGTERM});
  signals.async_wait([&](const boost::system::error_code& err, int sig) {
    if (err) return;
    const char* name = sig == SIGINT ? "SIGINT" : "SIGTERM";
    log.write(LogEvent{
        LogLevel::info, "serve", "serve.stopping", fmt::format("{} received, stopping", name), {{"signal", name}}});
    node.close("server stopping");
    vat.stop();
  });
  sturdyrefs::Host host(vat, *store, sturdyrefs::HostOptions{{}, unix_now, clock_skew});
  // Only the directory given, served as asked: the store keeps every directory
  // an earlier `serve` minted a ref for, and reviving those too would keep
  // serving a directory no longer named, or writable refs behind --read-only.
  const std::string served = sturdyrefs::fs_dir_params(dir.string(), a.read_only);
  sturdyrefs::Kind fs_kind = sturdyrefs::fs_dir_kind(vat, io);
  fs_kind.revive = [revive = std::move(fs_kind.revive), served](const sturdyrefs::StoredObject& o) {
    if (o.params != served) throw_error(ErrorKind::failed, "refused: this vat does not serve that directory now");
    return revive(o);
  };
  host.add_kind(sturdyrefs::kFsDirKind, std::move(fs_kind));

  std::vector<std::string> bound;
  for (const auto& at : a.listen.empty() ? std::vector<std::string>{kDefaultListen} : a.listen) {
    try {
      bound.push_back(node.listen(at).to_string());
    } catch (const VatError& e) {
      throw CliError(kOther, fmt::format("cannot listen on {}: {}", at, e.error().reason));
    }
  }
  host.set_hints(a.advertise.empty() ? bound : a.advertise);
  host.serve_on(node);

  std::string root = host.sturdy_ref(host.token_for("root", sturdyrefs::kFsDirKind, served));
  auto admin_file = store_path / "admin.ref";
  write_private_file(admin_file, host.sturdy_ref(host.admin_token()));

  if (a.common.json) {
    boost::json::array listen;
    for (const auto& b : bound) listen.push_back(json_text(b));
    print_json(boost::json::object{{"root", json_text(root)},
                                   {"admin_ref_file", json_text(admin_file.string())},
                                   {"vat_id", json_text(node.id().to_text())},
                                   {"listen", std::move(listen)},
                                   {"file_io", json_text(caps::to_string(io.backend()))}});
  } else {
    fmt::print("{}\n", root);
  }
  std::fflush(stdout);
  log.start();
  log.write(LogEvent{LogLevel::info,
                     "serve",
                     "serve.started",
                     printable(fmt::format("serving {} as vat {} on {} (admin ref in {}; file I/O: {})", dir.string(),
                                           node.id().to_text(), fmt::join(bound, ", "), admin_file.string(),
                                           caps::to_string(io.backend())),
                               false),
                     {{"dir", printable(dir.string(), false)},
                      {"vat_id", node.id().to_text()},
                      {"admin_ref_file", printable(admin_file.string(), false)},
                      {"file_io", std::string(caps::to_string(io.backend()))}}});

  vat.run();
  return kOk;
}

}  // namespace vatic::cli
