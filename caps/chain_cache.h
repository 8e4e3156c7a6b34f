// ChainCache: the tag chains (spec/token.md, "Tag chain") of tokens a
// redeemer has verified, kept so that verifying the same token again, or one
// that extends it, recomputes only the caveats it has not verified before.
// Each keyed BLAKE2b of the chain costs two compressions, so a token with
// three caveats costs eight of them to verify from scratch; a redeemer that
// sees the same sturdy refs again and again (every reconnection redeems) pays
// that for nothing.
//
// It is a tree of verified prefixes: a root per (vat, object id, object key)
// holding tag_0, and under it one node per caveat holding tag_i and rid_i.
// Only chains whose tag verified are entered, so every node is a prefix of a
// valid token. A lookup walks down by the caveats' bytes (public) as far as
// the tree goes, computes the rest of the chain from the deepest tag found,
// and compares the result with the token's tag in constant time
// (crypto_verify_32), exactly as a verification from scratch ends: a cached
// prefix under a forged tail or a forged tag fails that compare. A root is
// bound to its object key (compared in constant time), so a token is never
// judged against a tag_0 made with another key.
//
// Revocation: forget_object and forget_branch drop (and wipe) the cached
// chains that revocation cuts: the object's whole tree, or the node whose
// rid is revoked and everything under it. A redeemer that passes verify()
// its store's revoked-branch check keeps a revoked chain from being entered
// at all (only its valid prefix is), so that redeeming revoked tokens again
// and again adds and drops nothing. The redeemer still asks its store
// whether an object or rid is revoked on every redeem (token.md, steps 3 and
// 6); the cache only saves the hashing of step 4.
//
// What it tells a peer: a redeem of a cached prefix is faster, so a peer that
// knows an object id and a chain of caveats can tell whether that chain was
// redeemed lately. Object ids are 128 random bits found only in tokens, so
// this tells only holders of (a prefix of) the token something about its use.
//
// Bounded: at most `capacity` nodes; when full, the oldest root or node is
// dropped with everything under it. A dropped node leaves its parent's list
// of children, so that nothing grows with the nodes added and dropped. Tags and object keys are kept in Secret
// buffers, wiped when dropped. Not thread-safe: one per redeemer
// (a vat's Host), used on its thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <unordered_map>
#include <vector>

#include "caps/token.h"

namespace vatic::caps {

class ChainCache {
 public:
  static constexpr std::size_t kDefaultCapacity = 4096;
  explicit ChainCache(std::size_t capacity = kDefaultCapacity);

  // verify_chain (token.h) with the chains seen before: the same verdict and
  // revocation ids, computed only past the longest cached prefix. A valid
  // chain is remembered, up to (not including) the first node for which
  // `revoked` (the store's token.md step 6 check, if given) says true.
  ChainCheck verify(const Token& token, const ObjectKey& key, bool with_revocation_ids = true,
                    const std::function<bool(const RevocationId&)>& revoked = {});

  // token.md, Revocation: the object's chains, or those through `rid`.
  void forget_object(const ObjectId& object);
  void forget_branch(const RevocationId& rid);
  void clear();

  std::size_t size() const { return nodes_.size(); }
  // What the cache holds, counted in entries of its tables and lists (nodes,
  // child links, index entries, eviction list): bounded by a multiple of the
  // capacity whatever the peers redeem.
  std::size_t entries() const;

 private:
  struct Node {
    std::uint64_t id = 0;
    std::uint64_t parent = 0;         // 0 for a root
    Bytes bytes;                      // a root: vat id || object id; otherwise the caveat
    ObjectId object{};                // every node: for forget_object
    SecretKey key;                    // a root only: the object key its tag_0 was made with
    SecretKey tag;                    // tag_i
    RevocationId rid{};               // rid_i = H_revoke(tag_i)
    std::vector<std::uint64_t> kids;  // a dropped node leaves its parent's list
  };

  std::uint64_t hash(std::uint64_t parent, std::span<const std::uint8_t> bytes) const;
  // The node under `parent` whose bytes are `bytes`, or null.
  const Node* find(std::uint64_t parent, std::span<const std::uint8_t> bytes) const;
  // A new node under `parent` (0: a new root), or null if the parent is gone.
  Node* add(std::uint64_t parent, std::span<const std::uint8_t> bytes, const ObjectId& object, const std::uint8_t* tag);
  void drop(std::uint64_t id);  // with everything under it

  std::size_t capacity_;
  std::array<std::uint8_t, 16> hash_key_{};  // SipHash key: tokens come from peers
  std::uint64_t next_id_ = 1;                // ids are never reused, so a dropped parent has no heirs
  std::unordered_map<std::uint64_t, Node> nodes_;
  std::deque<std::uint64_t> order_;                      // ids, oldest first (some already dropped)
  std::unordered_multimap<std::uint64_t, Node*> index_;  // hash(parent, bytes) -> node (of nodes_)
};

}  // namespace vatic::caps
