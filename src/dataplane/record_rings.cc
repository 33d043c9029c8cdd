#include "dataplane/record_rings.h"

#include <rte_errno.h>

#include "absl/strings/str_cat.h"

namespace flowtrail::dataplane {
namespace {

absl::StatusOr<rte_ring*> Create(const std::string& prefix, unsigned index, unsigned size,
                                 unsigned elem_size, int socket) {
  const std::string name = absl::StrCat(prefix, index);
  rte_ring* r =
      rte_ring_create_elem(name.c_str(), elem_size, size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (r == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot create ring ", name, " (", size, " x ", elem_size,
                     " bytes): ", rte_strerror(rte_errno), "; give the EAL more memory (-m)"));
  }
  return r;
}

}  // namespace

absl::StatusOr<rte_ring*> CreateRecordRing(const std::string& prefix, unsigned index, unsigned size,
                                           int socket) {
  return Create(prefix, index, size, sizeof(record::SessionRecord), socket);
}

absl::StatusOr<rte_ring*> CreateContactRing(const std::string& prefix, unsigned index,
                                            unsigned size, int socket) {
  return Create(prefix, index, size, sizeof(record::ContactEvent), socket);
}

absl::StatusOr<rte_ring*> CreatePacketRing(const std::string& prefix, unsigned index, unsigned size,
                                           int socket) {
  return Create(prefix, index, size, sizeof(void*), socket);
}

}  // namespace flowtrail::dataplane
