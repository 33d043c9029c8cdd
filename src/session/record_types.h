// The tracker's outputs are the record module's types (src/record/); the
// session code names them unqualified.
#pragma once

#include "record/contact_event.h"
#include "record/session_record.h"

namespace flowtrail::session {

using record::Confidence;
using record::ConnState;
using record::ContactEvent;
using record::ContactOutcome;
using record::EndReason;
using record::SessionRecord;
using record::ShutdownKind;
using record::Side;

}  // namespace flowtrail::session
