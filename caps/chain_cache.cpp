#include "caps/chain_cache.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "caps/internal/token_mac.h"

namespace vatic::caps {

ChainCache::ChainCache(std::size_t capacity) : capacity_(capacity) {
  static_assert(crypto_shorthash_KEYBYTES == 16 && crypto_shorthash_BYTES == 8);
  if (capacity_ == 0) throw_error(ErrorKind::failed, "ChainCache: capacity must be positive (caller bug)");
  ensure_sodium();
  randombytes_buf(hash_key_.data(), hash_key_.size());
}

std::uint64_t ChainCache::hash(std::uint64_t parent, std::span<const std::uint8_t> bytes) const {
  std::uint8_t out[crypto_shorthash_BYTES];
  crypto_shorthash(out, bytes.data(), bytes.size(), hash_key_.data());
  std::uint64_t h;
  std::memcpy(&h, out, sizeof h);
  return h ^ (parent * 0x9e3779b97f4a7c15u);
}

const ChainCache::Node* ChainCache::find(std::uint64_t parent, std::span<const std::uint8_t> bytes) const {
  auto [it, end] = index_.equal_range(hash(parent, bytes));
  for (; it != end; ++it) {
    const Node& n = *it->second;
    // Caveats and object ids are public: an ordinary compare.
    if (n.parent == parent && std::equal(n.bytes.begin(), n.bytes.end(), bytes.begin(), bytes.end())) return &n;
  }
  return nullptr;
}

ChainCache::Node* ChainCache::add(std::uint64_t parent, std::span<const std::uint8_t> bytes, const ObjectId& object,
                                  const std::uint8_t* tag) {
  while (nodes_.size() >= capacity_ && !order_.empty()) {
    std::uint64_t oldest = order_.front();
    order_.pop_front();
    drop(oldest);
  }
  // The parent may just have gone (it was the oldest): then its chain is not
  // entered, rather than left as a node nothing can reach or revoke.
  auto up = nodes_.find(parent);
  if (parent != 0 && up == nodes_.end()) return nullptr;
  std::uint64_t id = next_id_++;
  Node& n = nodes_[id];  // unordered_map: the node stays where it is until erased
  n.id = id;
  n.parent = parent;
  n.bytes.assign(bytes.begin(), bytes.end());
  n.object = object;
  n.tag = SecretKey::from(std::span<const std::uint8_t, kTagBytes>(tag, kTagBytes));
  n.rid = internal::rid_of(tag);
  if (parent != 0) up->second.kids.push_back(id);
  index_.emplace(hash(parent, bytes), &n);
  order_.push_back(id);
  // Ids of nodes dropped by forget_* stay in order_ until they come first;
  // bound the list all the same.
  if (order_.size() > 2 * capacity_) std::erase_if(order_, [&](std::uint64_t i) { return !nodes_.contains(i); });
  return &n;
}

void ChainCache::drop(std::uint64_t id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return;
  auto [i, end] = index_.equal_range(hash(it->second.parent, it->second.bytes));
  for (; i != end; ++i) {
    if (i->second == &it->second) {
      index_.erase(i);
      break;
    }
  }
  // Leave the parent's list: a branch added and dropped again and again
  // (redeems of a revoked branch) must not grow it.
  if (auto up = nodes_.find(it->second.parent); it->second.parent != 0 && up != nodes_.end())
    std::erase(up->second.kids, id);
  std::vector<std::uint64_t> kids = std::move(it->second.kids);
  nodes_.erase(it);  // wipes its tag (and key)
  for (std::uint64_t k : kids) drop(k);
}

std::size_t ChainCache::entries() const {
  std::size_t kids = 0;
  for (const auto& [id, node] : nodes_) kids += node.kids.size();
  return nodes_.size() + kids + index_.size() + order_.size();
}

ChainCheck ChainCache::verify(const Token& token, const ObjectKey& key, bool with_revocation_ids,
                              const std::function<bool(const RevocationId&)>& revoked) {
  ChainCheck out;
  const std::size_t n = token.caveats.size();
  if (with_revocation_ids) out.revocation_ids.reserve(n + 1);
  std::array<std::uint8_t, kVatKeyBytes + kObjectIdBytes> root{};
  std::copy(token.vat.begin(), token.vat.end(), root.begin());
  std::copy(token.object.begin(), token.object.end(), root.begin() + kVatKeyBytes);

  // The longest cached prefix: a root made with this very key, then the
  // caveats in order.
  const Node* at = find(0, root);
  std::uint64_t stale = 0;  // a root made with another key: replaced if this chain verifies
  static_assert(kKeyBytes == 32);
  if (at != nullptr && crypto_verify_32(at->key.data(), key.data()) != 0) stale = std::exchange(at, nullptr)->id;
  std::size_t done = 0;  // caveats covered by `at`
  if (at != nullptr) {
    if (with_revocation_ids) out.revocation_ids.push_back(at->rid);
    while (done < n) {
      const Node* next = find(at->id, token.caveats[done]);
      if (next == nullptr) break;
      at = next;
      ++done;
      if (with_revocation_ids) out.revocation_ids.push_back(at->rid);
    }
  }

  // token.md, Redeeming step 4 for the rest of the chain.
  std::vector<SecretKey> fresh;  // tag_0 (without a root), then the tags past `done`
  const std::uint8_t* tag = nullptr;
  if (at != nullptr) {
    tag = at->tag.data();
  } else {
    fresh.reserve(n + 1);
    internal::tag_zero(fresh.emplace_back().data(), key, token.vat, token.object);
    tag = fresh.back().data();
    if (with_revocation_ids) out.revocation_ids.push_back(internal::rid_of(tag));
  }
  if (done < n && fresh.capacity() == 0) fresh.reserve(n - done);
  for (std::size_t i = done; i < n; ++i) {
    SecretKey& next = fresh.emplace_back();  // reserved: `tag` stays valid
    internal::tag_next(next.data(), tag, token.caveats[i]);
    tag = next.data();
    if (with_revocation_ids) out.revocation_ids.push_back(internal::rid_of(tag));
  }
  // token.md, Redeeming step 5: constant-time compare, cached or not.
  out.valid = crypto_verify_32(tag, token.tag.data()) == 0;
  if (!out.valid || fresh.empty()) return out;

  // Remember the verified chain past what was cached. (Adding may drop the
  // oldest nodes, `at` among them: hold its id, not the node.)
  // A revoked node is not entered, nor anything under it: the redeemer
  // refuses the token and would only drop it again.
  auto is_revoked = [&](const std::uint8_t* t) { return revoked && revoked(internal::rid_of(t)); };
  std::uint64_t parent = at != nullptr ? at->id : 0;
  std::size_t f = 0;
  if (parent == 0) {
    drop(stale);
    if (is_revoked(fresh[f].data())) return out;
    Node* r = add(0, root, token.object, fresh[f++].data());
    r->key = key.copy();
    parent = r->id;
  }
  for (std::size_t i = done; i < n && parent != 0; ++i) {
    if (is_revoked(fresh[f].data())) break;
    Node* added = add(parent, token.caveats[i], token.object, fresh[f++].data());
    parent = added != nullptr ? added->id : 0;
  }
  return out;
}

void ChainCache::forget_object(const ObjectId& object) {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, node] : nodes_)
    if (node.parent == 0 && node.object == object) ids.push_back(id);
  for (std::uint64_t id : ids) drop(id);
}

void ChainCache::forget_branch(const RevocationId& rid) {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, node] : nodes_)
    if (node.rid == rid) ids.push_back(id);
  for (std::uint64_t id : ids) drop(id);
}

void ChainCache::clear() {
  nodes_.clear();
  index_.clear();
  order_.clear();
}

}  // namespace vatic::caps
