#include "captp/address.h"

#include <sys/un.h>

#include <boost/asio/ip/address_v6.hpp>

namespace vatic::captp {
namespace {

constexpr std::size_t kMaxAddressText = 1024;
constexpr std::size_t kMaxHostName = 253;  // RFC 1035, without the trailing dot
// sockaddr_un's path, less the terminating NUL.
constexpr std::size_t kMaxUnixPath = sizeof(sockaddr_un{}.sun_path) - 1;

Refusal fail(std::string text) { return refuse(std::move(text)); }

std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// Host names and IPv4 literals: letters, digits, '-', '.', '_' (seen in
// container and service names), not starting with '-' or '.'.
bool valid_host_name(std::string_view h) {
  if (h.empty() || h.size() > kMaxHostName || h.front() == '-' || h.front() == '.') return false;
  for (char c : h) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Result<Address> parse_unix(std::string_view path) {
  if (path.empty()) return fail("unix socket address has an empty path");
  if (path.find('\0') != std::string_view::npos) return fail("unix socket path contains a NUL byte");
  if (path.size() > kMaxUnixPath)
    return fail("unix socket path is " + std::to_string(path.size()) + " bytes, longer than the " +
                std::to_string(kMaxUnixPath) + " the kernel accepts");
  return Address::unix_socket(std::string(path));
}

Result<Address> parse_tcp(std::string_view s) {
  std::string_view host;
  std::string_view rest;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos) return fail("'[' opens an IPv6 address that no ']' closes");
    host = s.substr(1, close - 1);
    boost::system::error_code ec;
    boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return fail("'" + std::string(host) + "' is not an IPv6 address");
    rest = s.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return fail("missing ':port' after the IPv6 address");
    rest.remove_prefix(1);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return fail("missing ':port' (expected host:port)");
    host = s.substr(0, colon);
    rest = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return fail("an IPv6 address needs brackets, as in [::1]:4242");
    if (host.empty()) return fail("missing host before ':port'");
    if (!valid_host_name(host)) return fail("'" + std::string(host) + "' is not a valid host name");
  }
  auto port = parse_port(rest);
  if (!port) return fail("'" + std::string(rest) + "' is not a port number (0-65535)");
  return Address::tcp(std::string(host), *port);
}

}  // namespace

Result<Address> Address::parse(std::string_view text) {
  if (text.size() > kMaxAddressText) return fail("address is longer than 1024 bytes");
  if (text.empty()) return fail("empty address");
  if (text.starts_with("unix:")) return parse_unix(text.substr(5));
  if (text.starts_with("tcp:")) text.remove_prefix(4);
  return parse_tcp(text);
}

std::string Address::to_string() const {
  if (kind == Kind::unix_socket) return "unix:" + path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

}  // namespace vatic::captp
