// The vat layer in one include: vats, objects, references, promises, tasks,
// values and their codecs, timers, and groups of vats on threads.
#pragma once

#include "vat/byte_sink.h"
#include "vat/byte_stream.h"
#include "vat/cancel.h"
#include "vat/clock.h"
#include "vat/codec.h"
#include "vat/error.h"
#include "vat/introspect.h"
#include "vat/monitor.h"
#include "vat/object.h"
#include "vat/portable.h"
#include "vat/promise.h"
#include "vat/recorder.h"
#include "vat/ref.h"
#include "vat/simulation.h"
#include "vat/supervise/supervisor.h"
#include "vat/task.h"
#include "vat/timer.h"
#include "vat/value.h"
#include "vat/vat.h"
#include "vat/vat_group.h"
