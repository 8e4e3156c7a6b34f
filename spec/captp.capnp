# vatic CapTP wire schema, version 1. Normative: spec/captp.md explains the
# model and the rules; this file fixes the encoding. Every frame of a session
# (spec/handshake.md) carries one or more Message values, each in the standard
# Cap'n Proto stream framing (segment table, then segments), unpacked.
#
# Ids are small integers scoped to one session and one direction: an id names
# nothing outside the session that allocated it. Four tables per side:
#   exports   (ids this side chose for objects and promises it sent),
#   imports   (the peer's export ids this side holds),
#   questions (ids this side chose for calls it sent and awaits),
#   answers   (the peer's question ids, for calls this side is serving).
@0xc4a1f3a2b9d5e601;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("vatic::captp::wire");

struct Message {
  union {
    unimplemented @0 :Message;
    # The receiver did not understand this message (an operation from a newer
    # version) and echoes it back unchanged. Never sent in reply to another
    # `unimplemented`.

    abort @1 :ErrorInfo;
    # The sender ends the session because of a protocol violation or a local
    # decision; the reason says which. The connection closes after it.

    bootstrap @2 :Bootstrap;
    call @3 :Call;
    return @4 :Return;
    finish @5 :Finish;
    resolve @6 :Resolve;
    release @7 :Release;
    disembargo @8 :Disembargo;

    # Three-party handoff (spec/captp.md 11). Sent only on a session that
    # negotiated the `handoff` feature (spec/handshake.md): a 1.0 peer echoes
    # these in `unimplemented`, which aborts the session.
    provide @9 :Provide;
    accept @10 :Accept;
    announce @11 :Announce;
  }
}

struct Bootstrap {
  # Asks for the peer's bootstrap object: the one object a vat offers to any
  # authenticated peer (in vatic, the sturdy-ref gateway). Answered like a call.
  questionId @0 :UInt32;
}

struct PromisedAnswer {
  # The eventual result of a question of the sender of this descriptor (or,
  # inside a CapDescriptor, of the receiver), optionally followed into record
  # fields: path ["a", "b"] designates result.a.b.
  questionId @0 :UInt32;
  path @1 :List(Text);
}

struct MessageTarget {
  union {
    importedCap @0 :UInt32;
    # An export id of the receiver (the sender imported it).

    promisedAnswer @1 :PromisedAnswer;
    # An answer of the receiver to a question the sender asked: pipelining.
  }
}

struct Call {
  questionId @0 :UInt32;
  # Chosen by the caller; unused (must be 0) when sendReturn is false. An id
  # that is still in the receiver's answer table aborts the session.

  target @1 :MessageTarget;

  method @2 :Text;
  # The method's name as the target's class lists it.

  args @3 :List(Value);

  sendReturn @4 :Bool = true;
  # False for a one-way send: no answer entry, no return, no pipelining.
}

struct Return {
  answerId @0 :UInt32;
  # The question id of the call (or bootstrap) being answered.

  union {
    value @1 :Value;
    error @2 :ErrorInfo;
    canceled @3 :Void;
    # The caller sent finish before the result existed; the answer is gone.
  }
}

struct Finish {
  # The caller no longer needs the answer: sent once the return arrived and
  # no reference to the answer remains (so the receiver may forget it), or
  # earlier to cancel the call. A question id may be reused only after both
  # its return arrived and its finish was sent.
  questionId @0 :UInt32;
}

struct Resolve {
  # A promise this side exported (as senderPromise) has settled. Sent unasked,
  # once per export id: right after the message that first names the id when
  # the promise had settled already (spec/captp.md 4, "Promises as values").
  # The outcome travels here whole; the receiver need not ask for it.
  promiseId @0 :UInt32;
  union {
    value @1 :Value;
    error @2 :ErrorInfo;
  }
}

struct Release {
  # The sender drops `count` of the references it received for the receiver's
  # export `id`. Counts make release race-free: the exporter counts every time
  # it sends an id, the importer counts every time it receives it, and the
  # export is freed only when the counts meet. A count above what was sent
  # aborts the session.
  id @0 :UInt32;
  count @1 :UInt32;
}

struct Disembargo {
  # Keeps E-order when a promise resolves to a reference that travels another
  # path (spec/captp.md, "Embargoes").
  target @0 :MessageTarget;
  union {
    senderLoopback @1 :UInt32;
    # From the side that saw the resolution: the target (a promise on the
    # receiver's side that resolved to something of the sender's) is asked to
    # reflect this embargo id back once every message it forwarded earlier has
    # been sent.

    receiverLoopback @2 :UInt32;
    # The reflection: every message sent earlier through the old path has
    # arrived; the embargo with this id may lift. `target` is unused.

    accept @3 :Data;
    # Handoff (spec/captp.md 11, H7 and H9), from the recipient to the introducer:
    # the recipient has sent an embargoed Accept for the provision with this
    # 32-byte nonce and sends nothing more through the vine. `target` is
    # importedCap of the vine. The introducer answers with `provide` to the
    # host once every call that came through the vine before this message
    # has gone on to the host.
    # Only with the `handoff` feature: a 1.0 receiver aborts the session.

    provide @4 :UInt32;
    # Handoff (H9 and H10), from the introducer to the host: lifts the embargo of the
    # Accept for the provision made by the introducer's Provide with this
    # question id. Every call the introducer forwarded through the vine was
    # sent before it. `target` is unused (importedCap 0).
    # Only with the `handoff` feature: a 1.0 receiver aborts the session.

    chainedLoopback @5 :UInt32;
    # Handoff (spec/captp.md 5, "Chained loopback"): from a vat whose reply to a
    # senderLoopback of another session waits for calls it forwarded along
    # `target` over this session. The receiver answers `receiverLoopback` with
    # this id as it answers a senderLoopback (once every call it received along
    # `target` before this message has been delivered or forwarded), but the
    # path need not lead back to the sender.
    # Only with the `handoff` feature: a 1.0 receiver aborts the session.
  }
}

struct Provide {
  # Handoff (spec/captp.md 11, H3), from the introducer B to the host C, on
  # the session over which B holds the target: "keep `target` for the vat
  # `recipient`, who will ask for it with `nonce`". The question id enters
  # C's answer table and stands for the provision: C returns on it (null)
  # once the recipient's Accept is honoured, or with an error when the
  # provision ends otherwise; B's Finish before that cancels the provision.
  questionId @0 :UInt32;

  target @1 :MessageTarget;
  # What is provided, named as a call's target is.

  recipient @2 :Data;
  # The 32-byte vat id of the only vat that may accept the provision.

  nonce @3 :Data;
  # 32 bytes from the introducer's CSPRNG; names the provision together with
  # the introducer's vat id.
}

struct Accept {
  # Handoff (H7), from the recipient A to the host C: "give me what the vat
  # `provider` provided for me under `nonce`". Answered like a call: the
  # return carries the provided reference, described in the C-A session's
  # terms; a refusal is an error, never an abort.
  questionId @0 :UInt32;

  provider @1 :Data;
  # The 32-byte vat id of the introducer: the authenticated peer of the
  # session the descriptor came over, never a value the descriptor chose.

  nonce @2 :Data;
  # The 32-byte nonce of the thirdPartyHosted descriptor.

  embargo @3 :Bool;
  # True when calls went toward the object through the introducer (the vine,
  # or a promise that resolved to this descriptor): C holds the return, and
  # every call pipelined on it, until the introducer's Disembargo `provide`
  # for this provision has arrived (H10).
}

struct Announce {
  # Handoff (H1): the addresses the sender listens on, so that a vat that
  # introduces it to others can pass them on as hints. Sent first on a
  # session that negotiated `handoff`, and again when they change; the last
  # one received counts.
  hints @0 :List(Text);
  # At most 8, each the canonical text of an address (spec/sturdyref.md,
  # "Hints", before percent-encoding) of at most 255 bytes.
}

struct ThirdPartyHosted {
  # Handoff (H4): a reference to an object in a third vat, the host, which
  # the receiver picks up there with an Accept.
  host @0 :Data;
  # The host's 32-byte vat id.

  hostInstance @1 :Data;
  # The 16-byte instance id of the running host that holds the provision
  # (spec/handshake.md, "Instance ids"): the accept goes to that instance.

  hints @2 :List(Text);
  # Where the host may be dialled (as in Announce): at most 8.

  nonce @3 :Data;
  # The provision's 32-byte nonce.

  vine @4 :UInt32;
  # An export of the sender standing for the same object (a proxy through
  # the sender), counted like senderHosted: the receiver sends through it
  # until it switches to the host, and falls back to it if the handoff fails.
}

struct ErrorInfo {
  # Why something broke. Only the kind and a reason text cross the wire:
  # never a stack trace, a file name or a local address.
  kind @0 :Kind;
  reason @1 :Text;

  enum Kind {
    failed @0;
    disconnected @1;
    overloaded @2;
    unimplemented @3;
  }
}

struct Value {
  # Passable data: the wire form of vatic::Value.
  union {
    null @0 :Void;
    bool @1 :Bool;
    int @2 :Int64;
    float @3 :Float64;
    text @4 :Text;
    bytes @5 :Data;
    list @6 :List(Value);
    record @7 :Record;
    cap @8 :CapDescriptor;
    error @9 :ErrorInfo;
  }
}

struct Record {
  label @0 :Text;
  fields @1 :List(Field);
}

struct Field {
  name @0 :Text;
  value @1 :Value;
}

struct CapDescriptor {
  # A reference inside a Value, as the sender of the message sees it.
  union {
    senderHosted @0 :UInt32;
    # An object the sender exports under this id. The receiver counts one
    # more reference to it (see Release).

    senderPromise @1 :UInt32;
    # A promise the sender exports under this id, pending or settled; a
    # Resolve follows when it settles (at once if it has). Counted like
    # senderHosted.

    receiverHosted @2 :UInt32;
    # One of the receiver's own exports, coming back home.

    receiverAnswer @3 :PromisedAnswer;
    # The (eventual) result of a call the receiver is answering, named by the
    # sender's question id and optionally followed into record fields: a
    # promise the sender got from the receiver, passed back to it.

    thirdPartyHosted @4 :ThirdPartyHosted;
    # An object of a third vat, handed off (spec/captp.md 11). Sent only on a
    # session that negotiated `handoff`: a 1.0 receiver echoes a call that
    # carries it in `unimplemented` and aborts the session on any other
    # message that does.
  }
}
