# Shared by scripts/*: configure and build one tree.
# usage: build_tree DIR BUILD_TYPE [extra cmake args...]
build_tree() {
  local dir=$1 type=$2
  shift 2
  cmake -S "$ROOT" -B "$ROOT/$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null
  cmake --build "$ROOT/$dir" -j "$(nproc)"
}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
