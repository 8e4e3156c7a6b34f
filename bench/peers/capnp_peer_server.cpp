// capnp_peer_server ADDRESS: serves one BenchServer as the bootstrap
// capability of a capnp::EzRpcServer on ADDRESS ("127.0.0.1:0" or
// "unix:PATH"), prints "READY <port>" on stdout once it listens, and serves
// until it is killed. capnp_peer_client starts it (fork + exec) and kills it;
// it also dies with that client (PR_SET_PDEATHSIG), so a crashed client
// leaves no server behind.
#include <sys/prctl.h>

#include <csignal>
#include <cstdio>

#include <capnp/ez-rpc.h>

#include "bench/peers/capnp_peer.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s 127.0.0.1:0 | unix:PATH\n", argv[0]);
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  capnp::EzRpcServer server(kj::heap<capnp_peer::BenchServer>(), argv[1]);
  auto& ws = server.getWaitScope();
  unsigned port = server.getPort().wait(ws);
  capnp_peer::data_pattern();  // filled before the first timed data() call
  std::printf("READY %u\n", port);
  std::fflush(stdout);
  kj::NEVER_DONE.wait(ws);
}
