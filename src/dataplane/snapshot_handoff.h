// An analytics snapshot on its own protobuf arena: what the analytics lcore
// hands the exporter through the snapshot ring (the receiver deletes it).
// A snapshot of a million-session capture is ~10^6 small messages; on the
// heap each was a malloc, a first touch of fresh pages and a free. On an
// arena they are carved from a few large blocks and go in one release.
#pragma once

#include <google/protobuf/arena.h>

#include "flowtrail/v1/session.pb.h"

namespace flowtrail::dataplane {

struct SnapshotHandoff {
  static google::protobuf::ArenaOptions Options() {
    google::protobuf::ArenaOptions o;
    o.start_block_size = size_t{64} << 10;
    o.max_block_size = size_t{4} << 20;
    return o;
  }

  google::protobuf::Arena arena{Options()};
  v1::AnalyticsSnapshot* const snapshot =
      google::protobuf::Arena::CreateMessage<v1::AnalyticsSnapshot>(&arena);
};

}  // namespace flowtrail::dataplane
