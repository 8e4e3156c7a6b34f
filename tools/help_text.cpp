#include "tools/help_text.h"

#include <fmt/format.h>

#include <initializer_list>

namespace vatic::cli {
namespace {

// Which exit codes a verb can end with: `none` reads no sturdy ref, `offline`
// parses one but never reaches a vat, `remote` does both.
enum class Reach { none, offline, remote };

struct VerbHelp {
  std::string_view verb;
  Reach reach;
  std::initializer_list<std::string_view> examples;
};

// The examples use root.ref for a file holding a sturdy ref (as `vatic serve
// DIR > root.ref` writes it) and the default store's admin.ref.
constexpr std::string_view kAdmin = "~/.local/share/vatic/admin.ref";

const VerbHelp kVerbs[] = {
    {"id", Reach::none, {"vatic id", "vatic id --store ~/vat-b --json"}},
    {"serve",
     Reach::none,
     {"vatic serve ~/shared > root.ref", "vatic serve ~/shared --read-only --listen unix:/tmp/vatic.sock",
      "vatic serve ~/shared --listen 0.0.0.0:7447 --advertise files.example.org:7447",
      "vatic serve ~/shared --log-json --log-level warn 2>> serve.log"}},
    {"attenuate",
     Reach::offline,
     {"vatic attenuate root.ref --path public --ops read,list --expires 7d > public.ref",
      "vatic attenuate root.ref --for \"$(vatic id --store ~/vat-b)\" --max-bytes 1048576"}},
    {"revoke", Reach::remote, {"vatic revoke ~/.local/share/vatic/admin.ref public.ref"}},
    {"inspect",
     Reach::remote,
     {"vatic inspect ~/.local/share/vatic/admin.ref", "vatic inspect ~/.local/share/vatic/admin.ref recorder --json"}},
    {"call",
     Reach::remote,
     {"vatic call root.ref list '\"notes\"'", "vatic call root.ref stat '\"a.txt\"' --json",
      "vatic call root.ref read '\"a.txt\"' 0 100", "vatic call root.ref restrict '\"read,list\"' null"}},
    {"ls", Reach::remote, {"vatic ls root.ref", "vatic ls root.ref notes --json"}},
    {"cat", Reach::remote, {"vatic cat root.ref notes/b.txt"}},
    {"get",
     Reach::remote,
     {"vatic get root.ref photos/cat.jpg", "vatic get root.ref report.pdf ~/report.pdf --force",
      "vatic get root.ref log.txt - | grep ERROR"}},
    {"put", Reach::remote, {"vatic put root.ref uploads/data.csv data.csv", "tar c src | vatic put root.ref src.tar"}},
    {"rm", Reach::remote, {"vatic rm root.ref uploads/data.csv"}},
    {"mkdir", Reach::remote, {"vatic mkdir root.ref uploads"}},
};

std::string exit_codes(Reach reach) {
  std::string out = "Exit status:\n  0  success\n  1  any other failure\n  2  usage error (bad flags or arguments)\n";
  if (reach == Reach::remote)
    out +=
        "  3  refused: a bad, forged, revoked or expired token; a denied operation or path\n"
        "  4  the vat is unreachable, or does not hold the key its id names\n";
  else if (reach == Reach::offline)
    out += "  3  refused: the sturdy ref given is malformed\n";
  return out;
}

}  // namespace

std::string verb_footer(std::string_view verb) {
  for (const auto& v : kVerbs) {
    if (v.verb != verb) continue;
    std::string out = "Examples:\n";
    for (auto e : v.examples) out += fmt::format("  {}\n", e);
    out += "\n";
    out += exit_codes(v.reach);
    if (verb == "inspect" || verb == "revoke")
      out += fmt::format("\nADMIN-REF is the admin sturdy ref, or the file `vatic serve` writes it to ({}).\n", kAdmin);
    return out;
  }
  return "";
}

std::string top_footer() {
  return "A TOKEN or REF is a vatic:// sturdy ref, or the path of a file holding one.\n"
         "Run 'vatic VERB --help' for a verb's flags and examples, and 'man vatic' for more.\n\n" +
         exit_codes(Reach::remote);
}

}  // namespace vatic::cli
