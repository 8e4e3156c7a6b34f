// Address: where a vat listens or where to dial it: a TCP host and port, or a
// unix socket path. The text form is what sturdy refs and command lines carry:
//
//   host:port        example.org:4242, 127.0.0.1:4242
//   tcp:host:port    the same, with the transport spelled out
//   [v6]:port        [::1]:4242 (IPv6 literals need the brackets)
//   unix:/path       a unix stream socket
//
// Parsing is an untrusted-input boundary (addresses arrive inside sturdy refs),
// so it returns a Result (the address or the reason) instead of throwing. A value type; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "vat/result.h"

namespace vatic::captp {

struct Address {
  enum class Kind : unsigned char { tcp, unix_socket };

  Kind kind = Kind::tcp;
  std::string host;        // tcp: a name or an IP literal (IPv6 without brackets)
  std::uint16_t port = 0;  // tcp: 0 asks listen() for an ephemeral port
  std::string path;        // unix_socket

  static Address tcp(std::string host, std::uint16_t port) { return {Kind::tcp, std::move(host), port, {}}; }
  static Address unix_socket(std::string path) { return {Kind::unix_socket, {}, 0, std::move(path)}; }

  // Refused, with what is wrong, if `text` is not one of the forms above.
  static Result<Address> parse(std::string_view text);
  // The canonical text form: "host:port", "[v6]:port" or "unix:/path"; parse() reads it back.
  std::string to_string() const;

  friend bool operator==(const Address&, const Address&) = default;
};

}  // namespace vatic::captp
