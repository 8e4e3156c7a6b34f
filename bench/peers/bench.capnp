@0xd81f5c315f990f3e;
# The Cap'n Proto side of the peer comparison (bench/README.md, "Comparing with
# the peer"): the same three operations as captp_bench's served `Bench` object,
# so that every workload runs unchanged against both systems.

interface Bench {
  echo @0 (x :Int64) -> (x :Int64);
  # Answers with the argument it was given.

  next @1 () -> (b :Bench);
  # Answers with a capability to a new server object, one heap object per call
  # (what a chain of `next` calls pipelines on).

  data @2 (n :UInt32) -> (d :Data);
  # Answers with n bytes (at most 8 MiB) copied from a pattern filled once.
}
