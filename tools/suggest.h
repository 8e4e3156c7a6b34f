// "Did you mean": the closest of a few known words (verbs, flags, views) to
// one that was mistyped, by Damerau-Levenshtein distance (the optimal string
// alignment variant: insertions, deletions, substitutions and swaps of two
// adjacent characters, each costing 1; case is ignored).
//
// Pure functions; any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace vatic::cli {

std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if close enough to be what was meant: at
// most 1 edit for words of up to 4 characters, 2 for longer ones (so "sever"
// finds "serve" and "cta" finds "cat", but "rm" does not find "ls"). Ties go to
// the earlier candidate. Leading dashes are compared too ("--jsn" -> "--json").
std::optional<std::string> closest(std::string_view word, std::span<const std::string> candidates);

}  // namespace vatic::cli
