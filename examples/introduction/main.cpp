// introduction: three-party handoff between three processes (README.md,
// "The introduction example"; spec/captp.md 11).
//
//   introduction host --listen ADDR
//   introduction introducer --listen ADDR --host-id VATID --host-at ADDR
//   introduction recipient --introducer-id VATID --introducer-at ADDR [--calls N]
//
// each with --no-handoff to leave handoff off (B then proxies C's object).
// ADDR is "unix:/path" or "host:port"; port 0 picks a free port, printed.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <exception>

#include "examples/introduction/roles.h"

int main(int argc, char** argv) {
  // A peer hanging up while we write is an error on that session, not a signal.
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"introduction: a reference handed from one process to another survives its introducer's death"};
  app.require_subcommand(1);

  introduction::HostArgs host;
  auto* h = app.add_subcommand("host", "serve a Counter (prints 'host VATID ADDR', then 'ready')");
  h->add_option("--listen", host.listen, "host:port or unix:PATH")->required();
  h->add_flag("!--no-handoff", host.handoff, "do not offer three-party handoff");

  introduction::IntroducerArgs intro;
  auto* b = app.add_subcommand("introducer", "hand out the host's Counter (prints 'introducer VATID ADDR', 'ready')");
  b->add_option("--listen", intro.listen, "host:port or unix:PATH")->required();
  b->add_option("--host-id", intro.host_id, "the host's vat id")->required();
  b->add_option("--host-at", intro.host_at, "the host's address")->required();
  b->add_flag("!--no-handoff", intro.handoff, "do not offer three-party handoff (then B proxies)");

  introduction::RecipientArgs recipient;
  auto* a = app.add_subcommand("recipient", "get the Counter through the introducer and call it; commands on stdin");
  a->add_option("--introducer-id", recipient.introducer_id, "the introducer's vat id")->required();
  a->add_option("--introducer-at", recipient.introducer_at, "the introducer's address")->required();
  a->add_option("--calls", recipient.calls, "calls before 'ready'")->check(CLI::Range(1, 1000));
  a->add_flag("!--no-handoff", recipient.handoff, "do not offer three-party handoff");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (*h) return introduction::host_main(host);
    if (*b) return introduction::introducer_main(intro);
    return introduction::recipient_main(recipient);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "introduction: %s\n", e.what());
    return 1;
  }
}
